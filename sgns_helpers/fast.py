"""The fast engine: blocks of consecutive centres that share their negatives (``--mode blocks``),
and worker processes that update the same weights (``--workers``).

Only the trainer and the command line import this module, and only in blocks mode; the teaching
core does not need it.

A standard SGNS step moves 1 + 1 + K rows of D numbers per (centre, context) pair and does little
arithmetic with each: it waits on memory. Blocks mode keeps the text in order and takes S
consecutive centres together. Every context any of them can have lies in the S + 2w tokens around
them (their *span*), and all S share Kb negatives, so a block touches S + (S + 2w) + Kb rows for
about S·(w + 1) pairs, and its scores and gradients are three small matrix products:

    U_blk   = W_out[span ++ negatives]              (nb, O, D),   O = S + 2w + Kb
    s       = V_blk @ U_blkᵀ                        (nb, S, O)
    g       = weight · σ(s) − label                 mask·(σ(s) − 1) on the span, n_i·K/Kb·σ(s)
                                                    on the negatives
    ∂/∂V_blk = g @ U_blk,   ∂/∂U_blk = gᵀ @ V_blk

``mask`` picks the real pairs (centre i with the span tokens at distance 1..b_i, its dynamic
window) and n_i is centre i's number of pairs: its K negatives per pair become Kb shared ones
weighted n_i·K/Kb, which keeps the expected gradient equal to standard SGNS's. The step is summed
(lr per pair) and each row's summed update is damped by n^(−d), n = how often the row occurs in
the update: as a centre; as a token of the text (once, although a token near a block's edge lies
in two spans); or as a shared negative.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .functions import log_sigmoid
from .model import check_damping, damping_factors, summing_matrix
from .sampling import dynamic_windows, subsample

#: Updates a batch. Everything about them that does not depend on the weights (indices, masks,
#: weights, the grouping of repeated rows) is planned for all of them at once.
UPDATES_PER_BATCH = 16

#: How worker processes start: None is "fork" on Linux and "spawn" elsewhere (macOS's and Windows'
#: system libraries do not survive a fork). A forked worker starts at once and shares the trainer's
#: pages until either writes them; it ends up holding a copy of each page of the trainer's heap
#: that the trainer rewrites (about 90 MB on the stand-in corpus). "forkserver" starts workers
#: from a fresh interpreter (about 30 MB each) but ran 20% slower on this machine under the
#: Makefile's malloc setting. Tests try all three.
START_METHOD = None


# ---------------------------------------------------------------------------------------------
# One batch of a chunk
# ---------------------------------------------------------------------------------------------

def prepare_blocks(chunk_ids, keep_prob, settings, rng):
    """Subsample a chunk and draw each position's dynamic window (the text order is kept).

    Returns ``(kept, reach, n_kept)``: ``(n,)`` int32 token ids and ``(n,)`` windows in 1..w."""
    kept = subsample(chunk_ids, keep_prob, rng)                              # (n,)
    reach = dynamic_windows(len(kept), settings.window, rng)                # (n,)
    return kept, reach, len(kept)


def centres_per_update(settings):
    """Centres an update: ``batch_size`` rounded down to whole blocks (at least one block)."""
    return max(1, settings.batch_size // settings.block_size) * settings.block_size


def n_steps(kept, settings):
    """Steps (batches of UPDATES_PER_BATCH updates) of a chunk with ``len(kept)`` tokens."""
    return -(-len(kept) // (centres_per_update(settings) * UPDATES_PER_BATCH))


def blocks_step(W_in, W_out, kept, reach, b, lr, rng, sampler, settings, helpers=None):
    """Batch ``b`` of a chunk: UPDATES_PER_BATCH updates, one after another, each of
    ``centres_per_update`` consecutive centres cut into blocks of S that share Kb negatives. Each
    centre sees ``window`` tokens of context on each side; ``-1`` marks a position past the
    chunk's ends, and the padding of the last, partial update. Returns ``(loss, pairs)``; the
    loss is measured before the batch's first update.

    With ``helpers`` (a :class:`WorkerPool`) the batch's updates are split into runs of text, one
    a process, which update the weights at the same time without locks (as word2vec's and
    gensim's threads do): a row that two of them touch at once may lose one update, and the
    result is no longer reproducible."""
    C, S, w = centres_per_update(settings), settings.block_size, settings.window
    start = b * C * UPDATES_PER_BATCH
    stop = min(start + C * UPDATES_PER_BATCH, len(kept))
    n_updates = -(-(stop - start) // C)
    tokens = np.full(n_updates * C + 2 * w, -1, dtype=np.int32)          # (G·C + 2w,)
    lo, hi = max(0, start - w), min(len(kept), stop + w)                 # the text available
    tokens[lo - (start - w):hi - (start - w)] = kept[lo:hi]              # padded centres stay -1
    centre_reach = np.ones(n_updates * C, dtype=reach.dtype)             # (G·C,)
    centre_reach[:stop - start] = reach[start:stop]
    negatives = sampler.sample(rng, (n_updates * C // S, settings.shared_negatives))  # (G·nb, Kb)
    parts = 1 if helpers is None else min(helpers.n + 1, n_updates)
    edges = np.linspace(0, n_updates, parts + 1).round().astype(int)     # runs of updates
    jobs = [(tokens[u0 * C:u1 * C + 2 * w], centre_reach[u0 * C:u1 * C],
             negatives[u0 * C // S:u1 * C // S], u1 - u0, settings.negatives, settings.damping, lr)
            for u0, u1 in zip(edges[:-1], edges[1:])]
    others = helpers.submit(jobs[1:]) if len(jobs) > 1 else []
    results = [block_job(W_in, W_out, *jobs[0])] + [job.result() for job in others]
    return results[0][0], sum(pairs for _, pairs in results)


def block_job(W_in, W_out, tokens, reach, negatives, updates, K, damping, lr):
    """Plan and do a run of block updates; returns ``(loss, pairs)`` (see :func:`run_block_plan`)."""
    plan = plan_blocks(tokens, reach, negatives, updates=updates, K=K, damping=damping,
                       dtype=W_in.dtype)
    return run_block_plan(W_in, W_out, plan, lr, measure_loss="first")


# ---------------------------------------------------------------------------------------------
# Planning block updates, and doing them
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BlockPlan:
    """Everything about a run of block updates that does not depend on the weights.

    Made once by :func:`plan_blocks` for G updates of nb blocks of S centres (O = S + 2w + Kb output
    rows a block), so that each update is only gathers, three matrix products and two scatters.

    Attributes:
        centre_ids: ``(G, nb, S)`` the centres' rows of W_in (padding points at row 0, unused).
        out_ids: ``(G, nb, O)`` each block's span, then its Kb shared negatives: rows of W_out.
        mask: ``(G, nb, S, S + 2w)`` bool, the real (centre, context) pairs.
        weight, label: ``(G, nb, S, O)``; ``g = weight·σ(s) − label`` is ``mask·(σ(s) − 1)`` on
            the span and ``n_i·K/Kb·σ(s)`` on the negatives.
        pairs: ``(G,)`` int, the pairs each update trains.
        scatter_in, scatter_out: for each update, ``(sums, uniq, first)``: a sparse ``(U, R)``
            matrix that adds up the update's R gradient rows by id, each id's sum damped by
            ``n^(−d)``; the U distinct ids; and for each, one of its R rows (its current value).
    """

    centre_ids: np.ndarray
    out_ids: np.ndarray
    mask: np.ndarray
    weight: np.ndarray
    label: np.ndarray
    pairs: np.ndarray
    scatter_in: list
    scatter_out: list


def plan_scatter(ids, damping, dtype, counted=None):
    """How each update's gradient rows are added up by id: ``ids`` is ``(G, R)``, ``-1`` for rows
    that get nothing. One grouping for all G updates, on the keys ``update·M + id``
    (:func:`sgns_helpers.model.summing_matrix`), then cut per update into ``(sums, uniq, first)``:
    a sparse ``(U, R)`` matrix whose row j holds ``n_j^(−d)`` at the R-rows of id ``uniq[j]``, so
    ``sums @ grads`` is the damped sum of each id's gradient rows, and ``first`` ``(U,)``, one
    R-row of each id. ``n_j`` counts the id's R-rows, or only those marked in ``counted``
    ``(G, R)`` bool (at least 1).
    """
    G, R = ids.shape
    M = int(ids.max()) + 1
    real = np.flatnonzero(ids.reshape(-1) >= 0)                           # (N,) flat positions
    keys = (real // R) * M + ids.reshape(-1)[real]                        # (N,) update-major
    S, uniq, counts, first = summing_matrix(keys, src=real, n_src=G * R, dtype=dtype)
    n = counts if counted is None else np.maximum(S @ counted.reshape(-1).astype(dtype), 1)
    S.data *= np.repeat(damping_factors(n, damping), counts).astype(dtype)
    bounds = np.searchsorted(uniq // M, np.arange(G + 1))                 # rows of each update
    plans = []
    for u in range(G):
        r0, r1 = bounds[u], bounds[u + 1]
        e0, e1 = S.indptr[r0], S.indptr[r1]
        sums = sp.csr_array((S.data[e0:e1], S.indices[e0:e1] - u * R, S.indptr[r0:r1 + 1] - e0),
                            shape=(r1 - r0, R))
        plans.append((sums, uniq[r0:r1] - u * M, real[first[r0:r1]] - u * R))
    return plans


def plan_blocks(tokens, reach, shared_negatives, *, updates=1, K, damping=0.5, dtype=np.float32):
    """Plan ``updates`` consecutive block updates over a stretch of text (see :func:`block_step`).

    ``tokens`` holds ``window`` tokens of left context, the G·nb·S centres, then ``window`` tokens
    of right context (``-1``: no token). Update u takes blocks ``u·nb .. (u+1)·nb − 1``; block j
    is the S centres at ``window + jS ..`` and its span is ``tokens[jS : jS + S + 2·window]``.

    Args:
        tokens: ``(G·nb·S + 2w,)`` int ids.  reach: ``(G·nb·S,)`` each centre's window in 1..w.
        shared_negatives: ``(G·nb, Kb)`` ids.  updates: G.  K: negatives a pair stands for.
        damping: d ≥ 0 (see :func:`sgns_helpers.model.sgd_step`).  dtype: the weights' dtype.
    """
    tokens, reach = np.asarray(tokens), np.asarray(reach)
    shared_negatives = np.asarray(shared_negatives)
    n_blocks, Kb = shared_negatives.shape
    C, G = reach.shape[0], updates
    w2 = tokens.shape[0] - C                                              # 2·window
    if C == 0 or G < 1 or n_blocks % G or C % n_blocks or w2 < 0 or w2 % 2:
        raise ValueError(f"{C} centres in {tokens.shape[0]} tokens cannot be cut into "
                         f"{G} updates of {n_blocks // max(G, 1)} blocks")
    check_damping(damping)
    S, w, nb = C // n_blocks, w2 // 2, n_blocks // G
    O = S + w2 + Kb

    centre_ids = tokens[w:w + C].reshape(n_blocks, S)                     # (G·nb, S)
    span_pos = S * np.arange(n_blocks)[:, None] + np.arange(S + w2)       # (G·nb, S + 2w)
    out_ids = np.concatenate((tokens[span_pos], shared_negatives), axis=1)   # (G·nb, O)
    # Centre i of a block sits at span position i + w; it pairs with distance 1..reach[i].
    dist = np.abs(np.arange(S + w2)[None, :] - np.arange(S)[:, None] - w)   # (S, S + 2w)
    mask = (dist >= 1) & (dist <= reach.reshape(n_blocks, S)[:, :, None])  # (G·nb, S, S + 2w)
    mask &= (centre_ids >= 0)[:, :, None] & (out_ids[:, None, :S + w2] >= 0)
    n_pairs = mask.sum(axis=2)                                              # (G·nb, S)

    weight = np.empty((n_blocks, S, O), dtype=dtype)                      # (G·nb, S, O)
    weight[:, :, :S + w2] = mask
    weight[:, :, S + w2:] = (n_pairs * (K / Kb))[:, :, None]              # n_i·K/Kb
    label = np.zeros_like(weight)
    label[:, :, :S + w2] = mask

    # Rows that get no gradient stay out of the scatter (and out of the damping counts):
    # padding, and the negatives of a block without a single pair.
    in_rows = centre_ids.reshape(G, nb * S)
    out_rows = out_ids.copy()
    out_rows[n_pairs.sum(axis=1) == 0, S + w2:] = -1
    # The damping counts occurrences in the text: a token in the overlap of two spans is one
    # occurrence, counted in the block where it is among the first S (or in the update's last).
    counted = np.ones((G, nb, O), dtype=bool)
    counted[:, :-1, S:S + w2] = False                                     # (G, nb, O)
    return BlockPlan(
        centre_ids=np.maximum(centre_ids, 0).reshape(G, nb, S),
        out_ids=np.maximum(out_ids, 0).reshape(G, nb, O),
        mask=mask.reshape(G, nb, S, S + w2),
        weight=weight.reshape(G, nb, S, O), label=label.reshape(G, nb, S, O),
        pairs=n_pairs.reshape(G, -1).sum(axis=1),
        scatter_in=plan_scatter(in_rows, damping, dtype),
        scatter_out=plan_scatter(out_rows.reshape(G, nb * O), damping, dtype,
                                 counted.reshape(G, nb * O)))


def run_block_plan(W_in, W_out, plan, lr, measure_loss=True):
    """Do the updates of ``plan`` in order, in place; returns ``(loss, pairs)``.

    ``loss`` is the mean per-pair loss before each update (with the weighting), or before the
    first update only when ``measure_loss`` is ``"first"``; ``pairs`` counts all the pairs.
    The arrays of an update are made once and reused by every update of the plan.
    """
    G, nb, S, O = plan.weight.shape
    D, dtype = W_in.shape[1], W_in.dtype
    V_blk, g_V = np.empty((nb, S, D), dtype), np.empty((nb, S, D), dtype)
    U_blk, g_U = np.empty((nb, O, D), dtype), np.empty((nb, O, D), dtype)
    s, g = np.empty((nb, S, O), dtype), np.empty((nb, S, O), dtype)
    loss_sum, loss_pairs = 0.0, 0
    for u in range(G):
        if plan.pairs[u] == 0:
            continue
        np.take(W_in, plan.centre_ids[u], axis=0, out=V_blk)                # (nb, S, D)
        np.take(W_out, plan.out_ids[u], axis=0, out=U_blk)                  # (nb, O, D)
        np.matmul(V_blk, U_blk.transpose(0, 2, 1), out=s)                   # (nb, S, O) scores
        weight, label = plan.weight[u], plan.label[u]
        if measure_loss is True or (measure_loss == "first" and loss_pairs == 0):
            # −label·log σ(s) − (weight − label)·log σ(−s), with log σ(−s) = log σ(s) − s
            loss_sum += (np.sum((weight - label) * s, dtype=np.float64)
                         - np.sum(weight * log_sigmoid(s), dtype=np.float64))
            loss_pairs += int(plan.pairs[u])
        # g = weight·σ(s) − label with σ(s) = (1 + tanh(s/2))/2: one ufunc, no overflow, and
        # fewer passes over the scores than sgns_helpers.functions.sigmoid's exp form
        np.multiply(s, 0.5, out=g)
        np.tanh(g, out=g)
        g += 1
        g *= weight
        g *= 0.5
        g -= label                                                          # (nb, S, O)
        np.matmul(g, U_blk, out=g_V)                                        # ∂L/∂V_blk
        np.matmul(g.transpose(0, 2, 1), V_blk, out=g_U)                     # ∂L/∂U_blk
        for W, rows, grads, (sums, uniq, first) in (
                (W_in, V_blk, g_V, plan.scatter_in[u]), (W_out, U_blk, g_U, plan.scatter_out[u])):
            if uniq.size:
                W[uniq] = rows.reshape(-1, D)[first] - lr * (sums @ grads.reshape(-1, D))
    return float(loss_sum) / max(loss_pairs, 1), int(plan.pairs.sum())


def block_step(W_in, W_out, tokens, reach, shared_negatives, lr, *, K, damping=0.5):
    """One SGD step over a run of consecutive centres, cut into blocks that share their negatives
    (the module's docstring has the formulas): one update of :func:`plan_blocks` +
    :func:`run_block_plan`, which the trainer calls for many updates at a time.

    Args:
        W_in, W_out: ``(V, D)`` float arrays, updated in place.
        tokens: ``(nb·S + 2·window,)`` int ids, ``-1`` for padding: ``window`` tokens of context
            on the left, the nb·S centres, ``window`` tokens on the right.
        reach: ``(nb·S,)`` each centre's window b in 1..window.
        shared_negatives: ``(nb, Kb)`` ids.
        lr: the learning rate (per pair).
        K: the negatives per pair that the weighting stands for.
        damping: d ≥ 0.

    Returns:
        ``(loss, pairs)``: the mean per-pair loss before the step (with the weighting) as a
        Python float, and the number of (centre, context) pairs the step trained.
    """
    return block_job(W_in, W_out, tokens, reach, shared_negatives, 1, K, damping, lr)


# ---------------------------------------------------------------------------------------------
# Worker processes
# ---------------------------------------------------------------------------------------------

class WorkerPool:
    """``n`` worker processes that do block updates on the trainer's weights in shared memory.

    Threads would be the natural choice, but a block update is some thirty NumPy calls on small
    arrays, and two threads spend their time waiting for each other's hold on Python's global
    interpreter lock (measured: two threads were slower than one). Processes have no such lock.
    The pool moves the trainer's ``W_in`` and ``W_out`` into shared memory (anonymous: nothing is
    left behind however the run ends), where they stay after ``close`` stops the processes: once
    the workers are gone it is the trainer's own memory, and a copy back would hold the weights
    twice for a moment. A worker ends by itself if the trainer dies.
    """

    def __init__(self, trainer, n):
        self.n, self.trainer = n, trainer
        context = multiprocessing.get_context(
            START_METHOD or ("fork" if sys.platform.startswith("linux") else "spawn"))
        shared = []
        for name in ("W_in", "W_out"):
            W = getattr(trainer, name)
            raw = context.RawArray("b", W.nbytes)                 # zeroed shared bytes
            view = np.frombuffer(raw, dtype=W.dtype).reshape(W.shape)
            view[...] = W
            setattr(trainer, name, view)
            shared.append(raw)
        self.pool = ProcessPoolExecutor(n, mp_context=context, initializer=_attach,
                                        initargs=(shared, W.shape, W.dtype.str))
        self.pool.submit(int).result()        # start the processes now, and fail here if they cannot

    def submit(self, jobs):
        """Start each job (the arguments of :func:`block_job` after the weights); returns futures."""
        return [self.pool.submit(_worker_job, *job) for job in jobs]

    def close(self):
        """Stop the processes (the weights stay where they are)."""
        pids = [p.pid for p in multiprocessing.active_children()]
        private = [_private_mb(pid) for pid in pids]
        known = [mb for mb in private if mb is not None]
        self.trainer.workers_private_mb = sum(known) if known else None
        self.pool.shutdown(wait=True, cancel_futures=True)


_WEIGHTS = []      # in a worker process: W_in and W_out, views of the trainer's shared memory


def _attach(shared, shape, dtype):
    """A worker's start: see the shared weights, leave Ctrl-C to the trainer, and end when the
    trainer does (a killed trainer would otherwise leave its workers running)."""
    _WEIGHTS[:] = [np.frombuffer(raw, dtype=dtype).reshape(shape) for raw in shared]
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    np.seterr(over="ignore", invalid="ignore")                # the trainer checks for divergence
    parent = multiprocessing.parent_process()
    threading.Thread(target=lambda: (parent.join(), os._exit(1)), daemon=True).start()


def _worker_job(*job):
    return block_job(*_WEIGHTS, *job)


def _private_mb(pid):
    """Private memory of process ``pid`` (the pages no other process maps), in MB; None where
    Linux's /proc does not tell. A forked worker shares the trainer's pages, and its resident
    size counts them again; its private memory is what it adds."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        return sum(int(fields[k].split()[0]) for k in ("Private_Clean", "Private_Dirty")) / 2**10
    except (OSError, KeyError, ValueError):
        return None

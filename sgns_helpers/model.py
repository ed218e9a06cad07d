"""The SGNS loss and its gradients.

Notation (as in the notebooks): the centre word w has input vector ``v_w`` (a row of ``W_in``);
the true context c has output vector ``u_c`` and the K negatives n_1..n_K have output vectors
``U_neg`` (rows of ``W_out``). Scores are ``s_pos = u_c · v_w`` and ``s_neg[k] = u_{n_k} · v_w``.
The loss of one example is

    L = −log σ(s_pos) − Σ_k log σ(−s_neg[k])

and with ``g_pos = ∂L/∂s_pos = σ(s_pos) − 1`` and ``g_neg[k] = ∂L/∂s_neg[k] = σ(s_neg[k])``:

    ∂L/∂v_w = g_pos · u_c + Σ_k g_neg[k] · u_{n_k}
    ∂L/∂u_c = g_pos · v_w
    ∂L/∂u_{n_k} = g_neg[k] · v_w

Every function here returns the true gradient ∂L/∂(·), so a descent step is ``W -= lr * grad``.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

try:        # the kernel behind ``csr_array @ dense``: calling it directly skips ~0.05 ms of checks
    from scipy.sparse._sparsetools import csr_matvecs as _csr_matvecs
except ImportError:         # pragma: no cover - a SciPy that moved it: use the public route
    _csr_matvecs = None

from .functions import log_sigmoid, sigmoid


def example_loss_and_grads(v_w, u_c, U_neg):
    """Loss and gradients of one SGNS example.

    Args:
        v_w: ``(D,)`` input vector of the centre word.
        u_c: ``(D,)`` output vector of the true context word.
        U_neg: ``(K, D)`` output vectors of the K negative samples.

    Returns:
        ``(loss, g_v_w, g_u_c, g_U_neg)``: the scalar loss and ∂L/∂v_w ``(D,)``, ∂L/∂u_c ``(D,)``,
        ∂L/∂U_neg ``(K, D)``, all in the inputs' float dtype. The arguments are treated as separate
        variables: if a negative is the same word as the context, that word's total gradient is
        ``g_u_c + g_U_neg[k]`` (the caller adds them when scattering into ``W_out``).
    """
    v_w, u_c, U_neg = np.asarray(v_w), np.asarray(u_c), np.asarray(U_neg)
    if v_w.ndim != 1 or u_c.shape != v_w.shape or U_neg.ndim != 2 or U_neg.shape[1] != v_w.shape[0]:
        raise ValueError(
            f"expected v_w (D,), u_c (D,), U_neg (K, D); got {v_w.shape}, {u_c.shape}, {U_neg.shape}"
        )
    s_pos = u_c @ v_w                      # ()
    s_neg = U_neg @ v_w                    # (K,)
    loss = -log_sigmoid(s_pos) - np.sum(log_sigmoid(-s_neg))

    g_pos = sigmoid(s_pos) - 1             # ∂L/∂s_pos, in (−1, 0)
    g_neg = sigmoid(s_neg)                 # ∂L/∂s_neg, (K,), in (0, 1)

    g_v_w = g_pos * u_c + g_neg @ U_neg    # (D,)
    g_u_c = g_pos * v_w                    # (D,)
    g_U_neg = np.outer(g_neg, v_w)         # (K, D)
    return loss, g_v_w, g_u_c, g_U_neg


# --------------------------------------------------------------------------------------------
# A batch of B examples
# --------------------------------------------------------------------------------------------

def _check_batch(W_in, W_out, centers, contexts, negatives):
    """Validate a batch; return ``(centers, contexts, negatives)`` as integer arrays."""
    if not (isinstance(W_in, np.ndarray) and isinstance(W_out, np.ndarray)):
        raise ValueError("W_in and W_out must be numpy arrays of shape (V, D)")
    if W_in.ndim != 2 or W_in.shape != W_out.shape:
        raise ValueError(f"W_in and W_out must both be (V, D); got {W_in.shape} and {W_out.shape}")
    if W_in.dtype != W_out.dtype or not np.issubdtype(W_in.dtype, np.floating):
        raise ValueError(f"W_in and W_out must share one float dtype; "
                         f"got {W_in.dtype} and {W_out.dtype}")
    centers, contexts, negatives = np.asarray(centers), np.asarray(contexts), np.asarray(negatives)
    if centers.ndim != 1 or contexts.shape != centers.shape or negatives.ndim != 2 \
            or negatives.shape[0] != centers.shape[0]:
        raise ValueError(f"expected centers (B,), contexts (B,), negatives (B, K); "
                         f"got {centers.shape}, {contexts.shape}, {negatives.shape}")
    V = W_in.shape[0]
    for name, ids in (("centers", centers), ("contexts", contexts), ("negatives", negatives)):
        if not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"{name} must hold integer word ids, got dtype {ids.dtype}")
        if ids.size and (ids.min() < 0 or ids.max() >= V):
            raise ValueError(f"{name} holds ids outside 0..{V - 1}: "
                             f"min {ids.min()}, max {ids.max()}")
    return centers, contexts, negatives


def loss_and_grads(W_in, W_out, centers, contexts, negatives):
    """Mean SGNS loss of a batch and its dense gradients with respect to both matrices.

    Example b has centre ``centers[b]``, context ``contexts[b]`` and negatives ``negatives[b]``.
    The batch loss is the MEAN over b of the per-example loss of ``example_loss_and_grads``.

    Args:
        W_in, W_out: ``(V, D)`` float arrays (one dtype), the input and output vectors.
        centers, contexts: ``(B,)`` integer ids in ``0..V-1``.
        negatives: ``(B, K)`` integer ids.

    Returns:
        ``(loss, dW_in, dW_out)``: ``loss`` a Python float; ``dW_in``, ``dW_out`` dense ``(V, D)``
        arrays in the matrices' dtype holding ∂loss/∂W_in and ∂loss/∂W_out (so they carry the
        1/B of the mean). Every occurrence of an id adds its share (``np.add.at``): a centre that
        repeats, a word that is one example's context and another's negative, a negative drawn
        twice, a negative equal to its own context.
    """
    centers, contexts, negatives = _check_batch(W_in, W_out, centers, contexts, negatives)
    B = centers.shape[0]
    v_w = W_in[centers]                                 # (B, D)
    u_c = W_out[contexts]                               # (B, D)
    U_neg = W_out[negatives]                            # (B, K, D)

    s_pos = np.einsum("bd,bd->b", u_c, v_w)             # (B,)
    s_neg = np.einsum("bkd,bd->bk", U_neg, v_w)         # (B, K)
    loss = -(np.sum(log_sigmoid(s_pos), dtype=np.float64)
             + np.sum(log_sigmoid(-s_neg), dtype=np.float64)) / B

    # ∂loss/∂score: the per-example values of example_loss_and_grads, times 1/B from the mean.
    g_pos = (sigmoid(s_pos) - 1) / B                    # (B,)
    g_neg = sigmoid(s_neg) / B                          # (B, K)

    g_v_w = g_pos[:, None] * u_c + np.einsum("bk,bkd->bd", g_neg, U_neg)   # (B, D)
    g_u_c = g_pos[:, None] * v_w                        # (B, D)
    g_U_neg = g_neg[:, :, None] * v_w[:, None, :]       # (B, K, D)

    dW_in = np.zeros_like(W_in)                         # (V, D)
    dW_out = np.zeros_like(W_out)                       # (V, D)
    np.add.at(dW_in, centers, g_v_w)                    # repeated centres accumulate
    np.add.at(dW_out, contexts, g_u_c)                  # repeated contexts accumulate ...
    np.add.at(dW_out, negatives, g_U_neg)               # ... and negatives, onto the same rows
    return float(loss), dW_in, dW_out


# --------------------------------------------------------------------------------------------
# The in-place update of the training loop
# --------------------------------------------------------------------------------------------

#: Ways to add up the update rows of repeated ids; all give the same result (to rounding).
SCATTER_STRATEGIES = ("add.at", "bincount", "reduceat", "sparse")
#: The fastest on the development machine for B ≈ 1024, K = 5, D = 100, V ≈ 70,000, float32
#: (re-measure with benchmarks/bench_scatter.py).
DEFAULT_SCATTER = "sparse"

_scratch = threading.local()


def _buffer(name, shape, dtype):
    """A reusable, uninitialised scratch array of ``shape``, one set per thread.

    A step needs several MB of temporaries. Fresh large allocations come from the operating
    system as new pages that must be faulted in on first touch, which here cost more than the
    arithmetic; reusing the same buffers every step avoids that. The result is only valid until
    the next call with the same ``name``.
    """
    buffers = getattr(_scratch, "buffers", None)
    if buffers is None:
        buffers = _scratch.buffers = {}
    dtype = np.dtype(dtype)
    size = int(np.prod(shape))
    flat = buffers.get((name, dtype))
    if flat is None or flat.size < size:
        flat = buffers[(name, dtype)] = np.empty(size, dtype=dtype)
    return flat[:size].reshape(shape)


def _group(ids):
    """Group the equal ids of ``ids`` (N,) without a comparison sort.

    Writes each position into a table indexed by id, so that reading the table back gives every
    position one representative position of its id; the representatives that point to themselves
    list the distinct ids (in order of position). The positions are then sorted by the number of
    their id's run with a stable sort of small integers (a radix sort in NumPy). The table needs no
    clearing: every entry that is read was written in this call.

    Returns:
        ``(order, starts, uniq, counts)``: ``ids[order]`` has equal ids next to each other, in
        runs ordered by where each id is represented; run j starts at position ``starts[j]`` of
        that order, holds the id ``uniq[j]`` and has length ``counts[j]``. Within a run the
        positions keep their order.
    """
    N = ids.shape[0]
    size = int(ids.max()) + 1 if N else 0
    slot = _buffer("slot", (size,), np.int32)                            # id → a position
    positions = np.arange(N, dtype=np.int32)
    slot[ids] = positions
    rep = slot[ids]                                                      # (N,) same for equal ids
    owners = np.flatnonzero(rep == positions)                            # (U,) one per id
    U = owners.shape[0]
    run_of = _buffer("run_of", (N,), np.int32)
    run_of[owners] = np.arange(U, dtype=np.int32)
    run = run_of[rep]                                                    # (N,) run of each id
    order = np.argsort(run.astype(np.int16) if U <= np.iinfo(np.int16).max else run,
                       kind="stable")                                    # (N,)
    counts = np.bincount(run, minlength=U)                               # (U,)
    starts = np.zeros(U, dtype=np.intp)
    np.cumsum(counts[:-1], out=starts[1:])
    return order, starts, ids[owners], counts


def _row_sums(scatter, ids, X, weights=None, src=None):
    """Add up weighted rows by id: ``Y[j] = Σ_{i: ids[i] == uniq[j]} weights[i] · X[src[i]]``.

    Args:
        scatter: one of ``SCATTER_STRATEGIES``.
        ids: ``(N,)`` integer ids (repeats allowed).
        X: ``(M, D)`` source rows.
        weights: ``(N,)`` or None (all ones).
        src: ``(N,)`` indices into X, or None (``src[i] = i``, so M = N).

    Returns:
        ``(uniq, counts, first, Y)``: the distinct ids ``(U,)`` (in no particular order), how often each
        occurs ``(U,)``, a position in ``ids`` of each ``(U,)``, and the sums ``(U, D)``, a new
        array (float64 for "bincount", X's dtype otherwise).
    """
    N, D = ids.shape[0], X.shape[1]
    order, starts, uniq, counts = _group(ids)
    U = uniq.shape[0]
    cols = order if src is None else src[order]                          # (N,) rows of X, by id
    data = None if weights is None else weights[order]                   # (N,) their weights
    if scatter == "sparse":
        # A (U, M) matrix in CSR form: row j holds the weights of id uniq[j] at the columns of
        # their source rows; the runs of the sort are exactly its rows. Duplicates add up.
        if data is None:
            data = np.ones(N, dtype=X.dtype)
        return uniq, counts, order[starts], _csr_times(data, cols, np.append(starts, N), X)

    rows = np.take(X, cols, axis=0, mode="clip", out=_buffer("rows", (N, D), X.dtype))  # (N, D)
    if data is not None:
        rows *= data[:, None]
    if scatter == "reduceat":
        # The rows of one id are adjacent: reduceat sums each run.
        Y = np.add.reduceat(rows, starts, axis=0)
    else:
        run = np.repeat(np.arange(U), counts)                            # (N,) run of each row
        if scatter == "bincount":
            # Flatten: entry (i, d) goes to bin run[i]·D + d; bincount adds the weights per bin.
            bins = _buffer("bins", (N, D), np.intp)                      # (N, D) → N·D bins
            np.add(np.multiply(run, D)[:, None], np.arange(D), out=bins)
            weights64 = _buffer("weights64", (N, D), np.float64)         # bincount adds in float64
            weights64[...] = rows
            Y = np.bincount(bins.reshape(-1), weights=weights64.reshape(-1),
                            minlength=U * D).reshape(U, D)
        else:                                                            # "add.at"
            Y = np.zeros((U, D), dtype=X.dtype)
            np.add.at(Y, run, rows)
    return uniq, counts, order[starts], Y


def _csr_times(data, cols, indptr, X):
    """``A @ X`` for the (U, M) sparse matrix A given in CSR form; ``X`` (M, D) → (U, D).

    Row j of A holds ``data[indptr[j]:indptr[j+1]]`` at the columns ``cols[indptr[j]:indptr[j+1]]``
    (``cols`` and ``indptr`` of one integer dtype, ``data`` of X's dtype). This is what
    ``scipy.sparse.csr_array((data, cols, indptr)) @ X`` computes, with the same kernel and so the
    same bits, minus the constructor's checks, which cost more than the product at these sizes.
    """
    U, (M, D) = indptr.shape[0] - 1, X.shape
    if _csr_matvecs is None or data.dtype != X.dtype or cols.dtype != indptr.dtype:
        return sp.csr_array((data, cols, indptr), shape=(U, M)) @ X
    Y = np.zeros((U, D), dtype=X.dtype)
    _csr_matvecs(U, M, D, indptr, cols, data, np.ascontiguousarray(X).reshape(-1), Y.reshape(-1))
    return Y


_damping_tables = {}


def _damping_factors(counts, damping):
    """``counts ** -damping`` (float64) for integer counts ≥ 1, read from a table of n^(−d).

    A power costs far more than a table lookup, and counts repeat: the table (one per damping,
    grown as needed) holds exactly the values the power would give.
    """
    n = int(counts.max()) + 1 if counts.size else 1
    table = _damping_tables.get(damping)
    if table is None or table.shape[0] < n:
        size = max(n, 4096)
        table = np.ones(size)
        table[1:] = np.arange(1, size, dtype=np.int64) ** -float(damping)
        _damping_tables[damping] = table
    return table[counts]


def _records(A):
    """The rows of a C-contiguous (N, D) array seen as N opaque records of D numbers, (N,).

    ``W[ids] = rows`` copies a float matrix element by element; on records it copies each row with
    one memcpy, the same bytes in about two thirds of the time.
    """
    return A.view(np.dtype((np.void, A.shape[1] * A.itemsize))).reshape(A.shape[0])


def _apply_step(W, uniq, counts, Y, lr, damping, current):
    """``W[uniq] -= lr · counts^(−damping) · Y`` in place, touching only the rows in ``uniq``.

    ``current`` (U, D) holds the present values of ``W[uniq]``, taken from the rows the step
    gathered at its start (likely still in cache) rather than read from ``W`` again; it and ``Y``
    are modified in place.
    """
    Y *= lr if damping == 0 else (lr * _damping_factors(counts, damping)).astype(Y.dtype)[:, None]
    current -= Y
    if W.flags.c_contiguous and current.flags.c_contiguous:
        _records(W)[uniq] = _records(current)
    else:
        W[uniq] = current


def sgd_step(W_in, W_out, centers, contexts, negatives, lr, *, scatter=DEFAULT_SCATTER,
             damping=0.0, check=True):
    """One SGD step on a batch, in place, with word2vec's SUM scaling; returns the loss before it.

    Each example gets a step of ``lr`` on its own loss (as word2vec's C code and gensim do), so
    with ``damping=0`` the result equals ``W − lr · B · dW`` with ``dW`` from ``loss_and_grads``.
    Only the rows that occur in the batch are read and written; no (V, D) temporary is made, and
    the large per-step temporaries live in reused scratch buffers (one set per thread).

    Args:
        W_in, W_out: ``(V, D)`` float32 or float64 arrays (one dtype), updated in place.
        centers, contexts: ``(B,)`` integer ids; negatives: ``(B, K)`` integer ids.
        lr: the learning rate (step per example).
        scatter: how repeated ids are added up, one of ``SCATTER_STRATEGIES``; same result.
        damping: d ≥ 0. The summed update of a row that occurs n times in this step (among the
            centres for ``W_in``; among contexts and negatives together for ``W_out``) is
            multiplied by n^(−d): 0 keeps the plain sum, 0.5 divides by √n, 1 takes the mean.
        check: False skips validating the arguments (about 0.07 ms a step), for a caller whose
            batches are right by construction, such as the trainer. Ids out of range would then
            be clipped silently.

    Returns:
        The batch's mean per-example loss before the step, a Python float.
    """
    if check:
        centers, contexts, negatives = _check_batch(W_in, W_out, centers, contexts, negatives)
        if scatter not in SCATTER_STRATEGIES:
            raise ValueError(f"unknown scatter strategy {scatter!r}; "
                             f"choose one of {SCATTER_STRATEGIES}")
        if not (np.isfinite(damping) and damping >= 0):
            raise ValueError(f"damping must be a finite number >= 0, got {damping!r}")
        if not np.isfinite(lr):
            raise ValueError(f"the learning rate must be a finite number, got {lr!r}")
        if np.may_share_memory(W_in, W_out):
            raise ValueError("W_in and W_out must be two separate arrays (copy one of them)")
    B, K = negatives.shape
    if B == 0:
        return 0.0
    D, dtype = W_in.shape[1], W_in.dtype

    # Column 0 is the context, columns 1..K the negatives: one gather and one scatter for W_out.
    out_ids = _buffer("out_ids", (B, K + 1), negatives.dtype)            # (B, K+1)
    out_ids[:, 0], out_ids[:, 1:] = contexts, negatives
    # (np.take with out= copies through a temporary unless mode is "clip"; the ids are in range.)
    v_w = np.take(W_in, centers, axis=0, mode="clip",
                  out=_buffer("v_w", (B, D), dtype))                     # (B, D)
    U_out = np.take(W_out, out_ids, axis=0, mode="clip",
                    out=_buffer("U_out", (B, K + 1, D), dtype))          # (B, K+1, D)
    s = np.matmul(U_out, v_w[:, :, None])[:, :, 0]                       # (B, K+1): s_pos | s_neg
    loss = -(np.sum(log_sigmoid(s[:, 0]), dtype=np.float64)
             + np.sum(log_sigmoid(-s[:, 1:]), dtype=np.float64)) / B

    g = sigmoid(s)                                                       # (B, K+1), W's dtype
    g[:, 0] -= 1                                                         # g_pos | g_neg
    g_v_w = _buffer("g_v_w", (B, D), dtype)             # (B, D) each example's ∂L/∂v_w
    np.matmul(g[:, None, :], U_out, out=g_v_w[:, None, :])

    # W_in: row centers[b] gets g_v_w[b].  W_out: row out_ids[b, k] gets g[b, k] · v_w[b].
    # The current values of the rows that change are taken from v_w and U_out (gathered above).
    uniq, counts, first, Y = _row_sums(scatter, centers, g_v_w)
    current = np.take(v_w, first, axis=0, mode="clip", out=_buffer("current", Y.shape, dtype))
    _apply_step(W_in, uniq, counts, Y, lr, damping, current)
    uniq, counts, first, Y = _row_sums(scatter, out_ids.reshape(-1), v_w, weights=g.reshape(-1),
                                       src=np.repeat(np.arange(B), K + 1))
    current = np.take(U_out.reshape(-1, D), first, axis=0, mode="clip",
                      out=_buffer("current", Y.shape, dtype))
    _apply_step(W_out, uniq, counts, Y, lr, damping, current)
    return float(loss)


# --------------------------------------------------------------------------------------------
# The block update: consecutive centres that share their negatives
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BlockPlan:
    """Everything about a run of block updates that does not depend on the weights.

    Made once by :func:`plan_blocks` for G updates of nb blocks of S centres (O = S + 2w + Kb output
    rows a block), so that each update is only gathers, three matrix products and two scatters.

    Attributes:
        centre_ids: ``(G, nb, S)`` the centres' rows of W_in (padding points at row 0, unused).
        out_ids: ``(G, nb, O)`` each block's span, then its Kb shared negatives: rows of W_out.
        mask: ``(G, nb, S, S + 2w)`` bool, the real (centre, context) pairs.
        half_weight, offset: ``(G, nb, S, O)`` so that ``g = half_weight·tanh(s/2) + offset``
            equals ``mask·(σ(s) − 1)`` on the span and ``weight·σ(s)`` on the negatives.
        pairs: ``(G,)`` int, the pairs each update trains.
        scatter_in, scatter_out: for each update, ``(sums, uniq, first)``: a sparse ``(U, R)``
            matrix that adds up the update's R gradient rows by id, each id's sum damped by
            ``n^(−d)``; the U distinct ids; and for each, one of its R rows (its current value).
    """

    centre_ids: np.ndarray
    out_ids: np.ndarray
    mask: np.ndarray
    half_weight: np.ndarray
    offset: np.ndarray
    pairs: np.ndarray
    scatter_in: list
    scatter_out: list


def _plan_scatter(ids, damping, dtype, counted=None):
    """How each update's gradient rows are added up by id: ``ids`` is ``(G, R)``, ``-1`` for rows
    that get nothing. One grouping for all G updates, on the keys ``update·M + id``, then cut per
    update into ``(sums, uniq, first)``: a sparse ``(U, R)`` matrix whose row j holds ``n_j^(−d)``
    at the R-rows of id ``uniq[j]``, so ``sums @ grads`` is the damped sum of each id's gradient
    rows, and ``first`` ``(U,)``, one R-row of each id. ``n_j`` counts the id's R-rows, or only
    those marked in ``counted`` ``(G, R)`` bool (at least 1).
    """
    G, R = ids.shape
    M = int(ids.max()) + 1 if ids.size else 1
    flat = np.flatnonzero(ids.reshape(-1) >= 0).astype(np.int32)         # (N,) real positions
    keys = (flat // R) * M + ids.reshape(-1)[flat]                        # (N,) update-major
    order, starts, uniq, counts = _group(keys)                          # runs update-major
    sorted_pos = flat[order]                                              # (N,)
    bounds = np.searchsorted(sorted_pos[starts] // R, np.arange(G + 1))   # runs of each update
    ends = np.append(starts, len(flat))
    n = counts
    if counted is not None and len(flat):
        run = np.repeat(np.arange(len(counts)), counts)                   # (N,) run of each
        n = np.maximum(np.bincount(run, weights=counted.reshape(-1)[sorted_pos],
                                   minlength=len(counts)), 1)
    weights = np.repeat(_damping_factors(n.astype(np.intp), damping).astype(dtype), counts)
    plans = []
    for u in range(G):
        r0, r1 = bounds[u], bounds[u + 1]
        e0, e1 = ends[r0], ends[r1]
        cols = sorted_pos[e0:e1] - u * R                                  # rows of this update
        sums = sp.csr_array((weights[e0:e1], cols, (ends[r0:r1 + 1] - e0).astype(np.int32)),
                            shape=(r1 - r0, R))
        plans.append((sums, uniq[r0:r1] - u * M, cols[starts[r0:r1] - e0]))
    return plans


def plan_blocks(tokens, reach, shared_negatives, *, updates=1, K, damping=0.5, dtype=np.float32):
    """Plan ``updates`` consecutive block updates over a stretch of text (see :func:`block_step`).

    ``tokens`` holds ``window`` tokens of left context, the G·nb·S centres, then ``window`` tokens
    of right context (``-1``: no token). Update u takes blocks ``u·nb .. (u+1)·nb − 1``; block j
    is the S centres at ``window + jS ..`` and its span is ``tokens[jS : jS + S + 2·window]``.

    Args:
        tokens: ``(G·nb·S + 2w,)`` int ids.  reach: ``(G·nb·S,)`` each centre's window in 1..w.
        shared_negatives: ``(G·nb, Kb)`` ids.  updates: G.  K: negatives a pair stands for.
        damping: d ≥ 0 (see :func:`sgd_step`).  dtype: the weights' dtype.
    """
    tokens, reach = np.asarray(tokens), np.asarray(reach)
    shared_negatives = np.asarray(shared_negatives)
    n_blocks, Kb = shared_negatives.shape
    C, G = reach.shape[0], updates
    w2 = tokens.shape[0] - C                                              # 2·window
    if C == 0 or G < 1 or n_blocks % G or C % n_blocks or w2 < 0 or w2 % 2:
        raise ValueError(f"{C} centres in {tokens.shape[0]} tokens cannot be cut into "
                         f"{G} updates of {n_blocks // max(G, 1)} blocks")
    if not (np.isfinite(damping) and damping >= 0):
        raise ValueError(f"damping must be a finite number >= 0, got {damping!r}")
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
    weight = n_pairs * (K / Kb)                                             # (G·nb, S)

    # g = M·σ(s) − P with M = [mask | weight] and P = [mask | 0]; as σ(s) = (1 + tanh(s/2))/2,
    # g = (M/2)·tanh(s/2) + (M/2 − P): −mask/2 on the span, +weight/2 on the negatives.
    half_weight = np.empty((n_blocks, S, O), dtype=dtype)
    np.multiply(mask, 0.5, out=half_weight[:, :, :S + w2])
    np.multiply(weight[:, :, None], 0.5, out=half_weight[:, :, S + w2:])
    offset = np.empty_like(half_weight)
    np.multiply(mask, -0.5, out=offset[:, :, :S + w2])
    offset[:, :, S + w2:] = half_weight[:, :, S + w2:]

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
        half_weight=half_weight.reshape(G, nb, S, O), offset=offset.reshape(G, nb, S, O),
        pairs=n_pairs.reshape(G, -1).sum(axis=1),
        scatter_in=_plan_scatter(in_rows, damping, dtype),
        scatter_out=_plan_scatter(out_rows.reshape(G, nb * O), damping, dtype,
                                  counted.reshape(G, nb * O)))


def _scatter_step(W, rows, grads, plan, lr, current):
    """``W[uniq] = rows[first] − lr·(damped sum of each id's grads)`` for one update (see BlockPlan).

    ``current`` is scratch space of at least ``(U, D)``."""
    sums, uniq, first = plan
    if uniq.shape[0] == 0:
        return
    Y = _csr_times(sums.data, sums.indices, sums.indptr, grads)           # (U, D), damped
    current = np.take(rows, first, axis=0, mode="clip", out=current[:Y.shape[0]])
    _apply_step(W, uniq, None, Y, lr, 0.0, current)


def run_block_plan(W_in, W_out, plan, lr, first=0, stop=None, measure_loss=True):
    """Do updates ``first .. stop − 1`` of ``plan`` in order, in place; returns ``(loss, pairs)``.

    ``loss`` is the mean per-pair loss of the updates before each of them (with the weighting), or
    of the first update only when ``measure_loss`` is ``"first"``; ``pairs`` counts all the pairs.
    """
    stop = plan.pairs.shape[0] if stop is None else stop
    nb, S = plan.centre_ids.shape[1:]
    O, D, dtype = plan.out_ids.shape[2], W_in.shape[1], W_in.dtype
    n_span = plan.mask.shape[3]                                             # S + 2w
    # The scratch arrays of every update, fetched once.
    v_w = _buffer("v_w", (nb, S, D), dtype)                                # (nb, S, D)
    U_blk = _buffer("U_out", (nb, O, D), dtype)                            # (nb, O, D)
    s = _buffer("s", (nb, S, O), dtype)                                    # (nb, S, O)
    g_v = _buffer("g_v_w", (nb, S, D), dtype)                              # (nb, S, D)
    g_U = _buffer("g_U", (nb, O, D), dtype)                                # (nb, O, D)
    current = _buffer("current", (nb * O, D), dtype)                       # (≤ nb·O, D)
    loss_sum, loss_pairs = 0.0, 0
    for u in range(first, stop):
        if plan.pairs[u] == 0:
            continue
        np.take(W_in, plan.centre_ids[u], axis=0, mode="clip", out=v_w)
        np.take(W_out, plan.out_ids[u], axis=0, mode="clip", out=U_blk)
        np.matmul(v_w, U_blk.transpose(0, 2, 1), out=s)                     # scores
        if measure_loss is True or (measure_loss == "first" and loss_pairs == 0):
            # −log σ(s) on the pairs, −weight·log σ(−s) = weight·(s − log σ(s)) on the negatives,
            # with mask = 2·half_weight on the span and weight = 2·half_weight on the negatives
            M = plan.half_weight[u]
            loss_sum += 2 * (np.sum(M[:, :, n_span:] * s[:, :, n_span:], dtype=np.float64)
                             - np.sum(M * log_sigmoid(s), dtype=np.float64))
            loss_pairs += int(plan.pairs[u])
        g = s                                                               # (nb, S, O), in place:
        np.multiply(s, 0.5, out=g)
        np.tanh(g, out=g)
        g *= plan.half_weight[u]
        g += plan.offset[u]                                                 # g_pos | g_neg
        np.matmul(g, U_blk, out=g_v)                                        # ∂L/∂V_blk
        np.matmul(g.transpose(0, 2, 1), v_w, out=g_U)                       # ∂L/∂U_blk
        _scatter_step(W_in, v_w.reshape(-1, D), g_v.reshape(-1, D), plan.scatter_in[u], lr,
                      current)
        _scatter_step(W_out, U_blk.reshape(-1, D), g_U.reshape(-1, D), plan.scatter_out[u], lr,
                      current)
    return float(loss_sum) / max(loss_pairs, 1), int(plan.pairs[first:stop].sum())


def block_step(W_in, W_out, tokens, reach, shared_negatives, lr, *, K, damping=0.5):
    """One SGD step over a run of consecutive centres, cut into blocks that share their negatives.

    ``tokens`` is a stretch of text: ``window`` tokens of context on the left, then the nb·S centres,
    then ``window`` tokens on the right (``-1`` marks a position outside the text). Block j is the
    S centres ``tokens[window + jS : window + (j+1)S]``; its *span* is the S + 2·window tokens around
    them, which hold every context any of its centres can have. Centre i pairs with the span tokens
    at distance 1..reach[i] (word2vec's dynamic window), and all S centres of the block share Kb
    negatives. So one block needs the rows of S + 2·window + Kb output words, not S·(2·window + K),
    and its scores are one small matrix product:

        U_blk   = W_out[span ++ negatives]              (nb, S + 2w + Kb, D)
        s       = V_blk @ U_blkᵀ                        (nb, S, S + 2w + Kb)
        g       = mask·(σ(s) − 1) on the span part,  (n_i·K/Kb)·σ(s) on the negatives part
        ∂/∂V_blk = g @ U_blk,   ∂/∂U_blk = gᵀ @ V_blk

    where mask picks the real pairs and n_i is centre i's number of pairs: its K negatives per pair
    become Kb shared ones weighted n_i·K/Kb, which keeps the expected update equal to standard
    SGNS's. The step is summed (lr per pair, as :func:`sgd_step`) and each row's summed update is
    damped by n^(−damping), n = how often the row occurs in this step: as a centre; as a token of
    the text (once, although a token near a block's edge lies in two spans) or as a shared negative.

    This is one update of :func:`plan_blocks` + :func:`run_block_plan`, which the trainer calls for
    many updates at a time.

    Args:
        W_in, W_out: ``(V, D)`` float arrays, updated in place.
        tokens: ``(nb·S + 2·window,)`` int ids, ``-1`` for padding.
        reach: ``(nb·S,)`` each centre's window b in 1..window.
        shared_negatives: ``(nb, Kb)`` ids.
        lr: the learning rate (per pair).
        K: the negatives per pair that the weighting stands for.
        damping: d ≥ 0 as in :func:`sgd_step`.

    Returns:
        ``(loss, pairs)``: the mean per-pair loss before the step (with the weighting) as a
        Python float, and the number of (centre, context) pairs the step trained.
    """
    plan = plan_blocks(tokens, reach, shared_negatives, updates=1, K=K, damping=damping,
                       dtype=W_in.dtype)
    return run_block_plan(W_in, W_out, plan, lr)


# --------------------------------------------------------------------------------------------
# Synthetic batches and timings (for the notebooks, the tests and benchmarks/bench_scatter.py)
# --------------------------------------------------------------------------------------------

def zipf_batch(V, B, K, rng, exponent=1.0, noise_power=0.75):
    """A synthetic batch whose ids repeat the way words in text do.

    Word r (0-based rank) has probability ∝ 1/(r+1)^exponent (Zipf's law); centres and contexts
    are drawn from it and negatives from it raised to ``noise_power`` (word2vec's noise
    distribution). Real training subsamples frequent words, so real batches repeat somewhat less.

    Returns:
        ``(centers (B,), contexts (B,), negatives (B, K))`` as int64 arrays.
    """
    weights = 1.0 / np.arange(1, V + 1) ** exponent
    cdf_words = np.cumsum(weights) / np.sum(weights)
    cdf_noise = np.cumsum(weights ** noise_power) / np.sum(weights ** noise_power)

    def draw(cdf, size):
        return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), V - 1)

    return draw(cdf_words, B), draw(cdf_words, B), draw(cdf_noise, (B, K))


def time_scatter_strategies(batch_sizes=(256, 1024, 4096), *, V=70_000, D=100, K=5,
                            dtype=np.float32, strategies=SCATTER_STRATEGIES, seconds=0.15,
                            seed=0):
    """Time ``sgd_step`` with each scatter strategy on Zipf-like batches.

    For every (strategy, B) it calls ``sgd_step`` once to warm up, then repeatedly (at least 3
    times) until ``seconds`` have passed, cycling through 4 fresh batches, and keeps the median.
    The whole call takes about len(strategies) · len(batch_sizes) · seconds plus set-up.

    Returns:
        A list of dicts with keys ``strategy``, ``B``, ``us_per_batch`` (median µs per call) and
        ``pairs_per_s`` (B positive pairs per call / median time), ordered by B then strategy.
    """
    rng = np.random.default_rng(seed)
    W_in = ((rng.random((V, D)) - 0.5) / D).astype(dtype)    # word2vec's initial scale
    W_out = rng.normal(scale=0.1, size=(V, D)).astype(dtype)
    rows = []
    for B in batch_sizes:
        batches = [zipf_batch(V, B, K, rng) for _ in range(4)]
        for scatter in strategies:
            sgd_step(W_in, W_out, *batches[0], 1e-3, scatter=scatter)
            times = []
            start = time.perf_counter()
            while len(times) < 3 or time.perf_counter() - start < seconds:
                batch = batches[len(times) % len(batches)]
                t0 = time.perf_counter()
                sgd_step(W_in, W_out, *batch, 1e-3, scatter=scatter)
                times.append(time.perf_counter() - t0)
            seconds_per_batch = float(np.median(times))
            rows.append({"strategy": scatter, "B": B, "us_per_batch": 1e6 * seconds_per_batch,
                         "pairs_per_s": B / seconds_per_batch})
    return rows


def format_scatter_table(rows):
    """The rows of ``time_scatter_strategies`` as a plain-text table (one line per row)."""
    lines = [f"{'strategy':>9} {'B':>5} {'µs/batch':>10} {'pairs/s':>11}"]
    for r in rows:
        lines.append(f"{r['strategy']:>9} {r['B']:>5d} {r['us_per_batch']:>10,.0f} "
                     f"{r['pairs_per_s']:>11,.0f}")
    return "\n".join(lines)

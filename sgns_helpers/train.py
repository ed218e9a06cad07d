"""The training loop, shared by notebook 06 and ``python -m sgns_helpers train``.

One epoch walks the corpus in chunks of ``chunk_tokens`` token ids. Each chunk gets its own random
generator, derived from ``(seed, epoch, chunk)``; from it come, in this order, the subsampling of
frequent words, the (centre, context) pairs with a dynamic window, the shuffle of those pairs, and
then, batch by batch, the K negatives of every pair. So a seed reproduces a run exactly, and a
checkpoint only needs the position (epoch, chunk, batch) and the chunk generator's state to resume
a run as if it had never stopped.

Each batch is one step of the update rule (``mode``):

* ``pairs`` is standard SGNS: a batch of shuffled pairs, K fresh negatives each, one SGD step of
  ``lr`` per pair summed over the batch (as word2vec's C code and gensim take a step per pair),
  applied in place to the rows that occur by :func:`sgns_helpers.model.sgd_step`. A row that
  occurs n times in a step moves by n^(−damping) times its summed update (damping 0.5 by
  default): many summed stale updates of a frequent word would otherwise act as one huge step.
* ``blocks`` keeps the text in order: blocks of consecutive centres share their negatives and
  their window of context, so a block is three small matrix products
  (:func:`sgns_helpers.model.block_step`). A batch is UPDATES_PER_BATCH such updates, planned
  together (:func:`sgns_helpers.model.plan_blocks`); with ``workers`` > 1, worker processes share
  the weights through shared memory and each takes a part of every batch (:class:`Helpers`).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import json
import math
import os
import resource
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import corpus as corpus_mod
from .embeddings import atomic_write, save_npz, save_word2vec_text
from .evaluate import Embeddings
from .model import plan_blocks, run_block_plan, sgd_step
from .sampling import NoiseSampler, skipgram_pairs

# ---------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------

PROBE_WORDS = ("king", "france", "computer", "three", "good", "river")


@dataclass
class Settings:
    """Everything that decides a run. Two profiles fill it: ``quick`` and ``full`` (see PROFILES)."""

    profile: str = "full"
    corpus: str | None = None       # None: $SGNS_CORPUS, else the profile's corpus
    epochs: int = 5
    dim: int = 100                  # D
    window: int = 5                 # the largest window; each centre draws b in 1..window
    negatives: int = 5              # K
    min_count: int = 5
    sample: float = 1e-3            # subsampling threshold t
    lr: float = 0.025               # lr₀, decayed linearly to lr₀·1e-4
    batch_size: int = 1024          # B pairs a step (blocks mode: B centres a step)
    damping: float = 0.5            # a row updated n times in one step moves by n^(−damping)·(sum)
    seed: int = 1
    mode: str = "pairs"             # the update rule: "pairs" (standard SGNS) or "blocks"
    block_size: int = 16            # blocks: S consecutive centres share their negatives ...
    shared_negatives: int = 16      # ... Kb of them, weighted so the expectation is SGNS's
    workers: int = 1                # blocks: processes updating the shared weights (1: deterministic)
    chunk_tokens: int = 1_000_000   # token ids a chunk (pairs never cross a chunk's edge)
    checkpoint_every: float = 300.0  # seconds between checkpoints (checked after every step)
    log_points: int = 200           # loss records (and divergence checks), evenly over the run
    probes: tuple = PROBE_WORDS     # words whose neighbours are logged during training
    probe_times: int = 5            # how many times during the run the probes are logged

    def validate(self):
        """Raise a one-line ValueError for a setting that makes no sense."""
        checks = [
            (self.profile in PROFILES, f"profile must be one of {sorted(PROFILES)}, not {self.profile!r}"),
            (self.mode in UPDATE_RULES, f"mode must be one of {sorted(UPDATE_RULES)}, not {self.mode!r}"),
            (self.epochs >= 1, f"--epochs must be at least 1 (got {self.epochs})"),
            (self.dim >= 1, f"--dim must be at least 1 (got {self.dim})"),
            (self.window >= 1, f"--window must be at least 1 (got {self.window})"),
            (self.negatives >= 1, f"--negatives must be at least 1 (got {self.negatives})"),
            (self.min_count >= 1, f"--min-count must be at least 1 (got {self.min_count})"),
            (self.sample > 0, f"--sample must be > 0, e.g. 1e-3 (got {self.sample})"),
            (0 < self.lr <= 1, f"--lr must be in (0, 1], e.g. 0.025 (got {self.lr})"),
            (self.batch_size >= 1, f"--batch-size must be at least 1 (got {self.batch_size})"),
            (self.damping >= 0, f"damping must be >= 0 (got {self.damping})"),
            (self.block_size >= 1, f"--block-size must be at least 1 (got {self.block_size})"),
            (self.shared_negatives >= 1,
             f"--shared-negatives must be at least 1 (got {self.shared_negatives})"),
            (self.workers >= 1, f"--workers must be at least 1 (got {self.workers})"),
            (self.workers == 1 or self.mode == "blocks",
             "--workers above 1 needs --mode blocks (the pairs mode runs in one process)"),
            (self.chunk_tokens >= 2, f"chunk_tokens must be at least 2 (got {self.chunk_tokens})"),
            (self.checkpoint_every >= 0, "checkpoint_every must be >= 0 seconds"),
            (self.log_points >= 1, "log_points must be at least 1"),
            (self.probe_times >= 1, "probe_times must be at least 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        return self


PROFILES = {
    # The committed sample corpus, a small D, one epoch: seconds. What nbval and CI run.
    "quick": dict(epochs=1, dim=50, probes=("god", "king", "water", "said", "three")),
    # text8 (or $SGNS_CORPUS) with word2vec's usual skip-gram settings.
    "full": dict(),
}


# What differs between the update rules unless it is set explicitly. Blocks mode sums many more
# pair updates into one update (a block's pairs share their rows), so it takes fewer centres an
# update and a little less damping; chosen on the stand-in corpus from runs of one to five epochs
# (benchmarks/results/, notebook 06 section 7).
MODE_DEFAULTS = {
    "pairs": dict(batch_size=1024, damping=0.5),
    "blocks": dict(batch_size=256, damping=0.35),
}


def make_settings(profile=None, **overrides):
    """Settings of a profile (default ``$SGNS_PROFILE``, else ``full``) with ``overrides`` applied.

    Overrides that are None are ignored, so CLI options that were not given keep the profile's value.
    The batch size and damping default to the values of the chosen mode (MODE_DEFAULTS).
    """
    profile = profile or os.environ.get("SGNS_PROFILE") or "full"
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)}, not {profile!r}")
    names = {f.name for f in dataclasses.fields(Settings)}
    unknown = set(overrides) - names
    if unknown:
        raise ValueError(f"unknown setting {sorted(unknown)[0]!r}")
    given = {key: value for key, value in overrides.items() if value is not None}
    mode = given.get("mode", PROFILES[profile].get("mode", "pairs"))
    values = {**MODE_DEFAULTS.get(mode, {}), **PROFILES[profile], "profile": profile, **given}
    return Settings(**values).validate()


# ---------------------------------------------------------------------------------------------
# The pieces of the loop
# ---------------------------------------------------------------------------------------------

def init_weights(V, D, rng, dtype=np.float32):
    """word2vec's start: W_in uniform in ±0.5/D, W_out all zeros. Returns (W_in, W_out), each (V, D).

    W_out = 0 makes every score 0 at the start, so σ = 1/2 for positives and negatives alike and
    the first steps move W_out along the (random) centre vectors; a random W_out would add noise
    to every score for no benefit. Only one matrix has to be random to break the symmetry.
    """
    W_in = ((rng.random((V, D), dtype=np.float64) - 0.5) / D).astype(dtype)
    W_out = np.zeros((V, D), dtype=dtype)
    return W_in, W_out


def learning_rate(lr0, progress, floor=1e-4):
    """Linear decay from lr0 at progress 0 to lr0·floor at progress 1 (progress ∈ [0, 1])."""
    return lr0 * max(floor, 1.0 - progress)


def pairs_rule(W_in, W_out, centers, contexts, lr, rng, sampler, settings):
    """Standard SGNS: K fresh negatives a pair, one summed SGD step (see model.sgd_step)."""
    negatives = sampler.sample(rng, (len(centers), settings.negatives))   # (B, K)
    return sgd_step(W_in, W_out, centers, contexts, negatives, lr, damping=settings.damping,
                    check=False)


def chunk_rng(seed, epoch, chunk):
    """The generator of one chunk of one epoch: a pure function of (seed, epoch, chunk)."""
    return np.random.default_rng([seed, epoch, chunk])


def prepare_chunk(chunk_ids, keep_prob, settings, rng):
    """Subsample a chunk, make its skip-gram pairs and shuffle them, all with ``rng``.

    Returns ``(centers, contexts, n_kept)``: two (P,) int32 arrays in a random order and the number
    of tokens that survived subsampling. The shuffle is drawn here, before any negatives, so that
    the generator's state after this call is the same however the batches are consumed.
    """
    kept = corpus_mod.subsample(chunk_ids, keep_prob, rng)                   # (n_kept,)
    centers, contexts = skipgram_pairs(kept, settings.window, rng)          # (P,), (P,)
    order = rng.permutation(len(centers))
    return centers[order], contexts[order], len(kept)


def prepare_blocks(chunk_ids, keep_prob, settings, rng):
    """Subsample a chunk and draw each position's window b in 1..window (text order is kept).

    Returns ``(kept, reach, n_kept)``: (n,) int32 token ids and (n,) int8 windows."""
    kept = corpus_mod.subsample(chunk_ids, keep_prob, rng)                   # (n,)
    reach = rng.integers(1, settings.window + 1, size=len(kept), dtype=np.int8)   # (n,)
    return kept, reach, len(kept)


#: Blocks mode: updates a batch. Everything about them that does not depend on the weights
#: (indices, masks, weights, the grouping of repeated rows) is planned for all of them at once.
UPDATES_PER_BATCH = 16


def centres_per_update(settings):
    """Blocks mode: centres an update, ``batch_size`` rounded down to whole blocks (at least one)."""
    return max(1, settings.batch_size // settings.block_size) * settings.block_size


def blocks_rule(W_in, W_out, kept, reach, b, lr, rng, sampler, settings, helpers=None):
    """Batch ``b`` of a chunk in blocks mode: UPDATES_PER_BATCH updates, one after another, each of
    ``batch_size`` consecutive centres cut into blocks that share Kb negatives (see
    model.block_step). Each centre sees ``window`` tokens of context on each side: ``-1`` past the
    chunk's ends, and for the padding of the last, partial update. Returns ``(loss, pairs)``; the
    loss is measured before the batch's first update.

    With ``helpers`` (a :class:`Helpers` of ``workers`` − 1 processes) the batch's updates are split
    into ``workers`` runs of text, which the processes update at the same time without locks (as
    word2vec's and gensim's threads do): a row that two of them touch at once may lose one update,
    and the result is no longer reproducible."""
    C, S, w = centres_per_update(settings), settings.block_size, settings.window
    start = b * C * UPDATES_PER_BATCH
    stop = min(start + C * UPDATES_PER_BATCH, len(kept))
    n_updates = -(-(stop - start) // C)
    tokens = np.full(n_updates * C + 2 * w, -1, dtype=np.int32)         # (G·C + 2w,)
    lo, hi = max(0, start - w), min(len(kept), stop + w)                # text available
    tokens[lo - (start - w):hi - (start - w)] = kept[lo:hi]             # padded centres stay -1
    centre_reach = np.ones(n_updates * C, dtype=np.int8)                # (G·C,)
    centre_reach[:stop - start] = reach[start:stop]
    negatives = sampler.sample(rng, (n_updates * C // S, settings.shared_negatives))  # (G·nb, Kb)
    # One run of updates per process; each gets its tokens with their halo.
    n_parts = 1 if helpers is None else min(helpers.n + 1, n_updates)
    jobs = [(tokens[u0 * C:u1 * C + 2 * w], centre_reach[u0 * C:u1 * C],
             negatives[u0 * C // S:u1 * C // S], u1 - u0, settings.negatives, settings.damping, lr)
            for u0, u1 in _runs(n_updates, n_parts)]
    if len(jobs) > 1:
        helpers.submit(jobs[1:])
    results = [_block_job(W_in, W_out, *jobs[0])]
    if len(jobs) > 1:
        results += helpers.collect()
    return results[0][0], sum(p for _, p in results)


def _runs(n, parts):
    """``parts`` ranges (u0, u1) that cut 0..n−1 into nearly equal runs."""
    edges = np.linspace(0, n, parts + 1).round().astype(int)
    return list(zip(edges[:-1], edges[1:]))


def _block_job(W_in, W_out, tokens, reach, negatives, updates, K, damping, lr):
    """Plan and do a run of block updates; returns ``(loss, pairs)`` (see model.run_block_plan)."""
    plan = plan_blocks(tokens, reach, negatives, updates=updates, K=K, damping=damping,
                       dtype=W_in.dtype)
    return run_block_plan(W_in, W_out, plan, lr, measure_loss="first")


class Helpers:
    """``n`` worker processes that do block updates on the trainer's weights in shared memory.

    Threads would be the natural choice, but a block update is some thirty NumPy calls on small
    arrays, and two threads spend their time waiting for each other's hold on Python's global
    interpreter lock (measured: two threads were slower than one). Processes have no such lock.
    While the helpers exist, the trainer's ``W_in`` and ``W_out`` live in shared memory; ``close``
    copies them back into ordinary arrays and stops the processes.
    """

    def __init__(self, trainer, n):
        import multiprocessing as mp
        from multiprocessing import shared_memory

        self.n, self.trainer, self._busy = n, trainer, []
        self.blocks, self.pipes, self.procs = [], [], []
        try:
            for name in ("W_in", "W_out"):
                W = getattr(trainer, name)
                block = shared_memory.SharedMemory(create=True, size=W.nbytes)
                self.blocks.append(block)
                shared = np.ndarray(W.shape, dtype=W.dtype, buffer=block.buf)
                shared[...] = W
                setattr(trainer, name, shared)
            spec = (trainer.W_in.shape, trainer.W_in.dtype.str)
            # Linux: fork, which is quick and copies nothing until written. Elsewhere (macOS's
            # system libraries do not survive a fork) a fresh interpreter, which needs a script's
            # training code under ``if __name__ == "__main__":``.
            ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
            for _ in range(n):
                ours, theirs = ctx.Pipe()
                proc = ctx.Process(target=_helper_main, daemon=True,
                                   args=(theirs, [blk.name for blk in self.blocks], spec))
                proc.start()
                theirs.close()
                self.pipes.append(ours)
                self.procs.append(proc)
        except BaseException:
            self.close()
            raise

    def submit(self, jobs):
        """Send one job to each of the first ``len(jobs)`` processes."""
        for pipe, job in zip(self.pipes, jobs):
            pipe.send(job)
        self._busy = self.pipes[:len(jobs)]

    def collect(self):
        """The ``(loss, pairs)`` of each submitted job, in order."""
        results, busy, self._busy = [], self._busy, []
        for pipe in busy:
            try:
                kind, value = pipe.recv()
            except EOFError:
                raise RuntimeError("a worker process died during training") from None
            if kind == "error":
                raise RuntimeError(f"a worker process failed: {value}")
            results.append(value)
        return results

    def close(self):
        """Stop the processes, give the trainer ordinary arrays back and free the shared memory."""
        for pipe in self._busy:                    # let unfinished jobs end before copying
            try:
                pipe.recv()
            except (EOFError, OSError):
                pass
        private = []
        for pipe in self.pipes:
            try:
                pipe.send(None)
                private.append(pipe.recv())              # its private memory, in MB, at the end
                pipe.close()
            except (EOFError, OSError):
                pass
        known = [mb for mb in private if mb is not None]
        self.trainer.workers_private_mb = sum(known) if known else None
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
        for name in ("W_in", "W_out"):
            setattr(self.trainer, name, np.array(getattr(self.trainer, name)))
        for block in self.blocks:
            block.close()
            block.unlink()
        self.blocks, self.pipes, self.procs, self._busy = [], [], [], []


def _helper_main(pipe, names, spec):
    """A worker process: attach to the shared weights, then do the block jobs it is sent."""
    from multiprocessing import shared_memory

    signal.signal(signal.SIGINT, signal.SIG_IGN)      # Ctrl-C is the trainer's to handle
    np.seterr(over="ignore", invalid="ignore")        # the trainer checks for divergence
    shape, dtype = spec
    blocks = [shared_memory.SharedMemory(name=name) for name in names]
    W_in, W_out = (np.ndarray(shape, dtype=dtype, buffer=blk.buf) for blk in blocks)
    try:
        while True:
            try:
                job = pipe.recv()
            except EOFError:
                break
            if job is None:
                pipe.send(private_mb())
                break
            try:
                pipe.send(("ok", _block_job(W_in, W_out, *job)))
            except Exception as exc:                      # reported by the trainer, one line
                pipe.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        del W_in, W_out
        for blk in blocks:
            blk.close()


def _pairs_step(W_in, W_out, centers, contexts, b, lr, rng, sampler, settings, helpers=None):
    batch = slice(b * settings.batch_size, (b + 1) * settings.batch_size)
    loss = pairs_rule(W_in, W_out, centers[batch], contexts[batch], lr, rng, sampler, settings)
    return loss, len(centers[batch])


@dataclass(frozen=True)
class UpdateRule:
    """How a mode turns a chunk into steps: ``prepare`` it once (with the chunk's generator, before
    any step draws from it), count its steps, and do step ``b``, returning ``(loss, pairs)``."""

    prepare: object         # (chunk_ids, keep_prob, settings, rng) -> (x, y, n_kept)
    n_steps: object         # (x, settings) -> int
    step: object            # (W_in, W_out, x, y, b, lr, rng, sampler, settings, helpers)
    #                         -> (loss, pairs)


UPDATE_RULES = {
    "pairs": UpdateRule(prepare_chunk, lambda c, s: -(-len(c) // s.batch_size), _pairs_step),
    "blocks": UpdateRule(prepare_blocks,
                         lambda k, s: -(-len(k) // (centres_per_update(s) * UPDATES_PER_BATCH)),
                         blocks_rule),
}


@contextmanager
def _closing(*things):
    """Close the worker processes and the progress bar (those not None) however the block ends."""
    try:
        yield things
    finally:
        for thing in things:
            if thing is not None:
                thing.close()


@contextmanager
def _sigint_as_flag():
    """Within the block, Ctrl-C (SIGINT) and SIGTERM set a flag, read by calling the yielded
    function, instead of raising at an arbitrary line: the loop stops between two batches with a
    consistent state."""
    flag = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    previous = {sig: signal.signal(sig, lambda *_: flag.append(True))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield lambda: bool(flag)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def steady_heap(threshold=8 << 20):
    """Fix glibc's mmap threshold (allocations above it get their own pages, returned on free).

    By default glibc raises the threshold after each large free, so the per-chunk arrays of a run
    (tens of MB) soon come from the heap instead, fragment it, and the process's memory creeps up
    over the run. Measured on the stand-in corpus, one epoch of the pairs mode: peak RSS 406 MB
    without, 358 MB with, at the same speed and with bit-identical results. Elsewhere (macOS, musl)
    it does nothing.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-3, int(threshold))                 # -3 is M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


def private_mb():
    """This process's private memory (Linux: the pages no other process maps), in MB, or None.

    A worker process forked from the trainer shares the trainer's pages, and its resident size
    counts them again; its private memory is what it adds."""
    try:
        with open("/proc/self/smaps_rollup") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        kib = sum(int(fields[k].split()[0]) for k in ("Private_Clean", "Private_Dirty"))
        return kib / 2**10
    except (OSError, KeyError, ValueError):
        return None


def peak_rss_mb():
    """Peak resident memory of this process so far, in MB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


# ---------------------------------------------------------------------------------------------
# The trainer: state of one run
# ---------------------------------------------------------------------------------------------

@dataclass
class Position:
    """Where a run is: the next batch to do. ``rng_state`` is the chunk generator after the
    pairs were made and the first ``batch`` batches drew their negatives (None at a chunk's start)."""

    epoch: int = 0
    chunk: int = 0
    batch: int = 0
    rng_state: dict | None = None
    words_done: int = 0          # token ids of the (min_count-filtered) corpus walked so far
    kept_done: int = 0           # of those, how many survived subsampling
    pairs_done: int = 0
    train_seconds: float = 0.0   # time spent training, summed over resumed runs
    smooth_loss: float | None = None   # moving average of the steps' losses (what is logged)


class Trainer:
    """One training run: the settings, the corpus, the two matrices and the position in the run.

    ``run()`` trains to the end (or until interrupted); ``checkpoint(path)`` and
    ``Trainer.resume(path, ids, vocab)`` save and restore everything needed to continue exactly.
    """

    def __init__(self, settings, ids, vocab, checkpoint_path=None):
        self.settings = settings
        self.ids = ids                       # (N,) int32 token ids of the corpus
        self.vocab = vocab
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
        self.keep_prob = corpus_mod.keep_probabilities(vocab.counts, settings.sample)   # (V,)
        self.sampler = NoiseSampler(vocab.counts)
        self.W_in, self.W_out = init_weights(len(vocab), settings.dim,
                                             np.random.default_rng([settings.seed, 2**31]))
        self.pos = Position()
        self.history = {"words": [], "loss": [], "lr": [], "probes": []}
        self.corpus_sha256 = None            # named in checkpoints when known
        self.workers_private_mb = None       # what worker processes added to memory (--workers)
        self.saved = False                   # whether checkpoint_path holds this run's state

    # -- the loop -------------------------------------------------------------------------------
    @property
    def n_chunks(self):
        return math.ceil(len(self.ids) / self.settings.chunk_tokens)

    @property
    def total_words(self):
        return self.settings.epochs * len(self.ids)

    def run(self, progress=True):
        """Train from the current position to the end of the last epoch.

        Ctrl-C (SIGINT) is honoured between two batches: the state is checkpointed, then
        KeyboardInterrupt is raised, so ``resume`` continues exactly where the run stopped.
        """
        s = self.settings
        rule = UPDATE_RULES[s.mode]
        steady_heap()
        helpers = Helpers(self, s.workers - 1) if s.workers > 1 else None   # before any thread
        bar = _progress_bar(self, progress)
        t_start = last_save = time.monotonic()
        # Overflow in a step means the run diverges; the checks below stop it with one clear
        # line, which numpy's warnings would only bury.
        with _sigint_as_flag() as interrupted, _closing(helpers, bar), \
                np.errstate(over="ignore", invalid="ignore"):
            while self.pos.epoch < s.epochs:
                start = self.pos.chunk * s.chunk_tokens
                chunk_ids = self.ids[start:start + s.chunk_tokens]             # (n,)
                rng = chunk_rng(s.seed, self.pos.epoch, self.pos.chunk)
                *data, n_kept = rule.prepare(chunk_ids, self.keep_prob, s, rng)  # pairs or text
                n_batches = max(1, rule.n_steps(data[0], s))
                if self.pos.rng_state is not None:          # resuming inside this chunk
                    rng.bit_generator.state = self.pos.rng_state
                for b in range(self.pos.batch, n_batches):
                    before = self.pos.words_done + len(chunk_ids) * b / n_batches
                    lr = learning_rate(s.lr, before / self.total_words)
                    loss, pairs = rule.step(self.W_in, self.W_out, *data, b, lr, rng,
                                            self.sampler, s, helpers)
                    if not math.isfinite(loss):
                        raise _diverged(self, loss)
                    smooth = self.pos.smooth_loss
                    self.pos.smooth_loss = loss if smooth is None else 0.98 * smooth + 0.02 * loss
                    self.pos.batch = b + 1
                    self.pos.pairs_done += pairs
                    # Logging, probes and checkpoints go by words and seconds, never by steps,
                    # so they happen alike in every mode and for any chunk or batch size.
                    done = self.pos.words_done + len(chunk_ids) * (b + 1) / n_batches
                    if self._passed(before, done, s.log_points):
                        self._log(done, lr, bar)             # also checks the weights
                    if self._passed(before, done, s.probe_times) and done < self.total_words:
                        self.log_probes(done, bar)
                    if bar is not None:
                        bar.n = int(done)
                        bar.update(0)                        # redraws if mininterval passed
                    due = time.monotonic() - last_save >= s.checkpoint_every
                    if interrupted() or (due and self.checkpoint_path):
                        self.pos.rng_state = rng.bit_generator.state
                        t_start = last_save = self._time_and_checkpoint(t_start)
                        if interrupted():
                            raise KeyboardInterrupt
                # the chunk is done: on to the next one
                self.pos.words_done += len(chunk_ids)
                self.pos.kept_done += n_kept
                self.pos.chunk, self.pos.batch, self.pos.rng_state = self.pos.chunk + 1, 0, None
                if self.pos.chunk == self.n_chunks:
                    self.pos.epoch, self.pos.chunk = self.pos.epoch + 1, 0
        self.pos.train_seconds += time.monotonic() - t_start
        self.log_probes(self.pos.words_done, None)
        if self.checkpoint_path:
            self.checkpoint(self.checkpoint_path)
        return self

    def _passed(self, before, done, times):
        """Whether the words ``before .. done`` of one step cross one of the ``times`` points
        k·total/times (k = 1..times) that divide the run evenly."""
        return before * times // self.total_words < done * times // self.total_words

    # -- logging ----------------------------------------------------------------------------------
    def _log(self, done, lr, bar):
        """Record the smoothed loss and the learning rate at ``done`` words; stop if the weights
        or the loss have diverged."""
        smooth = self.pos.smooth_loss
        if not (math.isfinite(smooth) and np.isfinite(self.W_in.max() + self.W_in.min())
                and np.isfinite(self.W_out.max() + self.W_out.min())):
            raise _diverged(self, smooth)
        self.history["words"].append(int(done))
        self.history["loss"].append(float(smooth))
        self.history["lr"].append(float(lr))
        if bar is not None:
            bar.set_postfix(loss=f"{smooth:.3f}", lr=f"{lr:.5f}", refresh=False)

    def neighbours(self, words, topn=5):
        """{word: [(neighbour, cosine), ...]} from W_in, for the words that are in the vocabulary."""
        emb = Embeddings(self.vocab.words, self.W_in)
        return {w: [(n, round(c, 3)) for n, c in emb.most_similar(w, topn)]
                for w in words if w in emb}

    def log_probes(self, done, bar):
        found = self.neighbours(self.settings.probes)
        self.history["probes"].append({"words": int(done), "neighbours": found})
        if bar is not None:
            pct = 100 * done / self.total_words
            lines = [f"[{pct:5.1f}%] {w}: " + ", ".join(n for n, _ in ns) for w, ns in found.items()]
            bar.write("\n".join(lines))

    # -- checkpoints ------------------------------------------------------------------------------
    def _time_and_checkpoint(self, t_start):
        """Bank the training time since ``t_start``, checkpoint; returns the new start time."""
        self.pos.train_seconds += time.monotonic() - t_start
        if self.checkpoint_path:
            self.checkpoint(self.checkpoint_path)
        return time.monotonic()

    def checkpoint(self, path):
        """Write the whole state atomically: vectors, position (with the RNG state), history, settings."""
        if not (np.isfinite(self.W_in).all() and np.isfinite(self.W_out).all()):
            raise _diverged(self, float("nan"))                 # never overwrite a good checkpoint
        meta = {"settings": dataclasses.asdict(self.settings), "position": dataclasses.asdict(self.pos),
                "history": self.history, "finished": self.pos.epoch >= self.settings.epochs,
                "corpus_sha256": self.corpus_sha256}
        with atomic_write(path) as f:
            np.savez(f, W_in=self.W_in, W_out=self.W_out, meta=np.array(json.dumps(meta)))
        self.saved = self.saved or path == self.checkpoint_path

    @classmethod
    def resume(cls, path, ids, vocab):
        """A Trainer in the state saved at ``path`` (the corpus must be the one it was trained on)."""
        with np.load(path) as z:
            meta = json.loads(str(z["meta"]))
            W_in, W_out = z["W_in"], z["W_out"]
        trainer_sha = meta.get("corpus_sha256")
        values = meta["settings"]
        values["probes"] = tuple(values["probes"])
        values.pop("log_every", None)            # checkpoints from before logging went by words
        trainer = cls(Settings(**values).validate(), ids, vocab, checkpoint_path=path)
        if W_in.shape != trainer.W_in.shape:
            raise ValueError(f"the checkpoint {path} was trained on another corpus or vocabulary "
                             f"({W_in.shape[0]} words, this one has {len(vocab)}); use another --out")
        trainer.W_in, trainer.W_out = W_in, W_out
        trainer.pos = Position(**meta["position"])
        trainer.history = meta["history"]
        trainer.corpus_sha256 = trainer_sha
        trainer.saved = True
        return trainer

    # -- results --------------------------------------------------------------------------------
    def metrics(self, corpus_info):
        raw = self.settings.epochs * self.vocab_total_words
        secs = max(self.pos.train_seconds, 1e-9)
        return {
            "settings": dataclasses.asdict(self.settings),
            "corpus": corpus_info,
            "vocabulary_size": len(self.vocab),
            "corpus_words": int(self.vocab_total_words),
            "train_seconds": round(self.pos.train_seconds, 2),
            "raw_words_per_second": round(raw / secs),
            "effective_words_per_second": round(self.pos.kept_done / secs),
            "pairs_per_second": round(self.pos.pairs_done / secs),
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "workers_private_mb": None if self.workers_private_mb is None
            else round(self.workers_private_mb, 1),
            "final_loss": self.history["loss"][-1] if self.history["loss"] else None,
            "history": self.history,
        }

    @property
    def vocab_total_words(self):
        """Words of the corpus file, rare ones included (what word2vec and gensim call raw words)."""
        return self.vocab.corpus_words


def _diverged(trainer, loss):
    s = trainer.settings
    where = f"epoch {trainer.pos.epoch + 1}, {100 * trainer.pos.words_done / trainer.total_words:.0f}% done"
    path = trainer.checkpoint_path
    kept = (f"; the last good checkpoint is kept in {path}" if trainer.saved
            else "; no checkpoint had been written yet")
    return RuntimeError(f"training diverged (loss {loss}) at {where}: lower --lr (now {s.lr}) "
                        f"or --batch-size (now {s.batch_size}){kept}")


def _progress_bar(trainer, progress):
    """A text progress bar (also in notebooks, where it needs no widgets); outside a terminal it
    redraws at most every 10 s so that saved notebook outputs and logs stay short."""
    if not progress:
        return None
    from tqdm import tqdm
    return tqdm(total=trainer.total_words, initial=trainer.pos.words_done, unit="word",
                unit_scale=True, smoothing=0.1, dynamic_ncols=True, desc="training",
                mininterval=1.0 if sys.stderr.isatty() else 10.0)


# ---------------------------------------------------------------------------------------------
# Outputs and the command line
# ---------------------------------------------------------------------------------------------

def plot_loss(history, path=None, title="SGNS training loss"):
    """The smoothed loss and the learning rate against words processed. Returns the Figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    words = np.asarray(history["words"]) / 1e6
    ax.plot(words, history["loss"], color="tab:blue", label="loss (smoothed)")
    ax.set_xlabel("words processed (millions)")
    ax.set_ylabel("mean loss per pair")
    ax.set_title(title)
    ax2 = ax.twinx()
    ax2.plot(words, history["lr"], color="tab:orange", ls="--", label="learning rate")
    ax2.set_ylabel("learning rate")
    lines = ax.get_lines() + ax2.get_lines()
    ax.legend(lines, [l.get_label() for l in lines], loc="upper right")
    fig.tight_layout()
    if path is not None:
        with atomic_write(path) as f:
            fig.savefig(f, format="png", dpi=110)
    return fig


def plot_speed_quality(rows, path=None, title="speed against quality"):
    """Analogy accuracy and WS-353 ρ against raw words/s (log scale), one labelled point per run.

    ``rows`` are results of ``benchmarks/bench_train.py`` (keys ``raw_wps``, ``analogy``,
    ``ws353``, ``trainer``) with a ``label`` each. This course's runs are blue circles, gensim's red
    squares. Returns the Figure; with ``path``, also writes it as a PNG.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.9))
    for ax, key, scale, ylabel in ((axes[0], "analogy", 100, "analogy accuracy (30k), %"),
                                   (axes[1], "ws353", 1, "WS-353 Spearman ρ")):
        for r in rows:
            ours = r["trainer"].startswith("ours")
            x, y = r["raw_wps"] / 1e3, scale * r[key]
            ax.scatter(x, y, marker="o" if ours else "s", color="C0" if ours else "C3")
            ax.annotate(r["label"], (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.set(xscale="log", xlabel="raw words/s (thousands, log scale)", ylabel=ylabel)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.xaxis.set_minor_formatter(FuncFormatter(       # label 2, 3 and 5 of each decade
            lambda v, _: f"{v:,.0f}" if f"{v:.0e}"[0] in "235" else ""))
        ax.tick_params(axis="x", which="minor", labelsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    if path is not None:
        with atomic_write(path) as f:
            fig.savefig(f, format="png", dpi=110)
    return fig


def write_outputs(trainer, out_dir, corpus_info):
    """vectors.txt, vectors.npz, metrics.json and loss.png in ``out_dir``. Returns the metrics."""
    out_dir = Path(out_dir)
    words, W_in = trainer.vocab.words, trainer.W_in
    save_word2vec_text(out_dir / "vectors.txt", words, W_in)
    save_npz(out_dir / "vectors.npz", words, W_in, counts=trainer.vocab.counts)
    metrics = trainer.metrics(corpus_info)
    with atomic_write(out_dir / "metrics.json", "w") as f:
        json.dump(metrics, f, indent=1)
    import matplotlib
    matplotlib.use("Agg") if "matplotlib.pyplot" not in sys.modules else None
    import matplotlib.pyplot as plt
    fig = plot_loss(trainer.history, out_dir / "loss.png",
                    title=f"SGNS loss on {corpus_info['name']}")
    plt.close(fig)
    return metrics


def default_out_dir(settings, corpus_path):
    """``<repo>/runs/<profile>-<corpus name>``, with ``-blocks`` for that mode: the same folder
    from the CLI and the notebooks."""
    name = Path(corpus_path).name.split(".")[0]
    mode = "" if settings.mode == "pairs" else f"-{settings.mode}"
    return corpus_mod.repo_root() / "runs" / f"{settings.profile}-{name}{mode}"


def train(settings, out_dir=None, resume=False, progress=True):
    """Load the corpus, train (or resume), write the outputs. Returns (trainer, metrics, out_dir)."""
    path = corpus_mod.resolve_corpus(settings.corpus, profile=settings.profile)
    out_dir = Path(out_dir) if out_dir else default_out_dir(settings, path)
    ckpt = out_dir / "checkpoint.npz"
    info = corpus_mod.corpus_info(path)
    if progress:
        print(f"corpus: {info['name']} ({info['bytes']:,} bytes, sha256 {info['sha256'][:12]}…)")
    if resume:
        if not ckpt.exists():
            raise FileNotFoundError(f"no checkpoint to resume in {out_dir}; run without --resume")
        saved = read_checkpoint_meta(ckpt)
        if saved.get("corpus_sha256") not in (None, info["sha256"]):
            raise ValueError(f"the checkpoint in {out_dir} was trained on another corpus than "
                             f"{path}; give the same --corpus (or SGNS_CORPUS) to resume")
        ids, vocab = corpus_mod.load_corpus(path, min_count=saved["settings"]["min_count"])
        trainer = Trainer.resume(ckpt, ids, vocab)
    else:
        ids, vocab = corpus_mod.load_corpus(path, min_count=settings.min_count)
        if ckpt.exists() and not _finished(ckpt):
            raise ValueError(f"{out_dir} holds an unfinished run: add --resume to continue it, "
                             f"or choose another --out")
        trainer = Trainer(settings, ids, vocab, checkpoint_path=ckpt)
    trainer.corpus_sha256 = info["sha256"]
    if progress:
        s = trainer.settings
        print(f"vocabulary: {len(vocab):,} words (min_count {s.min_count}); {len(ids):,} tokens; "
              f"{s.epochs} epoch(s), D={s.dim}, window={s.window}, K={s.negatives}, "
              f"sample={s.sample}, lr={s.lr}, seed={s.seed}")
        print(f"update rule: {describe_mode(s)}")
    try:
        trainer.run(progress=progress)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(f"interrupted: a checkpoint is saved in {out_dir}; "
                                f"continue with the same command and --resume") from None
    metrics = write_outputs(trainer, out_dir, info)
    return trainer, metrics, out_dir


def describe_mode(s):
    """One line on the update rule of settings ``s``."""
    if s.mode == "pairs":
        return (f"pairs (standard SGNS: {s.batch_size} shuffled pairs a step, K={s.negatives} "
                f"negatives each, damping {s.damping})")
    return (f"blocks ({centres_per_update(s)} consecutive centres an update, blocks of "
            f"{s.block_size} sharing {s.shared_negatives} negatives, damping {s.damping}, "
            f"{s.workers} process{'es' if s.workers > 1 else ''}; --mode pairs for standard SGNS)")


def read_checkpoint_meta(path):
    """The JSON part of a checkpoint: settings, position, history, finished, corpus_sha256."""
    with np.load(path) as z:
        return json.loads(str(z["meta"]))


def _finished(ckpt):
    return bool(read_checkpoint_meta(ckpt).get("finished"))


def main(args):
    """``python -m sgns_helpers train ...``: train, write the outputs, print neighbours."""
    names = {f.name for f in dataclasses.fields(Settings)}
    overrides = {k: v for k, v in vars(args).items() if k in names and k != "profile"}
    settings = make_settings(args.profile, **overrides)
    try:
        trainer, metrics, out_dir = train(settings, args.out, resume=args.resume)
    except KeyboardInterrupt as exc:
        print(exc.args[0] if exc.args else "interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    print(f"\n{metrics['raw_words_per_second']:,} raw words/s, {metrics['train_seconds']:.0f} s, "
          f"peak RSS {metrics['peak_rss_mb']:.0f} MB")
    print("nearest neighbours:")
    for word, ns in trainer.neighbours(trainer.settings.probes, topn=8).items():
        print(f"  {word:>10}: " + ", ".join(f"{n} ({c:.2f})" for n, c in ns))
    report = evaluate_run(out_dir, metrics["corpus"])
    print(f"\n{report}\noutputs in {out_dir}/: vectors.txt, vectors.npz, metrics.json, loss.png, "
          f"evaluation.json, pca.png")
    return trainer, metrics, out_dir


def evaluate_run(out_dir, corpus_info):
    """Score ``out_dir/vectors.npz``: evaluation.json and pca.png beside it; returns the report text."""
    from . import evaluate

    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    emb = evaluate.Embeddings.from_file(out_dir / "vectors.npz")
    result = evaluate.evaluate_vectors(emb)
    result["corpus"] = corpus_info
    with atomic_write(out_dir / "evaluation.json", "w") as f:
        json.dump(result, f, indent=1)
    # One panel a theme (countries and capitals, family words, verb tenses), each PCA fitted on
    # its own words: three readable pictures rather than one crowded one.
    themes = evaluate.DEFAULT_PCA_THEMES
    fig, axes = plt.subplots(1, len(themes), figsize=(6.2 * len(themes), 5.6), layout="constrained")
    drawn = 0
    for ax, (theme, (groups, arrows)) in zip(axes, themes.items()):
        try:
            evaluate.pca_plot(emb, groups, arrows=arrows, ax=ax, title=theme)
            drawn += 1
        except ValueError as exc:                # too few of the words in a small corpus
            ax.set_axis_off()
            ax.set_title(f"{theme}: {exc}", fontsize=8, wrap=True)
    fig.suptitle(f"SGNS vectors trained on {corpus_info['name']}")
    if drawn:
        with atomic_write(out_dir / "pca.png") as f:
            fig.savefig(f, format="png", dpi=100)
    plt.close(fig)
    return evaluate.format_report(result)

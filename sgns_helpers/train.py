"""The training loop, shared by the notebooks and ``python -m sgns_helpers train``.

One epoch walks the corpus in chunks of ``chunk_tokens`` token ids. Each chunk gets its own random
generator, derived from ``(seed, epoch, chunk)``; from it come, in this order, the subsampling,
the (centre, context) pairs with a dynamic window, their shuffle, and then, step by step, the
negatives (in blocks mode: the subsampling, the windows, and step by step the shared negatives). So a seed reproduces a run exactly, and a checkpoint needs only the position and that
generator's state to continue as if the run had never stopped.

Each step is one step of the update rule (``mode``): ``pairs``, minibatch SGNS with
:func:`sgns_helpers.model.sgd_step` (the step of each of B shuffled pairs, all computed at the same
weights and summed; word2vec takes them one after another), or ``blocks``, the fast engine of
:mod:`sgns_helpers.fast`, imported only for that mode. Logging, divergence checks, probes and
checkpoints go by words processed and by wall time, the same way in both modes.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import signal
import sys
import threading
import time
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .corpus import check_min_count
from .files import atomic_write
from .model import check_damping, sgd_step
from .sampling import NoiseSampler, keep_probabilities, skipgram_pairs, subsample

# ---------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------

PROBE_WORDS = ("king", "france", "computer", "three", "good", "river")
MODES = ("pairs", "blocks")


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
    batch_size: int = 1024          # B pairs a step (blocks mode: centres an update)
    damping: float = 0.0            # a row updated n times in one step moves by n^(−damping)·(sum)
    seed: int = 1
    mode: str = "pairs"             # the update rule: "pairs" or "blocks" (the fast engine)
    block_size: int = 16            # blocks: S consecutive centres share their negatives ...
    shared_negatives: int = 16      # ... Kb of them, weighted so the expected gradient is SGNS's
    workers: int = 1                # blocks: processes updating the shared weights (1: reproducible)
    chunk_tokens: int = 1_000_000   # token ids a chunk (pairs never cross a chunk's edge)
    checkpoint_every: float = 300.0  # seconds between checkpoints (checked after every step)
    log_points: int = 500           # loss records (and divergence checks), evenly over the run
    probes: tuple = PROBE_WORDS     # words whose neighbours are logged during training
    probe_times: int = 5            # how many times during the run the probes are logged

    def __post_init__(self):
        self.probes = tuple(self.probes)          # a JSON round trip (checkpoints) gives a list

    def validate(self):
        """Raise a one-line ValueError for a setting that makes no sense; return self."""
        least = dict(epochs=1, dim=1, window=1, negatives=1, batch_size=1, block_size=1,
                     shared_negatives=1, workers=1, chunk_tokens=2, log_points=1, probe_times=1)
        for name, low in least.items():
            if not getattr(self, name) >= low:
                raise ValueError(f"--{name.replace('_', '-')} must be at least {low} "
                                 f"(got {getattr(self, name)})")
        checks = [
            (self.profile in PROFILES, f"profile must be one of {sorted(PROFILES)}, not {self.profile!r}"),
            (self.mode in MODES, f"--mode must be one of {', '.join(MODES)}, not {self.mode!r}"),
            (0 <= self.seed < 2**63, f"--seed must be an integer from 0 to 2**63 - 1 (got {self.seed})"),
            (self.sample > 0, f"--sample must be > 0, e.g. 1e-3 (got {self.sample})"),
            (0 < self.lr <= 1, f"--lr must be in (0, 1], e.g. 0.025 (got {self.lr})"),
            (self.checkpoint_every >= 0, "--checkpoint-every must be >= 0 seconds"),
            (self.workers == 1 or self.mode == "blocks",
             "--workers above 1 needs --mode blocks (the pairs mode runs in one process)"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        check_min_count(self.min_count)
        check_damping(self.damping)
        return self


PROFILES = {
    # The committed sample corpus, a small D, one epoch: seconds. What nbval and CI run.
    "quick": dict(epochs=1, dim=50, probes=("god", "king", "water", "said", "three")),
    # text8 (or $SGNS_CORPUS) with word2vec's usual skip-gram settings.
    "full": dict(),
}


# What differs between the update rules unless it is set explicitly. The pairs mode sums the
# steps word2vec would take one pair at a time, undamped. Blocks mode sums many more pair updates
# into each row (a block's pairs share their rows and negatives) and diverges without damping; its
# update size and damping were chosen on the stand-in corpus (benchmarks/results/, notebook 07).
MODE_DEFAULTS = {
    "pairs": dict(batch_size=1024, damping=0.0),
    "blocks": dict(batch_size=256, damping=0.35),
}


def make_settings(profile=None, **overrides):
    """Settings of a profile (default ``$SGNS_PROFILE``, else ``full``) with ``overrides`` applied
    (None is "not given"); the batch size and damping default to the mode's (MODE_DEFAULTS)."""
    profile = profile or os.environ.get("SGNS_PROFILE") or "full"
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)}, not {profile!r}")
    unknown = set(overrides) - {f.name for f in dataclasses.fields(Settings)}
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
    With W_out = 0 every score starts at 0; one random matrix is enough to break the symmetry."""
    W_in = ((rng.random((V, D), dtype=np.float64) - 0.5) / D).astype(dtype)
    W_out = np.zeros((V, D), dtype=dtype)
    return W_in, W_out


def learning_rate(lr0, progress, floor=1e-4):
    """Linear decay from lr0 at progress 0 to lr0·floor at progress 1 (progress ∈ [0, 1])."""
    return lr0 * max(floor, 1.0 - progress)


def chunk_rng(seed, epoch, chunk):
    """The generator of one chunk of one epoch: a pure function of (seed, epoch, chunk)."""
    return np.random.default_rng([seed, epoch, chunk])


def prepare_chunk(chunk_ids, keep_prob, settings, rng):
    """Subsample a chunk, make its skip-gram pairs and shuffle them, all with ``rng`` (before any
    negatives are drawn). Returns ``(centres, contexts, n_kept)``: two (P,) int32 arrays in a
    random order and the number of tokens that survived subsampling."""
    kept = subsample(chunk_ids, keep_prob, rng)                              # (n_kept,)
    centres, contexts = skipgram_pairs(kept, settings.window, rng)          # (P,), (P,)
    order = rng.permutation(len(centres))
    return centres[order], contexts[order], len(kept)


def pairs_step(W_in, W_out, centres, contexts, b, lr, rng, sampler, settings):
    """Step ``b`` of a chunk in pairs mode: the b-th batch of its shuffled pairs, K fresh negatives
    a pair, one :func:`sgns_helpers.model.sgd_step`. Returns ``(loss, pairs)``."""
    batch = slice(b * settings.batch_size, (b + 1) * settings.batch_size)
    negatives = sampler.sample(rng, (len(centres[batch]), settings.negatives))   # (B, K)
    loss = sgd_step(W_in, W_out, centres[batch], contexts[batch], negatives, lr,
                    damping=settings.damping)
    return loss, len(centres[batch])


@dataclass(frozen=True)
class UpdateRule:
    """How a mode turns a chunk into steps: ``prepare`` it once, count its steps, do step ``b``."""

    prepare: object         # (chunk_ids, keep_prob, settings, rng) -> (x, y, n_kept)
    n_steps: object         # (x, settings) -> int
    step: object            # (W_in, W_out, x, y, b, lr, rng, sampler, settings) -> (loss, pairs)
    helpers: object = None  # (trainer, n) -> worker processes, passed to step as helpers=


PAIRS_RULE = UpdateRule(prepare_chunk, lambda centres, s: -(-len(centres) // s.batch_size),
                        pairs_step)


def update_rule(mode):
    """The :class:`UpdateRule` of ``mode``; the fast engine is imported only when it is used."""
    if mode == "blocks":
        from . import fast
        return UpdateRule(fast.prepare_blocks, fast.n_steps, fast.blocks_step, fast.WorkerPool)
    return PAIRS_RULE


@contextmanager
def _closing(helpers, bar):
    """Stop the workers and close the progress bar however the block ends (after an error the bar
    is cleared, so that the error's one line is what is left)."""
    try:
        yield
        if bar is not None:
            bar.close()
    finally:
        if helpers is not None:
            helpers.close()
        if bar is not None and not bar.disable:
            bar.leave = False
            bar.close()


@contextmanager
def _signals_as_flag():
    """Within the block Ctrl-C (SIGINT) and SIGTERM set a flag (read by calling the yielded
    function) instead of raising at an arbitrary line, so the loop stops between two steps."""
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


def check_memory(settings, V, N):
    """Raise a one-line ValueError, naming the setting to lower and a value that fits, if one of
    the largest arrays of a run (V words, N token ids) would take over half this machine's memory
    (unknown where ``os.sysconf`` is missing: then nothing is checked)."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return
    s, n = settings, min(settings.chunk_tokens, N)
    row = (s.dim + 4) * 16                       # a pair's gathered rows and their gradients
    needs = [("dim", s.dim, lambda d: 2 * V * d * 4)]                    # the weights
    if s.mode == "pairs":                        # a chunk's pairs; a step's rows
        needs += [("window", s.window, lambda w: n * min(w + 1, 2 * n) * 16),
                  ("negatives", s.negatives, lambda k: s.batch_size * (k + 1) * row),
                  ("batch_size", s.batch_size, lambda b: b * (s.negatives + 1) * row)]
    else:                                        # a batch's plan
        needs += [("window", s.window, lambda w: 16 * s.batch_size * 24
                   * (s.block_size + 2 * w + s.shared_negatives))]
    for option, value, size in needs:
        if size(value) > memory / 2:
            raise ValueError(f"--{option.replace('_', '-')} {value} needs about "
                             f"{size(value) / 2**30:,.0f} GiB for one array, more than this "
                             f"machine's {memory / 2**30:.0f} GiB can hold; try at most "
                             f"{max(1, int(value * memory / 2 / size(value))):,}")


def peak_rss_mb():
    """Peak resident memory of this process so far, in MB, or None where the standard library
    cannot tell (``resource`` is Unix-only; Linux reports KiB, macOS bytes)."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


# ---------------------------------------------------------------------------------------------
# The trainer: state of one run
# ---------------------------------------------------------------------------------------------

@dataclass
class Position:
    """Where a run is: the next step to do, and the chunk generator's state before it (None at a
    chunk's start)."""

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
    ``run()`` trains to the end; ``checkpoint(path)`` and ``Trainer.resume(path, ids, vocab)``
    save and restore everything needed to continue exactly."""

    def __init__(self, settings, ids, vocab, checkpoint_path=None):
        self.settings = settings
        self.ids = ids                       # (N,) int32 token ids of the corpus
        self.vocab = vocab
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
        check_memory(settings, len(vocab), len(ids))
        self.keep_prob = keep_probabilities(vocab.counts, settings.sample)   # (V,)
        self.sampler = NoiseSampler(vocab.counts)
        self.W_in, self.W_out = init_weights(len(vocab), settings.dim,
                                             np.random.default_rng([settings.seed, 2**31]))
        self.pos = Position()
        self.history = {"words": [], "loss": [], "lr": [], "probes": []}
        self.corpus_sha256 = None            # named in checkpoints when known
        self.workers_private_mb = None       # what worker processes added to memory (--workers)
        self.saved = False                   # whether checkpoint_path holds this run's state

    @property
    def n_chunks(self):
        return math.ceil(len(self.ids) / self.settings.chunk_tokens)

    @property
    def total_words(self):
        return self.settings.epochs * len(self.ids)

    # -- the loop -------------------------------------------------------------------------------
    def run(self, progress=True):
        """Train from the current position to the end of the last epoch.

        Ctrl-C (SIGINT) is honoured between two steps: the state is checkpointed, then
        KeyboardInterrupt is raised, so ``resume`` continues exactly where the run stopped.
        """
        s = self.settings
        rule = update_rule(s.mode)
        helpers = rule.helpers(self, s.workers - 1) if s.workers > 1 else None
        step = rule.step if helpers is None else functools.partial(rule.step, helpers=helpers)
        bar = _progress_bar(self, progress)
        t_start = last_save = time.monotonic()
        # Overflow in a step means the run diverges; the checks below stop it with one clear
        # line, which numpy's warnings would only bury.
        with _signals_as_flag() as interrupted, _closing(helpers, bar), \
                np.errstate(over="ignore", invalid="ignore"):
            while self.pos.epoch < s.epochs:
                start = self.pos.chunk * s.chunk_tokens
                chunk_ids = self.ids[start:start + s.chunk_tokens]             # (n,)
                rng = chunk_rng(s.seed, self.pos.epoch, self.pos.chunk)
                *data, n_kept = rule.prepare(chunk_ids, self.keep_prob, s, rng)  # pairs or text
                n_steps = max(1, rule.n_steps(data[0], s))
                if self.pos.rng_state is not None:          # resuming inside this chunk
                    rng.bit_generator.state = self.pos.rng_state
                for b in range(self.pos.batch, n_steps):
                    before = self.pos.words_done + len(chunk_ids) * b / n_steps
                    lr = learning_rate(s.lr, before / self.total_words)
                    loss, pairs = step(self.W_in, self.W_out, *data, b, lr, rng, self.sampler, s)
                    if not math.isfinite(loss):
                        raise _diverged(self, loss)
                    smooth = self.pos.smooth_loss
                    self.pos.smooth_loss = loss if smooth is None else 0.98 * smooth + 0.02 * loss
                    self.pos.batch = b + 1
                    self.pos.pairs_done += pairs
                    # Logging, probes and checkpoints go by words and seconds, never by steps,
                    # so they happen alike in every mode and for any chunk or batch size.
                    done = self.pos.words_done + len(chunk_ids) * (b + 1) / n_steps
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
        """Record the smoothed loss and the learning rate at ``done`` words, or stop a run that
        diverged: a loss far above the (K+1)·log 2 of the start, or weights NaN, infinite or far
        larger than trained vectors (root mean square above 10; trained SGNS has 0.2 to 0.5)."""
        smooth = self.pos.smooth_loss
        rms = max(_rms(W) for W in (self.W_in, self.W_out))
        if not (smooth < 3 * (self.settings.negatives + 1) * math.log(2) and rms < 10):
            raise _diverged(self, smooth, rms)
        self.history["words"].append(int(done))
        self.history["loss"].append(float(smooth))
        self.history["lr"].append(float(lr))
        if bar is not None:
            bar.set_postfix(loss=f"{smooth:.3f}", lr=f"{lr:.5f}", refresh=False)

    def neighbours(self, words, topn=5):
        """{word: [(neighbour, cosine), ...]} from W_in, for the words that are in the vocabulary."""
        from .evaluate import Embeddings
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
        meta, W_in, W_out = read_checkpoint(path)
        trainer = cls(Settings(**meta["settings"]).validate(), ids, vocab, checkpoint_path=path)
        if W_in.shape != trainer.W_in.shape:
            raise ValueError(f"the checkpoint {path} was trained on another corpus or vocabulary "
                             f"({W_in.shape[0]} words, this one has {len(vocab)}); use another --out")
        trainer.W_in, trainer.W_out = W_in, W_out
        trainer.pos = Position(**meta["position"])
        trainer.history = meta["history"]
        trainer.corpus_sha256 = meta.get("corpus_sha256")
        trainer.saved = True
        return trainer

    # -- results --------------------------------------------------------------------------------
    def metrics(self, corpus_info):
        """What a run reports in metrics.json: settings, corpus, speeds, memory, history."""
        secs, rss, extra = max(self.pos.train_seconds, 1e-9), peak_rss_mb(), self.workers_private_mb
        return {"settings": dataclasses.asdict(self.settings), "corpus": corpus_info,
                "vocabulary_size": len(self.vocab), "corpus_words": int(self.vocab.corpus_words),
                "train_seconds": round(self.pos.train_seconds, 2),
                "raw_words_per_second": round(self.settings.epochs * self.vocab.corpus_words / secs),
                "effective_words_per_second": round(self.pos.kept_done / secs),
                "pairs_per_second": round(self.pos.pairs_done / secs),
                "peak_rss_mb": None if rss is None else round(rss, 1),
                "workers_private_mb": None if extra is None else round(extra, 1),
                "final_loss": self.history["loss"][-1] if self.history["loss"] else None,
                "history": self.history}


def read_checkpoint(path, weights=True):
    """``(meta, W_in, W_out)`` of a checkpoint (meta: settings, position, history, finished,
    corpus_sha256); with ``weights=False`` the matrices are not read and come back as None. A
    damaged file is a one-line ValueError naming it; no pickle is loaded."""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            W_in, W_out = (z["W_in"], z["W_out"]) if weights else (None, None)
        if not ({"settings", "position", "history"} <= set(meta)
                and set(meta["settings"]) <= {f.name for f in dataclasses.fields(Settings)}
                and set(meta["position"]) <= {f.name for f in dataclasses.fields(Position)}):
            raise KeyError("meta")
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"the checkpoint {path} is damaged or from another version of the course "
                         f"({type(exc).__name__}); delete it to start the run again, or choose "
                         f"another --out") from None
    return meta, W_in, W_out


def _rms(W):
    """Root mean square of the entries of W (float32, so a blown-up W may overflow the sum of
    squares: then it is summed again in float64; inf means W holds an infinite value)."""
    with np.errstate(over="ignore", invalid="ignore"):
        squares = float(np.dot(W.ravel(), W.ravel()))
    if not math.isfinite(squares):
        squares = float(np.einsum("i,i->", W.ravel(), W.ravel(), dtype=np.float64))
    return math.sqrt(squares / W.size)


def _diverged(trainer, loss, rms=None):
    s = trainer.settings
    where = f"epoch {trainer.pos.epoch + 1}, {100 * trainer.pos.words_done / trainer.total_words:.0f}% done"
    what = f"loss {loss:.4g}" + ("" if rms is None else
                                 f", weights of root mean square {rms:.3g}" if math.isfinite(rms)
                                 else ", weights that are no longer finite numbers")
    kept = (f"; the last good checkpoint is kept in {trainer.checkpoint_path}" if trainer.saved
            else "; no checkpoint had been written yet")
    why = ("" if s.mode == "pairs" else f" (in blocks mode each shared negative stands for "
           f"about (window + 1)·K/Kb = {(s.window + 1) * s.negatives / s.shared_negatives:.3g} "
           f"pairs of each centre: a wide --window needs a lower --lr)")
    return RuntimeError(f"training diverged ({what}) at {where}: lower --lr (now {s.lr}), "
                        f"--batch-size (now {s.batch_size}) or raise --damping (now {s.damping})"
                        f"{why}{kept}")


def _progress_bar(trainer, progress):
    """A text progress bar (also in notebooks: no widgets). It shows after 2 s, and outside a
    terminal redraws at most every 10 s, so that notebook outputs and logs stay short."""
    if not progress:
        return None
    from tqdm import tqdm
    return tqdm(total=trainer.total_words, initial=trainer.pos.words_done, unit="word",
                unit_scale=True, smoothing=0.1, dynamic_ncols=True, desc="training", delay=2,
                mininterval=1.0 if sys.stderr.isatty() else 10.0)

"""The sampling stage, drawn afresh every epoch: subsampling of frequent words, the dynamic
window's skip-gram pairs, and noise words from unigram^0.75.

Everything random takes a ``numpy.random.Generator`` from the caller, so one seed reproduces a run.

Data flow for one chunk of token ids (``train.prepare_chunk`` does the first three)::

    ids (n,) → subsample(ids, keep_probabilities(counts, t), rng) → kept (m,)
             → skipgram_pairs(kept, window, rng) → centres, contexts (P,) → shuffled
    NoiseSampler(counts).sample(rng, (B, K)) → negatives (B, K), a batch at a time
"""
from __future__ import annotations

import numpy as np

# ---------------------------------------------------------------------------------------------
# Subsampling of frequent words
# ---------------------------------------------------------------------------------------------


def keep_probabilities(counts, sample) -> np.ndarray:
    """word2vec's probability of keeping each occurrence of a word when subsampling: with f the
    word's count (``counts``, (V,)), N the total and t = ``sample`` > 0 (e.g. 1e-3),
    ``keep = (sqrt(f / (t N)) + 1) · t N / f``, clipped to at most 1. Words below f/N ≈ 2.6·t are
    always kept; a word at f/N = 100·t keeps about 11 %. ``sample=1`` keeps every token; 0 is
    rejected rather than read as "off". Returns (V,) float64 probabilities in (0, 1]."""
    sample = float(sample)
    if not sample > 0:
        raise ValueError(f"sample must be > 0 (got {sample}); it is the subsampling threshold, "
                         f"e.g. 1e-3 or 1e-4, and sample=1 keeps every token")
    f = np.asarray(counts, dtype=np.float64)                     # (V,)
    if f.ndim != 1 or f.size == 0 or np.any(f <= 0):
        raise ValueError("counts must be a non-empty 1-D array of positive word counts")
    tN = sample * f.sum()
    return np.minimum((np.sqrt(f / tN) + 1.0) * tN / f, 1.0)


def subsample(ids, keep_prob, rng) -> np.ndarray:
    """Keep each token of ``ids`` (N,) with probability ``keep_prob[id]`` ((V,), from
    :func:`keep_probabilities`), independently, drawing with ``rng``. Returns (M,) int32, the kept
    ids in their original order."""
    ids = np.asarray(ids)
    keep_prob = np.asarray(keep_prob, dtype=np.float64)
    kept = []
    step = 1 << 20                                               # bounded temporaries
    for start in range(0, ids.size, step):
        block = ids[start:start + step]
        kept.append(block[rng.random(block.size) < keep_prob[block]])
    if not kept:
        return np.zeros(0, dtype=np.int32)
    return np.concatenate(kept).astype(np.int32, copy=False)


# ---------------------------------------------------------------------------------------------
# Skip-gram pairs with a dynamic window
# ---------------------------------------------------------------------------------------------

def dynamic_windows(n, window, rng) -> np.ndarray:
    """word2vec's dynamic window: each of ``n`` positions draws its reach b uniformly from
    1..``window``. Returns ``(n,)`` int64."""
    if int(window) != window or window < 1:
        raise ValueError(f"window must be an integer ≥ 1 (got {window})")
    return rng.integers(1, int(window) + 1, size=n)


def skipgram_pairs(ids, window, rng):
    """(centre, context) pairs of one chunk of token ids ``ids`` (n,), in corpus order, with
    word2vec's dynamic window: each position i draws its reach b_i in 1..``window`` with ``rng``
    (:func:`dynamic_windows`) and pairs with the tokens at offsets 1..b_i on both sides, inside the
    chunk only. So distance d is used with probability (window − d + 1) / window, and a token
    makes 2·E[b] = window + 1 pairs on average. Returns ``(centres, contexts)``: two (P,) int32
    arrays, grouped by distance (shuffle them)."""
    ids = np.asarray(ids).astype(np.int32, copy=False)
    n = ids.size
    b = dynamic_windows(n, window, rng)                         # (n,) each position's reach
    centres, contexts = [], []
    for d in range(1, min(int(window), n - 1) + 1):
        right = b[:-d] >= d                                     # (n-d,) centre i, context i + d
        centres.append(ids[:-d][right])
        contexts.append(ids[d:][right])
        left = b[d:] >= d                                       # (n-d,) centre i, context i - d
        centres.append(ids[d:][left])
        contexts.append(ids[:-d][left])
    if not centres:
        return np.zeros(0, np.int32), np.zeros(0, np.int32)
    return np.concatenate(centres), np.concatenate(contexts)   # (P,), (P,)


# ---------------------------------------------------------------------------------------------
# Noise words
# ---------------------------------------------------------------------------------------------

def noise_distribution(counts, power=0.75) -> np.ndarray:
    """The noise distribution P_n(w) = count(w)^power / Σ_v count(v)^power of (V,) non-negative
    ``counts``: word2vec's power is 0.75 (1 is the unigram, 0 the uniform distribution). Returns
    (V,) float64 probabilities summing to 1."""
    c = np.asarray(counts, dtype=np.float64)                     # (V,)
    if c.ndim != 1 or c.size == 0 or np.any(c < 0) or not np.isfinite(c).all() or c.sum() <= 0:
        raise ValueError("counts must be a non-empty 1-D array of non-negative counts, not all zero")
    weights = c ** power
    weights[c == 0] = 0.0                                        # 0^0 would give a never-seen word weight 1
    return weights / weights.sum()


def alias_table(p):
    """Walker's alias table for the distribution ``p`` (Vose's construction).

    Column i of a V-column table holds word i with probability ``accept[i]`` and word
    ``alias[i]`` otherwise. Every column has mass 1/V: columns with too little mass (p·V < 1) are
    topped up from one with too much, which then becomes too little or stays too much in turn.
    Returns ``(accept (V,) float64, alias (V,) int32)``.
    """
    V = p.size
    scaled = (p * V).tolist()                                   # column masses in units of 1/V
    accept = np.ones(V)
    alias = np.arange(V, dtype=np.int32)
    small = [i for i, m in enumerate(scaled) if m < 1.0]
    large = [i for i, m in enumerate(scaled) if m >= 1.0]
    while small and large:
        s, l = small.pop(), large[-1]
        accept[s] = scaled[s]
        alias[s] = l
        scaled[l] -= 1.0 - scaled[s]                            # l gave column s what it lacked
        if scaled[l] < 1.0:
            small.append(large.pop())
    # What is left holds mass 1 up to rounding: those columns always accept their own word.
    return accept, alias


class NoiseSampler:
    """Draws negative samples from ``noise_distribution(counts, power)`` (its (V,) ``p``) with the
    alias method (:func:`alias_table`: ``accept``, ``alias``): one uniform number, two lookups and
    a comparison a draw, whatever V is; several times faster than ``searchsorted`` on the CDF."""

    def __init__(self, counts, power=0.75):
        self.p = noise_distribution(counts, power)
        self.accept, self.alias = alias_table(self.p)

    def __len__(self):
        return self.p.size

    def sample(self, rng, shape) -> np.ndarray:
        """Word ids drawn independently from the noise distribution with ``rng``: an int32 array
        of ``shape``, e.g. ``(B, K)`` (K, the last entry, at least 1)."""
        shape = (shape,) if np.isscalar(shape) else tuple(shape)
        if len(shape) == 0 or shape[-1] < 1 or min(shape) < 0:
            raise ValueError(f"the number of negatives K must be at least 1 (got shape {shape})")
        x = rng.random(shape) * self.p.size                     # one uniform gives both parts:
        column = x.astype(np.intp)                              # which column (uniform in 0..V-1)
        x -= column                                             # and a fresh uniform in [0, 1)
        return np.where(x < self.accept[column], column, self.alias[column]).astype(np.int32)


def zipf_batch(V, B, K, rng, exponent=1.0, noise_power=0.75):
    """A synthetic batch whose ids repeat the way words in text do (for experiments).

    Word r (0-based rank) has probability ∝ 1/(r+1)^exponent (Zipf's law); centres and contexts
    are drawn from it and negatives from it raised to ``noise_power`` (word2vec's noise
    distribution). Real training subsamples frequent words, so real batches repeat somewhat less.

    Returns:
        ``(centres (B,), contexts (B,), negatives (B, K))`` as int64 arrays.
    """
    weights = 1.0 / np.arange(1, V + 1) ** exponent
    words, noise = weights / weights.sum(), noise_distribution(weights, noise_power)
    return rng.choice(V, B, p=words), rng.choice(V, B, p=words), rng.choice(V, (B, K), p=noise)

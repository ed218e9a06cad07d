import numpy as np
import pytest
from scipy import stats

from sgns_helpers.sampling import (NoiseSampler, alias_table, dynamic_windows, keep_probabilities,
                                   noise_distribution, skipgram_pairs, subsample)

COUNTS = np.array([1000, 400, 250, 90, 40, 17, 9, 5, 5, 3, 1, 1])


def one_line(excinfo):
    msg = str(excinfo.value)
    assert msg and "\n" not in msg
    return msg


# ---------------------------------------------------------------- the noise distribution

def test_noise_distribution_is_normalised_count_to_the_power():
    p = noise_distribution(COUNTS)
    assert p.dtype == np.float64 and p.shape == COUNTS.shape
    np.testing.assert_allclose(p, COUNTS ** 0.75 / np.sum(COUNTS ** 0.75), rtol=1e-14)
    np.testing.assert_allclose(noise_distribution(COUNTS, power=1.0), COUNTS / COUNTS.sum())
    np.testing.assert_allclose(noise_distribution(COUNTS, power=0.0), np.full(12, 1 / 12))
    # The 0.75 power moves mass from frequent to rare words.
    assert p[0] < COUNTS[0] / COUNTS.sum() and p[-1] > COUNTS[-1] / COUNTS.sum()


def test_a_word_with_count_zero_is_never_noise():
    counts = np.array([5, 0, 3])
    for power in (0.0, 0.75):
        assert noise_distribution(counts, power)[1] == 0
        assert not np.any(NoiseSampler(counts, power).sample(np.random.default_rng(0), 10_000) == 1)


@pytest.mark.parametrize("counts", [[], [0, 0], [3, -1], [[1, 2]]])
def test_bad_counts_are_rejected(counts):
    with pytest.raises(ValueError) as e:
        noise_distribution(counts)
    one_line(e)


def test_alias_table_reproduces_the_distribution_exactly():
    # P(word i) = (accept[i] + Σ_{j: alias[j] = i} (1 − accept[j])) / V
    for p in (noise_distribution(COUNTS),
              noise_distribution(np.random.default_rng(1).integers(1, 10**6, 5000)),
              np.array([1.0]), np.array([0.5, 0.5])):
        accept, alias = alias_table(p)
        assert alias.dtype == np.int32 and np.all((accept >= 0) & (accept <= 1))
        mass = accept.copy()
        np.add.at(mass, alias, 1.0 - accept)
        np.testing.assert_allclose(mass / p.size, p, atol=1e-15, rtol=1e-12)


def test_sampler_matches_count_to_the_075_by_chi_square():
    sampler = NoiseSampler(COUNTS)
    draws = sampler.sample(np.random.default_rng(0), (40_000, 5))
    observed = np.bincount(draws.ravel(), minlength=COUNTS.size)
    expected = noise_distribution(COUNTS) * draws.size
    assert stats.chisquare(observed, expected).pvalue > 1e-3
    # The test has power: the same draws are far from the unigram and the uniform distributions.
    for power in (1.0, 0.0):
        wrong = noise_distribution(COUNTS, power) * draws.size
        assert stats.chisquare(observed, wrong).pvalue < 1e-12


def test_sampler_on_a_large_vocabulary():
    counts = (1e6 / np.arange(1, 70_001)).astype(np.int64) + 5          # Zipf-like, V = 70k
    sampler = NoiseSampler(counts)
    draws = sampler.sample(np.random.default_rng(1), (1000, 1024, 5)).ravel()
    assert draws.min() >= 0 and draws.max() < counts.size
    # Top 20 words one by one, the rest pooled into 4 frequency bands.
    edges = [20, 200, 2000, 20_000, counts.size]
    observed = np.bincount(draws, minlength=counts.size)
    obs = np.concatenate([observed[:20], np.add.reduceat(observed, edges[:-1])])
    exp = np.concatenate([sampler.p[:20], np.add.reduceat(sampler.p, edges[:-1])]) * draws.size
    assert stats.chisquare(obs, exp).pvalue > 1e-3


def test_sample_shape_dtype_and_reproducibility():
    sampler = NoiseSampler(COUNTS)
    a = sampler.sample(np.random.default_rng(7), (64, 5))
    b = sampler.sample(np.random.default_rng(7), (64, 5))
    assert a.shape == (64, 5) and a.dtype == np.int32
    np.testing.assert_array_equal(a, b)
    assert sampler.sample(np.random.default_rng(7), 3).shape == (3,)
    assert len(sampler) == COUNTS.size


@pytest.mark.parametrize("shape", [(8, 0), 0, (4, -1), ()])
def test_fewer_than_one_negative_is_rejected(shape):
    with pytest.raises(ValueError) as e:
        NoiseSampler(COUNTS).sample(np.random.default_rng(0), shape)
    assert "at least 1" in one_line(e)


# ---------------------------------------------------------------- skip-gram pairs

def test_pairs_stay_inside_the_chunk_and_within_the_window():
    n, window = 2000, 5
    centres, contexts = skipgram_pairs(np.arange(n), window, np.random.default_rng(0))
    assert centres.dtype == np.int32 and contexts.dtype == np.int32
    assert centres.shape == contexts.shape
    d = contexts.astype(np.int64) - centres
    assert np.all((np.abs(d) >= 1) & (np.abs(d) <= window))
    assert centres.min() >= 0 and contexts.min() >= 0
    assert centres.max() < n and contexts.max() < n
    # No pair twice.
    assert np.unique(centres.astype(np.int64) * n + contexts).size == centres.size


def test_each_position_uses_one_window_size_on_both_sides():
    n, window = 500, 4
    centres, contexts = skipgram_pairs(np.arange(n), window, np.random.default_rng(3))
    d = contexts.astype(np.int64) - centres
    for i in range(window, n - window):                    # away from the ends
        mine = np.sort(d[centres == i])
        b = mine.max()
        np.testing.assert_array_equal(mine, np.r_[-b:0, 1:b + 1])
    # At the ends the same reach is cut off, never wrapped round.
    assert np.all(d[centres == 0] > 0) and np.all(d[centres == n - 1] < 0)


def test_distance_distribution_follows_the_dynamic_window():
    n, window = 200_000, 5
    centres, contexts = skipgram_pairs(np.arange(n), window, np.random.default_rng(0))
    dist = np.abs(contexts.astype(np.int64) - centres)
    observed = np.bincount(dist, minlength=window + 1)[1:]
    d = np.arange(1, window + 1)
    # Position i reaches distance d on the right if i + d < n and b_i ≥ d: P(b ≥ d) = (W−d+1)/W.
    expected = 2 * (n - d) * (window - d + 1) / window
    np.testing.assert_allclose(observed, expected, rtol=0.01)
    assert stats.chisquare(observed, expected * observed.sum() / expected.sum()).pvalue > 1e-3
    # About window + 1 pairs per token.
    assert abs(centres.size / n - (window + 1)) < 0.02


def test_pairs_carry_the_token_ids_and_are_reproducible():
    ids = np.array([7, 3, 9, 3, 1], dtype=np.int64)
    c1, x1 = skipgram_pairs(ids, 2, np.random.default_rng(5))
    c2, x2 = skipgram_pairs(ids, 2, np.random.default_rng(5))
    np.testing.assert_array_equal(c1, c2)
    np.testing.assert_array_equal(x1, x2)
    # window=1 reaches only the neighbours, both sides, always.
    c, x = skipgram_pairs(ids, 1, np.random.default_rng(0))
    got = sorted(zip(c.tolist(), x.tolist()))
    want = sorted([(7, 3), (3, 7), (3, 9), (9, 3), (9, 3), (3, 9), (3, 1), (1, 3)])
    assert got == want


@pytest.mark.parametrize("n", [0, 1])
def test_too_short_chunks_give_no_pairs(n):
    c, x = skipgram_pairs(np.zeros(n, np.int32), 5, np.random.default_rng(0))
    assert c.size == x.size == 0 and c.dtype == np.int32


@pytest.mark.parametrize("window", [0, -2, 2.5])
def test_bad_window_is_rejected(window):
    with pytest.raises(ValueError) as e:
        skipgram_pairs(np.arange(10), window, np.random.default_rng(0))
    assert "window" in one_line(e)


# -- subsampling --------------------------------------------------------------------------

def test_keep_probabilities_follow_word2vecs_formula():
    counts = np.array([50_000, 10_000, 1_000, 100, 10, 1])
    N, t = counts.sum(), 1e-3
    keep = keep_probabilities(counts, t)
    assert keep.dtype == np.float64
    for f, k in zip(counts, keep):
        assert k == pytest.approx(min(1.0, (np.sqrt(f / (t * N)) + 1) * (t * N) / f), rel=1e-12)
    assert keep[0] < keep[1] < keep[2] < 1.0 and np.all(keep[3:] == 1.0)
    # sample = 1 keeps everything; a smaller threshold keeps less.
    assert np.all(keep_probabilities(counts, 1.0) == 1.0)
    assert np.all(keep_probabilities(counts, 1e-4) <= keep)


@pytest.mark.parametrize("sample", [0, -1e-3, float("nan")])
def test_sample_must_be_positive(sample):
    with pytest.raises(ValueError) as e:
        keep_probabilities([5, 3], sample)
    assert "sample must be > 0" in one_line(e)


def test_subsample_keep_rates_match_the_formula():
    counts = np.array([400_000, 100_000, 20_000, 5_000, 1_000])
    ids = np.repeat(np.arange(counts.size, dtype=np.int32), counts)
    np.random.default_rng(0).shuffle(ids)
    keep = keep_probabilities(counts, 1e-2)
    kept = subsample(ids, keep, np.random.default_rng(1))
    assert kept.dtype == np.int32
    rate = np.bincount(kept, minlength=counts.size) / counts
    sd = np.sqrt(keep * (1 - keep) / counts)
    assert np.all(np.abs(rate - keep) <= 5 * sd + 1e-12)
    assert keep[-1] == 1.0 and rate[-1] == 1.0
    # Order kept: the kept tokens are a subsequence of the input (check on a short prefix).
    short = subsample(ids[:2000], keep, np.random.default_rng(2))
    it = iter(ids[:2000].tolist())
    assert all(any(x == y for y in it) for x in short.tolist())
    np.testing.assert_array_equal(kept, subsample(ids, keep, np.random.default_rng(1)))


def test_dynamic_windows_are_uniform_in_one_to_window():
    b = dynamic_windows(60_000, 128, np.random.default_rng(0))
    assert b.min() == 1 and b.max() == 128
    assert np.abs(np.bincount(b)[1:] / len(b) - 1 / 128).max() < 0.002

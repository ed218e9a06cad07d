"""The fast engine: blocks of centres sharing their negatives, and worker processes."""
import multiprocessing

import numpy as np
import pytest

from sgns_helpers.fast import block_step, plan_blocks, run_block_plan
from sgns_helpers.functions import log_sigmoid, sigmoid
from sgns_helpers.gradcheck import relative_error
from sgns_helpers.model import loss_and_grads

def block_pairs(tokens, reach, nb):
    """The (block, centre id, context id) pairs a block step trains, by plain loops."""
    C = len(reach)
    w, S = (len(tokens) - C) // 2, C // nb
    pairs = []
    for i in range(C):
        centre = tokens[w + i]
        if centre < 0:
            continue
        for d in range(1, reach[i] + 1):
            for p in (w + i - d, w + i + d):
                if tokens[p] >= 0:
                    pairs.append((i // S, centre, tokens[p]))
    return pairs


def brute_force_block_step(W_in, W_out, tokens, reach, shared, lr, K):
    """One block step as loops over centres, their pairs and their block's shared negatives,
    each weighted (pairs of the centre)·K/Kb (damping 0, summed)."""
    nb, Kb = shared.shape
    C = len(reach)
    S, w = C // nb, (len(tokens) - C) // 2
    d_in, d_out = np.zeros_like(W_in), np.zeros_like(W_out)
    for i in range(C):
        centre = tokens[w + i]
        contexts = [tokens[p] for d in range(1, reach[i] + 1) for p in (w + i - d, w + i + d)
                    if tokens[p] >= 0]
        if centre < 0 or not contexts:
            continue
        v_w = W_in[centre]
        for c in contexts:
            g_pos = sigmoid(W_out[c] @ v_w) - 1
            d_in[centre] += g_pos * W_out[c]
            d_out[c] += g_pos * v_w
        for n in shared[i // S]:
            g_neg = len(contexts) * K / Kb * sigmoid(W_out[n] @ v_w)
            d_in[centre] += g_neg * W_out[n]
            d_out[n] += g_neg * v_w
    return W_in - lr * d_in, W_out - lr * d_out, len(block_pairs(tokens, reach, nb))


def random_block_input(rng, V, nb, S, w, Kb, pad=True):
    tokens = rng.integers(0, V, nb * S + 2 * w)
    if pad:                                   # the start of a chunk, and a padded last block
        tokens[:w] = -1
        tokens[-(w + 3):] = -1
    return tokens, rng.integers(1, w + 1, nb * S), rng.integers(0, V, (nb, Kb))


def test_block_step_equals_a_brute_force_loop():
    rng = np.random.default_rng(11)
    V, D, nb, S, w, Kb, K = 9, 5, 3, 4, 2, 6, 5
    W_in, W_out = rng.normal(scale=0.4, size=(2, V, D))
    tokens, reach, shared = random_block_input(rng, V, nb, S, w, Kb)
    expected_in, expected_out, n_pairs = brute_force_block_step(W_in, W_out, tokens, reach, shared,
                                                                0.1, K)
    A, O = W_in.copy(), W_out.copy()
    loss, pairs = block_step(A, O, tokens, reach, shared, 0.1, K=K, damping=0.0)
    assert pairs == n_pairs
    np.testing.assert_allclose(A, expected_in, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(O, expected_out, rtol=1e-12, atol=1e-13)
    # the loss: −log σ(s_pos) a pair, −(n_i·K/Kb)·log σ(−s_neg) a centre and shared negative
    C = len(reach)
    S, w = C // nb, (len(tokens) - C) // 2
    total = 0.0
    for i in range(C):
        contexts = [tokens[p] for d in range(1, reach[i] + 1) for p in (w + i - d, w + i + d)
                    if tokens[p] >= 0]
        if tokens[w + i] < 0 or not contexts:
            continue
        v_w = W_in[tokens[w + i]]
        total -= sum(log_sigmoid(W_out[c] @ v_w) for c in contexts)
        total -= len(contexts) * K / Kb * sum(log_sigmoid(-W_out[n] @ v_w) for n in shared[i // S])
    assert loss == pytest.approx(total / n_pairs, rel=1e-12)


def test_a_plan_of_many_updates_equals_one_block_step_after_another():
    """The trainer plans G updates at once; that is the same as G block steps in a row, damping,
    padding and all (up to float rounding)."""
    rng = np.random.default_rng(14)
    V, D, G, nb, S, w, Kb = 12, 6, 4, 2, 3, 2, 4
    W_in, W_out = rng.normal(scale=0.5, size=(2, V, D))
    tokens, reach, shared = random_block_input(rng, V, G * nb, S, w, Kb)
    tokens[w + 2 * nb * S:w + 3 * nb * S] = -1               # update 2 has no centre at all
    plan = plan_blocks(tokens, reach, shared, updates=G, K=5, damping=0.5, dtype=np.float64)
    A, O = W_in.copy(), W_out.copy()
    loss, pairs = run_block_plan(A, O, plan, 0.2)
    B_, P_, losses, counted = W_in.copy(), W_out.copy(), [], 0
    for u in range(G):
        c0 = u * nb * S
        l, p = block_step(B_, P_, tokens[c0:c0 + nb * S + 2 * w], reach[c0:c0 + nb * S],
                          shared[u * nb:(u + 1) * nb], 0.2, K=5, damping=0.5)
        losses.append(l * p)
        counted += p
    assert pairs == counted and plan.pairs[2] == 0
    assert loss == pytest.approx(sum(losses) / counted, rel=1e-12)
    np.testing.assert_allclose(A, B_, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(O, P_, rtol=1e-12, atol=1e-13)
    # the loss measured on the first update only: the same steps
    A2, O2 = W_in.copy(), W_out.copy()
    first_loss, _ = run_block_plan(A2, O2, plan, 0.2, measure_loss="first")
    np.testing.assert_array_equal(A2, A)
    assert first_loss == pytest.approx(losses[0] / plan.pairs[0], rel=1e-12)


def test_block_step_expected_update_is_the_sgns_gradient():
    """Averaged over draws of the shared negatives, a block step moves W by −lr·P·E[dW] for the P
    pairs of its text: the same expectation as standard SGNS with K negatives per pair (computed
    exactly by enumerating the noise distribution with loss_and_grads)."""
    rng = np.random.default_rng(12)
    V, D, nb, S, w, Kb, K = 6, 4, 2, 3, 2, 4, 5
    W_in, W_out = rng.normal(scale=0.5, size=(2, V, D))
    tokens, reach, _ = random_block_input(rng, V, nb, S, w, Kb)
    pairs = block_pairs(tokens, reach, nb)
    centres = np.array([p[1] for p in pairs])
    contexts = np.array([p[2] for p in pairs])
    P = len(pairs)
    prob = rng.random(V) + 0.2
    prob /= prob.sum()
    exact_in, exact_out = np.zeros_like(W_in), np.zeros_like(W_out)
    for n in range(V):       # E over iid negatives of loss_and_grads = Σ_n p(n)·grad(all K negatives = n)
        _, d_in, d_out = loss_and_grads(W_in, W_out, centres, contexts, np.full((P, K), n))
        exact_in += prob[n] * d_in
        exact_out += prob[n] * d_out
    lr, draws = 1e-3, 4000
    mean_in, mean_out = np.zeros_like(W_in), np.zeros_like(W_out)
    for _ in range(draws):
        A, O = W_in.copy(), W_out.copy()
        block_step(A, O, tokens, reach, rng.choice(V, size=(nb, Kb), p=prob), lr, K=K, damping=0.0)
        mean_in += (W_in - A) / (lr * P * draws)
        mean_out += (W_out - O) / (lr * P * draws)
    assert relative_error(mean_in, exact_in) < 0.03
    assert relative_error(mean_out, exact_out) < 0.03
    # and a single draw is far from it: the test would notice a biased weighting
    A, O = W_in.copy(), W_out.copy()
    block_step(A, O, tokens, reach, np.zeros((nb, Kb), int), lr, K=K, damping=0.0)
    assert relative_error((W_out - O) / (lr * P), exact_out) > 0.1


def test_block_step_damping_dtype_and_bad_input():
    rng = np.random.default_rng(13)
    V, D, nb, S, w, Kb = 7, 4, 2, 5, 2, 3
    W_in, W_out = rng.normal(scale=0.3, size=(2, V, D)).astype(np.float32)
    tokens = rng.integers(1, V, nb * S + 2 * w)
    tokens[w:w + nb * S] = 0                              # the same centre, ten times
    reach, shared = np.full(nb * S, w), rng.integers(1, V, (nb, Kb))
    plain, damped = W_in.copy(), W_in.copy()
    loss, pairs = block_step(plain, W_out.copy(), tokens, reach, shared, 0.05, K=5, damping=0.0)
    block_step(damped, W_out.copy(), tokens, reach, shared, 0.05, K=5, damping=1.0)
    assert plain.dtype == np.float32 and isinstance(loss, float) and loss > 0
    assert pairs == nb * S * 2 * w
    # damping 1 turns the sum of the 10 updates of row 0 into their mean
    np.testing.assert_allclose(W_in[0] - damped[0], (W_in[0] - plain[0]) / 10, rtol=1e-4, atol=1e-7)
    with pytest.raises(ValueError, match="blocks"):
        block_step(W_in.copy(), W_out.copy(), tokens[:-1], reach, shared, 0.1, K=5)


def test_block_damping_counts_a_token_in_two_spans_once():
    """A token near a block's edge lies in the spans of two blocks (its pairs are split between
    them, not repeated): the damping counts it once. A token that occurs twice counts twice."""
    S, w, nb = 4, 2, 2
    tokens = np.arange(nb * S + 2 * w)                   # all distinct: 12 tokens
    tokens[-1] = tokens[0]                              # ... except the first and the last
    reach = np.full(nb * S, w)
    shared = np.array([[20, 21], [22, 23]])
    plan = plan_blocks(tokens, reach, shared, K=5, damping=1.0, dtype=np.float64)
    sums, uniq, _ = plan.scatter_out[0]
    factor = dict(zip(uniq.tolist(), sums.data[sums.indptr[:-1]]))    # id → n^(−1)
    in_both_spans = tokens[S:S + 2 * w]                 # positions 4..7: spans of blocks 0 and 1
    assert all(factor[t] == 1.0 for t in in_both_spans)
    assert factor[tokens[0]] == 0.5                     # two occurrences in the text
    assert all(np.diff(sums.indptr)[list(uniq).index(t)] == 2 for t in in_both_spans)


# -- batches of a chunk, and worker processes --------------------------------------------------------

from collections import Counter  # noqa: E402
from concurrent.futures import Future  # noqa: E402

from sgns_helpers import corpus as corpus_mod  # noqa: E402
from sgns_helpers import fast  # noqa: E402
from sgns_helpers.sampling import NoiseSampler  # noqa: E402
from sgns_helpers.train import Trainer, make_settings  # noqa: E402

@pytest.mark.parametrize("start_method", ["forkserver", "fork", "spawn"])
def test_blocks_mode_with_two_worker_processes_trains(small_corpus, monkeypatch, start_method):
    monkeypatch.setattr(fast, "START_METHOD", start_method)
    s = make_settings("quick", corpus=str(small_corpus), mode="blocks", workers=2, epochs=2,
                      dim=16, min_count=3, chunk_tokens=20_000, checkpoint_every=1e9, seed=7)
    ids, vocab = corpus_mod.load_corpus(small_corpus, min_count=s.min_count)
    t = Trainer(s, ids, vocab).run(progress=False)
    assert np.isfinite(t.W_in).all() and t.pos.epoch == 2
    assert t.history["loss"][-1] < t.history["loss"][0] - 0.2
    assert not multiprocessing.active_children()                  # the workers have ended
    with pytest.raises(ValueError, match="--workers"):
        make_settings("quick", workers=2)                       # pairs mode runs in one process


class InProcessHelpers:
    """Stands in for fast.WorkerPool: runs the jobs of the other 'processes' here, in order."""

    def __init__(self, n, W):
        self.n, self.W = n, W

    def submit(self, jobs):
        done = []
        for job in jobs:
            done.append(Future())
            done[-1].set_result(fast.block_job(self.W, self.W, *job))
        return done


@pytest.mark.parametrize("workers", [1, 3])
def test_blocks_step_trains_exactly_the_dynamic_window_pairs_of_a_chunk(monkeypatch, workers):
    """Cutting a chunk into batches, updates, blocks and the runs of several workers (with halos
    and padding) loses and invents no pair."""
    rng = np.random.default_rng(0)
    kept = rng.integers(0, 50, 203).astype(np.int32)          # not a multiple of anything
    reach = rng.integers(1, 4, 203)
    settings = make_settings("quick", mode="blocks", window=3, block_size=8, batch_size=16,
                             workers=workers)
    seen = Counter()

    def recording_run(W_in, W_out, plan, lr, measure_loss):
        # the pairs of the plan: its mask relates centre i of a block to its span's positions
        for u, j, i, p in zip(*np.nonzero(plan.mask)):
            seen[plan.centre_ids[u, j, i], plan.out_ids[u, j, p]] += 1
        return 0.0, int(plan.pairs.sum())

    monkeypatch.setattr(fast, "run_block_plan", recording_run)
    sampler = NoiseSampler(np.ones(50))
    W = np.zeros((50, 2))
    helpers = InProcessHelpers(workers - 1, W) if workers > 1 else None
    total = sum(fast.blocks_step(W, W, kept, reach, b, 0.1, rng, sampler, settings, helpers)[1]
                for b in range(fast.n_steps(kept, settings)))
    expected = Counter()
    for i, b in enumerate(reach):
        for d in range(1, b + 1):
            for p in (i - d, i + d):
                if 0 <= p < len(kept):
                    expected[kept[i], kept[p]] += 1
    assert seen == expected and total == sum(expected.values())

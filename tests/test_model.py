import numpy as np
import pytest

from sgns_helpers.functions import log_sigmoid, sigmoid
from sgns_helpers.gradcheck import numerical_gradient, relative_error
from sgns_helpers.model import example_loss_and_grads


def random_example(rng, D=6, K=4, scale=0.7, dtype=np.float64):
    return (rng.normal(scale=scale, size=D).astype(dtype),
            rng.normal(scale=scale, size=D).astype(dtype),
            rng.normal(scale=scale, size=(K, D)).astype(dtype))


@pytest.mark.parametrize("seed", range(5))
def test_example_gradients_match_central_differences(seed):
    v_w, u_c, U_neg = random_example(np.random.default_rng(seed))
    loss, g_v_w, g_u_c, g_U_neg = example_loss_and_grads(v_w, u_c, U_neg)
    assert np.ndim(loss) == 0 and loss > 0
    num_v = numerical_gradient(lambda x: example_loss_and_grads(x, u_c, U_neg)[0], v_w)
    num_u = numerical_gradient(lambda x: example_loss_and_grads(v_w, x, U_neg)[0], u_c)
    num_U = numerical_gradient(lambda x: example_loss_and_grads(v_w, u_c, x)[0], U_neg)
    assert relative_error(g_v_w, num_v) < 1e-7
    assert relative_error(g_u_c, num_u) < 1e-7
    assert relative_error(g_U_neg, num_U) < 1e-7


def test_shapes_and_dtypes():
    for dtype in (np.float32, np.float64):
        v_w, u_c, U_neg = random_example(np.random.default_rng(0), D=5, K=3, dtype=dtype)
        loss, g_v_w, g_u_c, g_U_neg = example_loss_and_grads(v_w, u_c, U_neg)
        assert g_v_w.shape == (5,) and g_u_c.shape == (5,) and g_U_neg.shape == (3, 5)
        assert loss.dtype == g_v_w.dtype == g_u_c.dtype == g_U_neg.dtype == dtype


def test_known_values_at_zero_vectors():
    # All scores 0: each term is log 2, g_pos = −1/2, g_neg = 1/2.
    D, K = 3, 2
    v_w, u_c, U_neg = np.zeros(D), np.ones(D), np.ones((K, D))
    loss, g_v_w, g_u_c, g_U_neg = example_loss_and_grads(v_w, u_c, U_neg)
    assert loss == pytest.approx((1 + K) * np.log(2))
    np.testing.assert_allclose(g_v_w, -0.5 * u_c + 0.5 * U_neg.sum(0))
    np.testing.assert_array_equal(g_u_c, np.zeros(D))
    np.testing.assert_array_equal(g_U_neg, np.zeros((K, D)))


def test_negative_equal_to_context_gets_both_gradients():
    """When negative k is the context word itself, ∂L/∂u_c is the sum of both terms: (σ(s)−1+σ(s))·v_w."""
    rng = np.random.default_rng(3)
    v_w, u_c, U_neg = random_example(rng, D=4, K=3)

    def loss_of_shared_row(u):            # one vector plays the context and negative 0
        U = U_neg.copy()
        U[0] = u
        return example_loss_and_grads(v_w, u, U)[0]

    U_neg[0] = u_c
    _, _, g_u_c, g_U_neg = example_loss_and_grads(v_w, u_c, U_neg)
    total = g_u_c + g_U_neg[0]
    s = u_c @ v_w
    np.testing.assert_allclose(total, (2 * sigmoid(s) - 1) * v_w, rtol=1e-12)
    assert relative_error(total, numerical_gradient(loss_of_shared_row, u_c.copy())) < 1e-7


def test_a_small_step_against_the_gradient_lowers_the_loss():
    v_w, u_c, U_neg = random_example(np.random.default_rng(4))
    loss, g_v_w, g_u_c, g_U_neg = example_loss_and_grads(v_w, u_c, U_neg)
    lr = 0.05
    new_loss = example_loss_and_grads(v_w - lr * g_v_w, u_c - lr * g_u_c, U_neg - lr * g_U_neg)[0]
    assert new_loss < loss


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="U_neg"):
        example_loss_and_grads(np.zeros(3), np.zeros(3), np.zeros(3))


# ------------------------------------------------------------------------------------------
# The batch: loss_and_grads and the in-place sgd_step
# ------------------------------------------------------------------------------------------

from sgns_helpers.gradcheck import check_gradients  # noqa: E402
from sgns_helpers.model import (  # noqa: E402
    SCATTER_STRATEGIES, format_scatter_table, loss_and_grads, sgd_step,
    time_scatter_strategies, zipf_batch,
)


def repeated_batch(rng, V=7, D=4, B=6, K=3, dtype=np.float64):
    """A small batch with every kind of repeated id, plus W_in, W_out of shape (V, D)."""
    W_in = rng.normal(scale=0.8, size=(V, D)).astype(dtype)
    W_out = rng.normal(scale=0.8, size=(V, D)).astype(dtype)
    centers = rng.integers(0, V, size=B)
    contexts = rng.integers(0, V, size=B)
    negatives = rng.integers(0, V, size=(B, K))
    centers[1] = centers[0]                       # a centre that repeats
    negatives[0, 0] = contexts[2]                 # one example's context is another's negative
    negatives[3, 2] = negatives[3, 1]             # a negative drawn twice in one example
    negatives[4, 0] = contexts[4]                 # a negative equal to its own context
    negatives[5, 1] = centers[5]                  # a word in both roles (W_in and W_out rows)
    return W_in, W_out, centers, contexts, negatives


def loop_loss_and_grads(W_in, W_out, centers, contexts, negatives):
    """The reference: a plain loop over examples with example_loss_and_grads, mean loss."""
    B = len(centers)
    loss, dW_in, dW_out = 0.0, np.zeros_like(W_in), np.zeros_like(W_out)
    for b in range(B):
        l, g_v_w, g_u_c, g_U_neg = example_loss_and_grads(
            W_in[centers[b]], W_out[contexts[b]], W_out[negatives[b]])
        loss += l / B
        dW_in[centers[b]] += g_v_w / B
        dW_out[contexts[b]] += g_u_c / B
        for k, n in enumerate(negatives[b]):
            dW_out[n] += g_U_neg[k] / B
    return loss, dW_in, dW_out


@pytest.mark.parametrize("seed", range(6))
def test_batch_gradients_match_central_differences(seed):
    rng = np.random.default_rng(seed)
    W_in, W_out, centers, contexts, negatives = repeated_batch(rng, V=6 + seed, B=6 + seed)
    loss, dW_in, dW_out = loss_and_grads(W_in, W_out, centers, contexts, negatives)
    results = check_gradients(
        lambda W_in, W_out: loss_and_grads(W_in, W_out, centers, contexts, negatives)[0],
        {"W_in": W_in, "W_out": W_out}, {"W_in": dW_in, "W_out": dW_out})
    for r in results.values():
        assert r.rel_error < 1e-6, str(r)


@pytest.mark.parametrize("seed", range(4))
def test_batch_matches_a_loop_over_examples(seed):
    rng = np.random.default_rng(10 + seed)
    batch = repeated_batch(rng, V=9, D=5, B=12, K=4)
    loss, dW_in, dW_out = loss_and_grads(*batch)
    loop_loss, loop_in, loop_out = loop_loss_and_grads(*batch)
    assert isinstance(loss, float) and loss == pytest.approx(loop_loss, rel=1e-12)
    np.testing.assert_allclose(dW_in, loop_in, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dW_out, loop_out, rtol=1e-12, atol=1e-15)


def test_batch_gradient_is_zero_on_rows_not_in_the_batch():
    rng = np.random.default_rng(2)
    W_in, W_out = rng.normal(size=(20, 3)), rng.normal(size=(20, 3))
    centers, contexts, negatives = np.array([1, 1]), np.array([2, 3]), np.array([[3, 4], [2, 2]])
    _, dW_in, dW_out = loss_and_grads(W_in, W_out, centers, contexts, negatives)
    assert set(np.flatnonzero(np.abs(dW_in).sum(1))) == {1}
    assert set(np.flatnonzero(np.abs(dW_out).sum(1))) == {2, 3, 4}
    assert dW_in.dtype == dW_out.dtype == np.float64


def test_batch_gradient_of_a_word_that_is_context_and_negative_adds_both_terms():
    # Example 0: centre 0, context 1. Example 1: centre 2, context 3, negative 1.
    # ∂loss/∂u_1 = (1/B)·[(σ(s_01) − 1)·v_0 + σ(s_21)·v_2]: both terms, added.
    rng = np.random.default_rng(5)
    W_in, W_out = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    centers, contexts, negatives = np.array([0, 2]), np.array([1, 3]), np.array([[3], [1]])
    _, _, dW_out = loss_and_grads(W_in, W_out, centers, contexts, negatives)
    s_01, s_21 = W_out[1] @ W_in[0], W_out[1] @ W_in[2]
    expected = ((sigmoid(s_01) - 1) * W_in[0] + sigmoid(s_21) * W_in[2]) / 2
    np.testing.assert_allclose(dW_out[1], expected, rtol=1e-12)


def test_a_step_against_the_batch_gradient_lowers_the_loss():
    rng = np.random.default_rng(6)
    batch = repeated_batch(rng, V=10, D=8, B=16, K=5)
    W_in, W_out, *ids = batch
    loss, dW_in, dW_out = loss_and_grads(*batch)
    assert loss_and_grads(W_in - 0.1 * dW_in, W_out - 0.1 * dW_out, *ids)[0] < loss


def test_loss_and_grads_keeps_float32():
    batch = repeated_batch(np.random.default_rng(7), dtype=np.float32)
    loss, dW_in, dW_out = loss_and_grads(*batch)
    assert dW_in.dtype == dW_out.dtype == np.float32
    loss64, dW_in64, _ = loss_and_grads(*(a.astype(np.float64) for a in batch[:2]), *batch[2:])
    assert loss == pytest.approx(loss64, rel=1e-5)
    np.testing.assert_allclose(dW_in, dW_in64, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("bad, match", [
    (dict(centers=np.array([0, 7])), "outside 0..6"),
    (dict(negatives=np.array([[0], [-1]])), "outside 0..6"),
    (dict(contexts=np.array([0.0, 1.0])), "integer"),
    (dict(negatives=np.array([0, 1])), r"negatives \(B, K\)"),
    (dict(W_out=np.zeros((7, 3), dtype=np.float32)), "dtype"),
    (dict(W_out=np.zeros((8, 3))), r"\(V, D\)"),
])
def test_batch_functions_reject_bad_input_with_one_line_messages(bad, match):
    args = dict(W_in=np.zeros((7, 3)), W_out=np.zeros((7, 3)), centers=np.array([0, 1]),
                contexts=np.array([1, 2]), negatives=np.array([[3], [4]]))
    args.update(bad)
    for fn in (loss_and_grads, lambda **a: sgd_step(**a, lr=0.1)):
        with pytest.raises(ValueError, match=match) as info:
            fn(**args)
        assert "\n" not in str(info.value)


def expected_step(batch, lr, damping=0.0):
    """W − lr·B·dW from loss_and_grads, each row's update times n^(−damping) (float64)."""
    W_in, W_out, centers, contexts, negatives = (np.asarray(a) for a in batch)
    W_in64, W_out64 = W_in.astype(np.float64), W_out.astype(np.float64)
    _, dW_in, dW_out = loss_and_grads(W_in64, W_out64, centers, contexts, negatives)
    B, V = len(centers), len(W_in)
    n_in = np.bincount(centers, minlength=V)
    n_out = np.bincount(np.concatenate((contexts, negatives.ravel())), minlength=V)
    scale_in = np.where(n_in > 0, np.maximum(n_in, 1) ** -float(damping), 0.0)[:, None]
    scale_out = np.where(n_out > 0, np.maximum(n_out, 1) ** -float(damping), 0.0)[:, None]
    return W_in64 - lr * B * scale_in * dW_in, W_out64 - lr * B * scale_out * dW_out


@pytest.mark.parametrize("scatter", SCATTER_STRATEGIES)
@pytest.mark.parametrize("seed", range(3))
def test_sgd_step_equals_sum_scaled_gradient_step(scatter, seed):
    rng = np.random.default_rng(20 + seed)
    batch = repeated_batch(rng, V=8, D=5, B=40, K=5)        # 40 examples over 8 words
    W_in_new, W_out_new = expected_step(batch, lr=0.05)
    loss = loss_and_grads(*batch)[0]
    W_in, W_out = batch[0].copy(), batch[1].copy()
    returned = sgd_step(W_in, W_out, *batch[2:], 0.05, scatter=scatter)
    assert isinstance(returned, float) and returned == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(W_in, W_in_new, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(W_out, W_out_new, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("scatter", SCATTER_STRATEGIES)
def test_scatter_strategies_agree_with_np_add_at_on_a_zipf_batch(scatter):
    rng = np.random.default_rng(30)
    V, D, B, K = 500, 16, 256, 5
    W_in, W_out = rng.normal(scale=0.3, size=(2, V, D))
    centers, contexts, negatives = zipf_batch(V, B, K, rng)
    assert len(np.unique(negatives)) < negatives.size / 2     # plenty of repeats
    # The reference written out with np.add.at on the per-example update rows:
    v_w, U = W_in[centers], W_out[np.concatenate((contexts[:, None], negatives), 1)]
    g = sigmoid(np.einsum("bkd,bd->bk", U, v_w))
    g[:, 0] -= 1
    ref_in, ref_out = W_in.copy(), W_out.copy()
    np.add.at(ref_in, centers, -0.1 * np.einsum("bk,bkd->bd", g, U))
    np.add.at(ref_out, contexts, -0.1 * g[:, :1] * v_w)
    np.add.at(ref_out, negatives, -0.1 * g[:, 1:, None] * v_w[:, None, :])
    sgd_step(W_in, W_out, centers, contexts, negatives, 0.1, scatter=scatter)
    np.testing.assert_allclose(W_in, ref_in, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(W_out, ref_out, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("scatter", SCATTER_STRATEGIES)
@pytest.mark.parametrize("damping", [0.0, 0.5, 1.0, 0.3])
def test_damping_scales_each_rows_summed_update_by_its_count(scatter, damping):
    batch = repeated_batch(np.random.default_rng(40), V=8, D=5, B=30, K=4)
    W_in_new, W_out_new = expected_step(batch, lr=0.1, damping=damping)
    W_in, W_out = batch[0].copy(), batch[1].copy()
    sgd_step(W_in, W_out, *batch[2:], 0.1, scatter=scatter, damping=damping)
    np.testing.assert_allclose(W_in, W_in_new, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(W_out, W_out_new, rtol=1e-12, atol=1e-14)


def test_damping_one_moves_a_repeated_row_by_the_mean_update_and_leaves_single_rows_alone():
    rng = np.random.default_rng(41)
    W_in, W_out = rng.normal(size=(2, 6, 3))
    centers = np.array([0, 0, 0, 1])                  # centre 0 three times, centre 1 once
    contexts, negatives = np.array([2, 3, 4, 5]), np.array([[5], [4], [3], [2]])
    steps = {}
    for d in (0.0, 1.0):
        a, b = W_in.copy(), W_out.copy()
        sgd_step(a, b, centers, contexts, negatives, 0.2, damping=d)
        steps[d] = a - W_in
    np.testing.assert_allclose(steps[1.0][0], steps[0.0][0] / 3, rtol=1e-12)   # mean of three
    np.testing.assert_allclose(steps[1.0][1], steps[0.0][1], rtol=1e-12)       # n = 1: unchanged


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scatter", SCATTER_STRATEGIES)
def test_sgd_step_keeps_dtype_touches_only_rows_in_the_batch_and_lowers_the_loss(dtype, scatter):
    rng = np.random.default_rng(50)
    V, D, B, K = 300, 12, 64, 5
    W_in = rng.normal(scale=0.3, size=(V, D)).astype(dtype)
    W_out = rng.normal(scale=0.3, size=(V, D)).astype(dtype)
    centers, contexts, negatives = zipf_batch(V, B, K, rng)
    before_in, before_out = W_in.copy(), W_out.copy()
    loss = sgd_step(W_in, W_out, centers, contexts, negatives, 0.02, scatter=scatter)
    assert W_in.dtype == W_out.dtype == dtype and isinstance(loss, float)
    changed_in = np.flatnonzero((W_in != before_in).any(1))
    changed_out = np.flatnonzero((W_out != before_out).any(1))
    assert set(changed_in) <= set(centers)
    assert set(changed_out) <= set(contexts) | set(negatives.ravel())
    assert len(changed_in) > 0 and len(changed_out) > 0
    assert loss_and_grads(W_in, W_out, centers, contexts, negatives)[0] < loss
    expected_in, expected_out = expected_step(
        (before_in, before_out, centers, contexts, negatives), 0.02)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(W_in, expected_in, rtol=tol, atol=tol)
    np.testing.assert_allclose(W_out, expected_out, rtol=tol, atol=tol)


def test_sgd_step_is_right_when_batch_sizes_change_between_calls():
    # The scratch buffers are reused across calls; a smaller batch after a larger must not see
    # stale rows.
    rng = np.random.default_rng(60)
    for B in (50, 7, 33, 1):
        batch = repeated_batch(rng, V=9, D=4, B=max(B, 6), K=3)
        W_in_new, W_out_new = expected_step(batch, lr=0.1)
        W_in, W_out = batch[0].copy(), batch[1].copy()
        sgd_step(W_in, W_out, *batch[2:], 0.1)
        np.testing.assert_allclose(W_in, W_in_new, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(W_out, W_out_new, rtol=1e-12, atol=1e-14)


def test_the_fast_paths_give_the_bits_of_the_plain_ones(monkeypatch):
    # sgd_step's speed-ups (the CSR kernel called directly, the table of n^(-d), rows written
    # as records, no argument checks) must not change a single bit of the result.
    from sgns_helpers import model
    rng = np.random.default_rng(61)
    V, D, B, K = 400, 16, 256, 5
    W_in = rng.normal(scale=0.3, size=(V, D)).astype(np.float32)
    W_out = rng.normal(scale=0.3, size=(V, D)).astype(np.float32)
    batches = [zipf_batch(V, B, K, rng) for _ in range(3)]

    def run(**kwargs):
        a, b = W_in.copy(), W_out.copy()
        losses = [sgd_step(a, b, *batch, 0.05, damping=0.5, **kwargs) for batch in batches]
        return a, b, losses

    fast = run(check=False)
    with monkeypatch.context() as m:
        m.setattr(model, "_csr_matvecs", None)                           # scipy's public route
        m.setattr(model, "_damping_factors", lambda counts, d: counts ** -float(d))
        m.setattr(model, "_records", lambda A: A)                        # W[uniq] = rows
        plain = run()
    assert all(np.array_equal(x, y) for x, y in zip(fast[:2], plain[:2]))
    assert fast[2] == plain[2]
    counts = np.array([1, 2, 3, 7, 5000, 2])
    assert np.array_equal(model._damping_factors(counts, 0.35), counts ** -0.35)


def test_a_step_on_weights_that_are_not_c_contiguous():
    rng = np.random.default_rng(62)
    batch = repeated_batch(rng, V=9, D=4, B=12, K=3)
    W_in_new, W_out_new = expected_step(batch, lr=0.1)
    W_in, W_out = np.asfortranarray(batch[0]), np.asfortranarray(batch[1])
    sgd_step(W_in, W_out, *batch[2:], 0.1)
    np.testing.assert_allclose(W_in, W_in_new, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(W_out, W_out_new, rtol=1e-12, atol=1e-14)


def test_sgd_step_rejects_bad_settings():
    W_in, W_out = np.zeros((5, 2)), np.zeros((5, 2))
    ids = (np.array([0, 1]), np.array([1, 2]), np.array([[3], [4]]))
    with pytest.raises(ValueError, match="scatter"):
        sgd_step(W_in, W_out, *ids, 0.1, scatter="gather")
    with pytest.raises(ValueError, match="damping"):
        sgd_step(W_in, W_out, *ids, 0.1, damping=-0.5)
    with pytest.raises(ValueError, match="learning rate"):
        sgd_step(W_in, W_out, *ids, float("nan"))
    with pytest.raises(ValueError, match="separate"):
        sgd_step(W_in, W_in, *ids, 0.1)


def test_zipf_batch_shapes_range_and_repeats():
    centers, contexts, negatives = zipf_batch(1000, 512, 5, np.random.default_rng(0))
    assert centers.shape == contexts.shape == (512,) and negatives.shape == (512, 5)
    for ids in (centers, contexts, negatives):
        assert ids.min() >= 0 and ids.max() < 1000
    # The most frequent word (rank 0) is drawn often; noise^0.75 is flatter than the words.
    assert np.mean(centers == 0) > 0.08
    assert np.mean(negatives == 0) < np.mean(np.concatenate((centers, contexts)) == 0)


def test_time_scatter_strategies_returns_a_row_per_strategy_and_batch_size():
    rows = time_scatter_strategies((16, 32), V=200, D=8, K=3, seconds=0.0)
    assert [(r["strategy"], r["B"]) for r in rows] == \
        [(s, B) for B in (16, 32) for s in SCATTER_STRATEGIES]
    for r in rows:
        assert r["us_per_batch"] > 0
        assert r["pairs_per_s"] == pytest.approx(r["B"] / (r["us_per_batch"] * 1e-6))
    table = format_scatter_table(rows)
    assert len(table.splitlines()) == 1 + len(rows) and "sparse" in table


# -- the block update ---------------------------------------------------------------------------------

from sgns_helpers.model import block_step, plan_blocks, run_block_plan  # noqa: E402


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
    padding and all (up to float rounding: the tanh form of σ and the order of the sums)."""
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
    # only part of the plan, or its loss measured on the first update only
    A2, O2 = W_in.copy(), W_out.copy()
    run_block_plan(A2, O2, plan, 0.2, 0, 2)
    first_loss, _ = run_block_plan(A2, O2, plan, 0.2, 2, G, measure_loss="first")
    np.testing.assert_allclose(A2, A, rtol=1e-12, atol=1e-13)
    assert first_loss == pytest.approx(losses[3] / plan.pairs[3], rel=1e-12)


def test_block_step_expected_update_is_the_sgns_gradient():
    """Averaged over draws of the shared negatives, a block step moves W by −lr·P·E[dW] for the P
    pairs of its text: the same expectation as standard SGNS with K negatives per pair (computed
    exactly by enumerating the noise distribution with loss_and_grads)."""
    rng = np.random.default_rng(12)
    V, D, nb, S, w, Kb, K = 6, 4, 2, 3, 2, 4, 5
    W_in, W_out = rng.normal(scale=0.5, size=(2, V, D))
    tokens, reach, _ = random_block_input(rng, V, nb, S, w, Kb)
    pairs = block_pairs(tokens, reach, nb)
    centers = np.array([p[1] for p in pairs])
    contexts = np.array([p[2] for p in pairs])
    P = len(pairs)
    prob = rng.random(V) + 0.2
    prob /= prob.sum()
    exact_in, exact_out = np.zeros_like(W_in), np.zeros_like(W_out)
    for n in range(V):       # E over iid negatives of loss_and_grads = Σ_n p(n)·grad(all K negatives = n)
        _, d_in, d_out = loss_and_grads(W_in, W_out, centers, contexts, np.full((P, K), n))
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

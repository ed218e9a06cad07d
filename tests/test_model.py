import numpy as np
import pytest

from sgns_helpers.functions import sigmoid
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
from sgns_helpers.model import loss_and_grads, scatter_step, sgd_step, summing_matrix  # noqa: E402
from sgns_helpers.sampling import zipf_batch  # noqa: E402


def repeated_batch(rng, V=7, D=4, B=6, K=3, dtype=np.float64):
    """A small batch with every kind of repeated id, plus W_in, W_out of shape (V, D)."""
    W_in = rng.normal(scale=0.8, size=(V, D)).astype(dtype)
    W_out = rng.normal(scale=0.8, size=(V, D)).astype(dtype)
    centres = rng.integers(0, V, size=B)
    contexts = rng.integers(0, V, size=B)
    negatives = rng.integers(0, V, size=(B, K))
    centres[1] = centres[0]                       # a centre that repeats
    negatives[0, 0] = contexts[2]                 # one example's context is another's negative
    negatives[3, 2] = negatives[3, 1]             # a negative drawn twice in one example
    negatives[4, 0] = contexts[4]                 # a negative equal to its own context
    negatives[5, 1] = centres[5]                  # a word in both roles (W_in and W_out rows)
    return W_in, W_out, centres, contexts, negatives


def loop_loss_and_grads(W_in, W_out, centres, contexts, negatives):
    """The reference: a plain loop over examples with example_loss_and_grads, mean loss."""
    B = len(centres)
    loss, dW_in, dW_out = 0.0, np.zeros_like(W_in), np.zeros_like(W_out)
    for b in range(B):
        l, g_v_w, g_u_c, g_U_neg = example_loss_and_grads(
            W_in[centres[b]], W_out[contexts[b]], W_out[negatives[b]])
        loss += l / B
        dW_in[centres[b]] += g_v_w / B
        dW_out[contexts[b]] += g_u_c / B
        for k, n in enumerate(negatives[b]):
            dW_out[n] += g_U_neg[k] / B
    return loss, dW_in, dW_out


@pytest.mark.parametrize("seed", range(6))
def test_batch_gradients_match_central_differences(seed):
    rng = np.random.default_rng(seed)
    W_in, W_out, centres, contexts, negatives = repeated_batch(rng, V=6 + seed, B=6 + seed)
    loss, dW_in, dW_out = loss_and_grads(W_in, W_out, centres, contexts, negatives)
    results = check_gradients(
        lambda W_in, W_out: loss_and_grads(W_in, W_out, centres, contexts, negatives)[0],
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
    centres, contexts, negatives = np.array([1, 1]), np.array([2, 3]), np.array([[3, 4], [2, 2]])
    _, dW_in, dW_out = loss_and_grads(W_in, W_out, centres, contexts, negatives)
    assert set(np.flatnonzero(np.abs(dW_in).sum(1))) == {1}
    assert set(np.flatnonzero(np.abs(dW_out).sum(1))) == {2, 3, 4}
    assert dW_in.dtype == dW_out.dtype == np.float64


def test_batch_gradient_of_a_word_that_is_context_and_negative_adds_both_terms():
    # Example 0: centre 0, context 1. Example 1: centre 2, context 3, negative 1.
    # ∂loss/∂u_1 = (1/B)·[(σ(s_01) − 1)·v_0 + σ(s_21)·v_2]: both terms, added.
    rng = np.random.default_rng(5)
    W_in, W_out = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    centres, contexts, negatives = np.array([0, 2]), np.array([1, 3]), np.array([[3], [1]])
    _, _, dW_out = loss_and_grads(W_in, W_out, centres, contexts, negatives)
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
    (dict(centres=np.array([0, 7])), "outside 0..6"),
    (dict(negatives=np.array([[0], [-1]])), "outside 0..6"),
    (dict(contexts=np.array([0.0, 1.0])), "integer"),
    (dict(negatives=np.array([0, 1])), r"negatives \(B, K\)"),
    (dict(W_out=np.zeros((7, 3), dtype=np.float32)), "dtype"),
    (dict(W_out=np.zeros((8, 3))), r"\(V, D\)"),
])
def test_batch_functions_reject_bad_input_with_one_line_messages(bad, match):
    args = dict(W_in=np.zeros((7, 3)), W_out=np.zeros((7, 3)), centres=np.array([0, 1]),
                contexts=np.array([1, 2]), negatives=np.array([[3], [4]]))
    args.update(bad)
    for fn in (loss_and_grads, lambda **a: sgd_step(**a, lr=0.1)):
        with pytest.raises(ValueError, match=match) as info:
            fn(**args)
        assert "\n" not in str(info.value)


def expected_step(batch, lr, damping=0.0):
    """W − lr·B·dW from loss_and_grads, each row's update times n^(−damping) (float64)."""
    W_in, W_out, centres, contexts, negatives = (np.asarray(a) for a in batch)
    W_in64, W_out64 = W_in.astype(np.float64), W_out.astype(np.float64)
    _, dW_in, dW_out = loss_and_grads(W_in64, W_out64, centres, contexts, negatives)
    B, V = len(centres), len(W_in)
    n_in = np.bincount(centres, minlength=V)
    n_out = np.bincount(np.concatenate((contexts, negatives.ravel())), minlength=V)
    scale_in = np.where(n_in > 0, np.maximum(n_in, 1) ** -float(damping), 0.0)[:, None]
    scale_out = np.where(n_out > 0, np.maximum(n_out, 1) ** -float(damping), 0.0)[:, None]
    return W_in64 - lr * B * scale_in * dW_in, W_out64 - lr * B * scale_out * dW_out


@pytest.mark.parametrize("seed", range(3))
def test_sgd_step_equals_sum_scaled_gradient_step(seed):
    rng = np.random.default_rng(20 + seed)
    batch = repeated_batch(rng, V=8, D=5, B=40, K=5)        # 40 examples over 8 words
    W_in_new, W_out_new = expected_step(batch, lr=0.05)
    loss = loss_and_grads(*batch)[0]
    W_in, W_out = batch[0].copy(), batch[1].copy()
    returned = sgd_step(W_in, W_out, *batch[2:], 0.05)
    assert isinstance(returned, float) and returned == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(W_in, W_in_new, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(W_out, W_out_new, rtol=1e-12, atol=1e-14)


def test_sgd_step_agrees_with_np_add_at_on_a_zipf_batch():
    rng = np.random.default_rng(30)
    V, D, B, K = 500, 16, 256, 5
    W_in, W_out = rng.normal(scale=0.3, size=(2, V, D))
    centres, contexts, negatives = zipf_batch(V, B, K, rng)
    assert len(np.unique(negatives)) < negatives.size / 2     # plenty of repeats
    # The reference written out with np.add.at on the per-example update rows:
    v_w, U = W_in[centres], W_out[np.concatenate((contexts[:, None], negatives), 1)]
    g = sigmoid(np.einsum("bkd,bd->bk", U, v_w))
    g[:, 0] -= 1
    ref_in, ref_out = W_in.copy(), W_out.copy()
    np.add.at(ref_in, centres, -0.1 * np.einsum("bk,bkd->bd", g, U))
    np.add.at(ref_out, contexts, -0.1 * g[:, :1] * v_w)
    np.add.at(ref_out, negatives, -0.1 * g[:, 1:, None] * v_w[:, None, :])
    sgd_step(W_in, W_out, centres, contexts, negatives, 0.1)
    np.testing.assert_allclose(W_in, ref_in, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(W_out, ref_out, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("damping", [0.0, 0.5, 1.0, 0.3])
def test_damping_scales_each_rows_summed_update_by_its_count(damping):
    batch = repeated_batch(np.random.default_rng(40), V=8, D=5, B=30, K=4)
    W_in_new, W_out_new = expected_step(batch, lr=0.1, damping=damping)
    W_in, W_out = batch[0].copy(), batch[1].copy()
    sgd_step(W_in, W_out, *batch[2:], 0.1, damping=damping)
    np.testing.assert_allclose(W_in, W_in_new, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(W_out, W_out_new, rtol=1e-12, atol=1e-14)


def test_damping_one_moves_a_repeated_row_by_the_mean_update_and_leaves_single_rows_alone():
    rng = np.random.default_rng(41)
    W_in, W_out = rng.normal(size=(2, 6, 3))
    centres = np.array([0, 0, 0, 1])                  # centre 0 three times, centre 1 once
    contexts, negatives = np.array([2, 3, 4, 5]), np.array([[5], [4], [3], [2]])
    steps = {}
    for d in (0.0, 1.0):
        a, b = W_in.copy(), W_out.copy()
        sgd_step(a, b, centres, contexts, negatives, 0.2, damping=d)
        steps[d] = a - W_in
    np.testing.assert_allclose(steps[1.0][0], steps[0.0][0] / 3, rtol=1e-12)   # mean of three
    np.testing.assert_allclose(steps[1.0][1], steps[0.0][1], rtol=1e-12)       # n = 1: unchanged


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_step_keeps_dtype_touches_only_rows_in_the_batch_and_lowers_the_loss(dtype):
    rng = np.random.default_rng(50)
    V, D, B, K = 300, 12, 64, 5
    W_in = rng.normal(scale=0.3, size=(V, D)).astype(dtype)
    W_out = rng.normal(scale=0.3, size=(V, D)).astype(dtype)
    centres, contexts, negatives = zipf_batch(V, B, K, rng)
    before_in, before_out = W_in.copy(), W_out.copy()
    loss = sgd_step(W_in, W_out, centres, contexts, negatives, 0.02)
    assert W_in.dtype == W_out.dtype == dtype and isinstance(loss, float)
    changed_in = np.flatnonzero((W_in != before_in).any(1))
    changed_out = np.flatnonzero((W_out != before_out).any(1))
    assert set(changed_in) <= set(centres)
    assert set(changed_out) <= set(contexts) | set(negatives.ravel())
    assert len(changed_in) > 0 and len(changed_out) > 0
    assert loss_and_grads(W_in, W_out, centres, contexts, negatives)[0] < loss
    expected_in, expected_out = expected_step(
        (before_in, before_out, centres, contexts, negatives), 0.02)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(W_in, expected_in, rtol=tol, atol=tol)
    np.testing.assert_allclose(W_out, expected_out, rtol=tol, atol=tol)


def test_sgd_step_is_right_when_batch_sizes_change_between_calls():
    rng = np.random.default_rng(60)
    for B in (50, 7, 33, 1):
        batch = repeated_batch(rng, V=9, D=4, B=max(B, 6), K=3)
        W_in_new, W_out_new = expected_step(batch, lr=0.1)
        W_in, W_out = batch[0].copy(), batch[1].copy()
        sgd_step(W_in, W_out, *batch[2:], 0.1)
        np.testing.assert_allclose(W_in, W_in_new, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(W_out, W_out_new, rtol=1e-12, atol=1e-14)


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
    with pytest.raises(ValueError, match="damping"):
        sgd_step(W_in, W_out, *ids, 0.1, damping=-0.5)
    with pytest.raises(ValueError, match="separate"):
        sgd_step(W_in, W_in, *ids, 0.1)


def test_zipf_batch_shapes_range_and_repeats():
    centres, contexts, negatives = zipf_batch(1000, 512, 5, np.random.default_rng(0))
    assert centres.shape == contexts.shape == (512,) and negatives.shape == (512, 5)
    for ids in (centres, contexts, negatives):
        assert ids.min() >= 0 and ids.max() < 1000
    # The most frequent word (rank 0) is drawn often; noise^0.75 is flatter than the words.
    assert np.mean(centres == 0) > 0.08
    assert np.mean(negatives == 0) < np.mean(np.concatenate((centres, contexts)) == 0)


def test_summing_matrix_adds_rows_by_id_in_order_of_occurrence():
    ids = np.array([5, 2, 5, 9, 2, 5])
    X = np.arange(12.0).reshape(6, 2)
    S, uniq, counts, first = summing_matrix(ids)
    assert uniq.tolist() == [2, 5, 9] and counts.tolist() == [2, 3, 1]
    assert first.tolist() == [1, 0, 3]
    np.testing.assert_array_equal(S @ X, [X[1] + X[4], X[0] + X[2] + X[5], X[3]])
    assert S.indices.tolist() == [1, 4, 0, 2, 5, 3]          # each row in order of occurrence
    w, src = np.array([1.0, 2, 3, 4, 5, 6]), np.array([0, 0, 1, 1, 2, 2])
    S, _, _, _ = summing_matrix(ids, weights=w, src=src, n_src=3)
    np.testing.assert_array_equal(S @ X[:3], [2 * X[0] + 5 * X[2], X[0] + 3 * X[1] + 6 * X[2],
                                              4 * X[1]])


@pytest.mark.parametrize("damping", [0.0, 0.5])
def test_scatter_step_equals_np_add_at_with_damping(damping):
    rng = np.random.default_rng(70)
    W = rng.normal(size=(10, 3))
    ids = rng.integers(0, 10, 40)
    grads = rng.normal(size=(40, 3))
    expected = np.zeros_like(W)
    np.add.at(expected, ids, grads)
    n = np.maximum(np.bincount(ids, minlength=10), 1)
    expected = W - 0.1 * n[:, None] ** -damping * expected
    scatter_step(W, ids, grads, 0.1, damping)
    np.testing.assert_allclose(W, expected, rtol=1e-12, atol=1e-14)

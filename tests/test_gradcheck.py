import numpy as np
import pytest

from sgns_helpers.gradcheck import check_gradients, numerical_gradient, relative_error


def test_numerical_gradient_of_known_function_any_shape_and_restores_x():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4, 2))
    before = x.copy()
    g = numerical_gradient(lambda a: np.sum(a ** 3) + np.sum(np.sin(a)), x)
    assert g.shape == x.shape and g.dtype == np.float64
    np.testing.assert_array_equal(x, before)
    assert relative_error(g, 3 * x ** 2 + np.cos(x)) < 1e-8


def test_numerical_gradient_restores_x_when_f_raises():
    x = np.ones(3)

    def boom(a):
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        numerical_gradient(boom, x)
    np.testing.assert_array_equal(x, np.ones(3))


def test_numerical_gradient_rejects_non_float_arrays():
    with pytest.raises(TypeError):
        numerical_gradient(lambda a: 0.0, np.arange(3))


def test_relative_error_values():
    a = np.array([1.0, 2.0, 3.0])
    assert relative_error(a, a) == 0.0
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(a, np.zeros(3)) == 1.0
    assert relative_error(a, -a) == 1.0
    assert relative_error(a, a * (1 + 1e-9)) == pytest.approx(5e-10, rel=1e-3)
    with pytest.raises(ValueError):
        relative_error(np.zeros(2), np.zeros(3))


def test_check_gradients_reports_worst_entry_and_catches_a_wrong_gradient():
    rng = np.random.default_rng(1)
    params = {"A": rng.normal(size=(2, 3)), "b": rng.normal(size=3)}

    def loss(A, b):
        return float(np.sum((A @ b) ** 2))

    def grads(A, b):
        r = A @ b
        return {"A": 2 * np.outer(r, b), "b": 2 * A.T @ r}

    good = check_gradients(loss, params, grads(**params))
    assert all(r.rel_error < 1e-8 for r in good.values())

    bad_grads = grads(**params)
    bad_grads["b"] = bad_grads["b"].copy()
    bad_grads["b"][1] *= -1
    bad = check_gradients(loss, params, bad_grads)
    assert bad["A"].rel_error < 1e-8
    assert bad["b"].rel_error > 1e-2
    assert bad["b"].worst_index == (1,)
    assert bad["b"].analytic == pytest.approx(-bad["b"].numeric, rel=1e-6)
    assert "b" in str(bad["b"])


# ------------------------------------------------------------------------------------------
# The planted bugs of notebook 04: each one is caught by check_gradients
# ------------------------------------------------------------------------------------------

from sgns_helpers.functions import log_sigmoid, sigmoid  # noqa: E402
from sgns_helpers.model import loss_and_grads  # noqa: E402

PLANTED_BUGS = ["overwrite", "negative_sign", "missing_1_over_B", "log_sigmoid_slip",
                "context_from_wrong_matrix"]


def planted_loss_and_grads(bug, W_in, W_out, centres, contexts, negatives):
    """A compact copy of loss_and_grads with one bug switched on (or none: bug=None)."""
    B = len(centres)
    v_w, u_c, U_neg = W_in[centres], W_out[contexts], W_out[negatives]    # (B,D) (B,D) (B,K,D)
    s_pos, s_neg = np.einsum("bd,bd->b", u_c, v_w), np.einsum("bkd,bd->bk", U_neg, v_w)
    if bug == "log_sigmoid_slip":      # −max(x, 0) − log1p(e^{−|x|}) is log σ(−x), not log σ(x)
        bad_log_sigmoid = lambda x: -np.maximum(x, 0) - np.log1p(np.exp(-np.abs(x)))  # noqa: E731
        loss = -(bad_log_sigmoid(s_pos).sum() + bad_log_sigmoid(-s_neg).sum()) / B
    else:
        loss = -(log_sigmoid(s_pos).sum() + log_sigmoid(-s_neg).sum()) / B
    scale = 1.0 if bug == "missing_1_over_B" else 1.0 / B
    g_pos = (sigmoid(s_pos) - 1) * scale                                   # (B,)
    g_neg = sigmoid(s_neg) * scale * (-1 if bug == "negative_sign" else 1)  # (B, K)
    g_v_w = g_pos[:, None] * u_c + np.einsum("bk,bkd->bd", g_neg, U_neg)
    g_u_c = g_pos[:, None] * (W_out[centres] if bug == "context_from_wrong_matrix" else v_w)
    g_U_neg = g_neg[:, :, None] * v_w[:, None, :]
    dW_in, dW_out = np.zeros_like(W_in), np.zeros_like(W_out)
    if bug == "overwrite":             # repeated rows keep only one of their updates
        dW_in[centres] += g_v_w
        dW_out[contexts] += g_u_c
        dW_out[negatives] += g_U_neg
    else:
        np.add.at(dW_in, centres, g_v_w)
        np.add.at(dW_out, contexts, g_u_c)
        np.add.at(dW_out, negatives, g_U_neg)
    return loss, dW_in, dW_out


def small_batch_with_repeats(seed=0, V=6, D=4, B=8, K=3):
    rng = np.random.default_rng(seed)
    W_in, W_out = rng.normal(scale=0.8, size=(2, V, D))
    centres, contexts = rng.integers(0, V, B), rng.integers(0, V, B)
    negatives = rng.integers(0, V, (B, K))
    centres[1], negatives[0, 0], negatives[2, 1] = centres[0], contexts[3], contexts[2]
    return W_in, W_out, centres, contexts, negatives


def worst_relative_error(bug, batch):
    W_in, W_out, *ids = batch
    _, dW_in, dW_out = planted_loss_and_grads(bug, W_in, W_out, *ids)
    results = check_gradients(lambda W_in, W_out: planted_loss_and_grads(bug, W_in, W_out, *ids)[0],
                              {"W_in": W_in, "W_out": W_out}, {"W_in": dW_in, "W_out": dW_out})
    return max(r.rel_error for r in results.values())


def test_the_compact_copy_without_bugs_is_loss_and_grads_and_passes_the_check():
    batch = small_batch_with_repeats()
    loss, dW_in, dW_out = planted_loss_and_grads(None, *batch)
    ref_loss, ref_in, ref_out = loss_and_grads(*batch)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    np.testing.assert_allclose(dW_in, ref_in, rtol=1e-12)
    np.testing.assert_allclose(dW_out, ref_out, rtol=1e-12)
    assert worst_relative_error(None, batch) < 1e-7


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("bug", PLANTED_BUGS)
def test_each_planted_bug_is_caught_by_the_gradient_check(bug, seed):
    assert worst_relative_error(bug, small_batch_with_repeats(seed)) > 1e-2

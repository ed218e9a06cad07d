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

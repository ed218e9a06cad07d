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

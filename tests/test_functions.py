import warnings

import numpy as np
import pytest

from sgns_helpers import gradcheck
from sgns_helpers.functions import log_sigmoid, log_sigmoid_grad, sigmoid, sigmoid_grad

EXTREMES = [-1e4, -1000.0, -100.0, -30.0, -1.0, 0.0, 1.0, 30.0, 100.0, 1000.0, 1e4]


def reference_log_sigmoid(x):
    """log σ(x) in float64 from the identity log σ(x) = −log(1 + e^{−x}), split by sign."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x >= 0, -np.log1p(np.exp(-np.abs(x))), x - np.log1p(np.exp(-np.abs(x))))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_inputs_are_finite_accurate_and_silent(dtype):
    x = np.array(EXTREMES, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            s = sigmoid(x)
            ls = log_sigmoid(x)
            ds = sigmoid_grad(x)
            dls = log_sigmoid_grad(x)
    for out in (s, ls, ds, dls):
        assert out.dtype == dtype
        assert out.shape == x.shape
        assert np.all(np.isfinite(out))
    assert s[0] == 0 and s[-1] == 1 and s[EXTREMES.index(0.0)] == 0.5
    assert np.all((s >= 0) & (s <= 1))
    # log σ(−1e4) = −1e4 exactly to float precision; log σ(1e4) = −e^{−1e4} ≈ 0.
    assert ls[0] == dtype(-1e4)
    assert ls[-1] == 0.0
    # float32 results below 1.2e-38 are subnormal and carry fewer digits: hence the atol.
    rtol, atol = (1e-6, 1e-37) if dtype == np.float32 else (1e-14, 0)
    np.testing.assert_allclose(ls, reference_log_sigmoid(x), rtol=rtol, atol=atol)


def test_log_sigmoid_at_ten_is_tiny_not_minus_ten():
    # The form with the sign slip, −max(x, 0) − log1p(e^{−|x|}), is log σ(−x): about −10 here.
    assert log_sigmoid(10.0) == pytest.approx(-4.5398899e-05, rel=1e-7)
    assert log_sigmoid(-10.0) == pytest.approx(-10.0000453989, rel=1e-10)


def test_sigmoid_identities():
    x = np.linspace(-20, 20, 401)
    np.testing.assert_allclose(sigmoid(-x), 1 - sigmoid(x), atol=1e-15)
    np.testing.assert_allclose(np.exp(log_sigmoid(x)), sigmoid(x), rtol=1e-13)
    np.testing.assert_allclose(sigmoid_grad(x), sigmoid(x) * (1 - sigmoid(x)), atol=1e-16)


def test_scalars_and_integer_inputs():
    assert sigmoid(0) == 0.5
    assert sigmoid(np.int64(3)).dtype == np.float64
    assert log_sigmoid(np.float32(2.0)).dtype == np.float32
    assert np.ndim(log_sigmoid(1.5)) == 0


@pytest.mark.parametrize("f, df", [
    (sigmoid, sigmoid_grad),
    (log_sigmoid, log_sigmoid_grad),
    (lambda x: -log_sigmoid(-x), sigmoid),          # d/dx[−log σ(−x)] = σ(x)
    (lambda x: -log_sigmoid(x), lambda x: sigmoid(x) - 1),
])
def test_derivatives_match_central_differences(f, df):
    # |x| ≤ 6: beyond it σ(x) rounds towards 0 or 1 and the difference quotient, not the
    # derivative, runs out of digits.
    for x0 in [-6.0, -2.5, -0.3, 0.0, 0.7, 3.0, 6.0]:
        x = np.array([x0])
        numeric = gradcheck.numerical_gradient(lambda z: f(z)[0], x, eps=1e-5)
        assert gradcheck.relative_error(df(x), numeric) < 1e-7, x0

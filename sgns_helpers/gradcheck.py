"""Gradient checking: central differences and relative error.

Use float64: with eps = 1e-6 the central difference has truncation error O(eps²) ≈ 1e-12 and
round-off about 1e-16 / 1e-6 = 1e-10, so a correct gradient agrees to roughly 1e-8 or better.
In float32 the round-off alone is about 1e-7 / 1e-6 ≈ 0.1: useless for checking.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def numerical_gradient(f, x, eps=1e-6):
    """Central-difference gradient of the scalar function ``f`` at the float array ``x`` (any
    shape): ∂f/∂x_i ≈ (f(x + eps·e_i) − f(x − eps·e_i)) / (2·eps), with ``f`` called on ``x``
    itself, perturbed in place one entry at a time and restored exactly, even if ``f`` raises.
    Returns a float64 array of ``x``'s shape."""
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError("numerical_gradient needs a float numpy array to perturb in place")
    grad = np.zeros(x.shape, dtype=np.float64)
    for i in np.ndindex(x.shape):
        old = x[i]
        try:
            x[i] = old + eps
            f_plus = float(f(x))
            x[i] = old - eps
            f_minus = float(f(x))
        finally:
            x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def relative_error(a, b):
    """One number for how far apart two gradients are: ‖a − b‖ / (‖a‖ + ‖b‖).

    0 when they are equal (including both zero), 1 when one is zero and the other is not or they
    are opposite. Taken over the whole array so that entries which are zero in both (rows of words
    that are not in the batch) neither help nor hurt. Rules of thumb in float64: < 1e-7 correct,
    1e-7 to 1e-4 look closer, > 1e-4 almost certainly a bug.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of checking one array's gradient."""

    name: str
    rel_error: float        # relative_error(analytic, numeric) over the whole array
    worst_index: tuple      # where |analytic − numeric| is largest
    analytic: float         # the analytic gradient there
    numeric: float          # the central difference there

    def __str__(self):
        return (f"{self.name:>8}: rel. error {self.rel_error:.2e}; worst at {self.worst_index}: "
                f"analytic {self.analytic:+.6e} vs numeric {self.numeric:+.6e}")


def check_gradients(loss_fn, params, grads, eps=1e-6):
    """Compare analytic gradients ``grads`` ({name: array}) with central differences of
    ``loss_fn(**params)`` (``params``: {name: float64 array}, each perturbed in place and
    restored), one named array at a time. Returns {name: CheckResult} in the order of ``grads``."""
    results = {}
    for name, analytic in grads.items():
        x = params[name]
        numeric = numerical_gradient(lambda _x: loss_fn(**params), x, eps)
        analytic = np.asarray(analytic, dtype=np.float64)
        diff = np.abs(analytic - numeric)
        worst = np.unravel_index(np.argmax(diff), diff.shape) if diff.size else ()
        worst = tuple(int(i) for i in worst)
        results[name] = CheckResult(name, relative_error(analytic, numeric), worst,
                                    float(analytic[worst]), float(numeric[worst]))
    return results

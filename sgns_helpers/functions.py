"""Elementwise math: the sigmoid, the log-sigmoid and their derivatives.

Every function takes a scalar or an array, keeps a float input's dtype (float32 stays float32;
integers become float64), and is finite and accurate for every finite input: no overflow, no
warnings, no ``-inf``. The trick is the same in each: only ever exponentiate ``-|x|``, which lies in
``(0, 1]`` and cannot overflow in any float type.
"""
from __future__ import annotations

import numpy as np


def _as_float(x):
    """``x`` as a float array: float dtypes kept, anything else as float64."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    return x


def sigmoid(x):
    """σ(x) = 1 / (1 + e^{-x}), computed without overflow.

    For x ≥ 0 it uses 1 / (1 + e^{-x}); for x < 0 the equal form e^{x} / (1 + e^{x}).
    Both are written with z = e^{-|x|} ∈ (0, 1].

    Shape and dtype: same as ``x`` (float dtypes kept, others become float64).
    """
    x = _as_float(x)
    with np.errstate(under="ignore"):      # e^{-|x|} → 0 for large |x| is the right answer
        z = np.exp(-np.abs(x))
        return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z)).astype(x.dtype, copy=False)[()]


def log_sigmoid(x):
    """log σ(x) = min(x, 0) − log(1 + e^{−|x|}), finite for every finite x.

    Derivation: for x ≥ 0, log σ(x) = −log(1 + e^{−x}); for x < 0,
    log σ(x) = x − log(1 + e^{x}). Both are min(x, 0) − log1p(e^{−|x|}).
    (The form −max(x, 0) − log1p(e^{−|x|}) is log σ(−x): a sign slip to avoid.)

    Shape and dtype: same as ``x`` (float dtypes kept, others become float64).
    """
    x = _as_float(x)
    with np.errstate(under="ignore"):
        return (np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))).astype(x.dtype, copy=False)[()]


def sigmoid_grad(x):
    """dσ/dx = σ(x) · (1 − σ(x)) = σ(x) · σ(−x). Shape and dtype as ``x``."""
    return sigmoid(x) * sigmoid(-_as_float(x))


def log_sigmoid_grad(x):
    """d/dx log σ(x) = 1 − σ(x) = σ(−x) (the second form keeps precision for large x)."""
    return sigmoid(-_as_float(x))

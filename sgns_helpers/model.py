"""The SGNS loss and its gradients.

Notation (as in the notebooks): the centre word w has input vector ``v_w`` (a row of ``W_in``);
the true context c has output vector ``u_c`` and the K negatives n_1..n_K have output vectors
``U_neg`` (rows of ``W_out``). Scores are ``s_pos = u_c · v_w`` and ``s_neg[k] = u_{n_k} · v_w``.
The loss of one example is

    L = −log σ(s_pos) − Σ_k log σ(−s_neg[k])

and with ``g_pos = ∂L/∂s_pos = σ(s_pos) − 1`` and ``g_neg[k] = ∂L/∂s_neg[k] = σ(s_neg[k])``:

    ∂L/∂v_w = g_pos · u_c + Σ_k g_neg[k] · u_{n_k}
    ∂L/∂u_c = g_pos · v_w
    ∂L/∂u_{n_k} = g_neg[k] · v_w

Every function here returns the true gradient ∂L/∂(·), so a descent step is ``W -= lr * grad``.
"""
from __future__ import annotations

import numpy as np

from .functions import log_sigmoid, sigmoid


def example_loss_and_grads(v_w, u_c, U_neg):
    """Loss and gradients of one SGNS example.

    Args:
        v_w: ``(D,)`` input vector of the centre word.
        u_c: ``(D,)`` output vector of the true context word.
        U_neg: ``(K, D)`` output vectors of the K negative samples.

    Returns:
        ``(loss, g_v_w, g_u_c, g_U_neg)``: the scalar loss and ∂L/∂v_w ``(D,)``, ∂L/∂u_c ``(D,)``,
        ∂L/∂U_neg ``(K, D)``, all in the inputs' float dtype. The arguments are treated as separate
        variables: if a negative is the same word as the context, that word's total gradient is
        ``g_u_c + g_U_neg[k]`` (the caller adds them when scattering into ``W_out``).
    """
    v_w, u_c, U_neg = np.asarray(v_w), np.asarray(u_c), np.asarray(U_neg)
    if v_w.ndim != 1 or u_c.shape != v_w.shape or U_neg.ndim != 2 or U_neg.shape[1] != v_w.shape[0]:
        raise ValueError(
            f"expected v_w (D,), u_c (D,), U_neg (K, D); got {v_w.shape}, {u_c.shape}, {U_neg.shape}"
        )
    s_pos = u_c @ v_w                      # ()
    s_neg = U_neg @ v_w                    # (K,)
    loss = -log_sigmoid(s_pos) - np.sum(log_sigmoid(-s_neg))

    g_pos = sigmoid(s_pos) - 1             # ∂L/∂s_pos, in (−1, 0)
    g_neg = sigmoid(s_neg)                 # ∂L/∂s_neg, (K,), in (0, 1)

    g_v_w = g_pos * u_c + g_neg @ U_neg    # (D,)
    g_u_c = g_pos * v_w                    # (D,)
    g_U_neg = np.outer(g_neg, v_w)         # (K, D)
    return loss, g_v_w, g_u_c, g_U_neg

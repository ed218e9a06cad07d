"""The SGNS loss, its gradients, and the step that trains.

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
The loss and ``g_pos``, ``g_neg`` are written once, in :func:`loss_and_score_grads`; the one
example, the dense batch gradient and the training step all take them from there.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .functions import log_sigmoid, sigmoid


def loss_and_score_grads(s_pos, s_neg):
    """The SGNS loss as a function of the scores, and its derivatives with respect to them.

    Args:
        s_pos: ``()`` or ``(B,)`` scores of the true pairs.
        s_neg: ``(K,)`` or ``(B, K)`` scores of the negative pairs.

    Returns:
        ``(loss, g_pos, g_neg)``: the loss of each example, shaped like ``s_pos``;
        ``g_pos = σ(s_pos) − 1`` (in (−1, 0)) and ``g_neg = σ(s_neg)`` (in (0, 1)).
    """
    loss = -log_sigmoid(s_pos) - np.sum(log_sigmoid(-s_neg), axis=-1)
    return loss, sigmoid(s_pos) - 1, sigmoid(s_neg)


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
    loss, g_pos, g_neg = loss_and_score_grads(s_pos, s_neg)   # (), (), (K,)

    g_v_w = g_pos * u_c + g_neg @ U_neg    # (D,)
    g_u_c = g_pos * v_w                    # (D,)
    g_U_neg = np.outer(g_neg, v_w)         # (K, D)
    return loss, g_v_w, g_u_c, g_U_neg


# --------------------------------------------------------------------------------------------
# A batch of B examples
# --------------------------------------------------------------------------------------------

def check_damping(damping):
    """Raise a one-line ValueError unless ``damping`` is a finite number ≥ 0; return it."""
    if not (np.isfinite(damping) and damping >= 0):
        raise ValueError(f"damping must be a finite number >= 0 (got {damping!r})")
    return damping


def check_batch(W_in, W_out, centres, contexts, negatives):
    """Validate a batch; return ``(centres, contexts, negatives)`` as integer arrays."""
    if not (isinstance(W_in, np.ndarray) and isinstance(W_out, np.ndarray)):
        raise ValueError("W_in and W_out must be numpy arrays of shape (V, D)")
    if W_in.ndim != 2 or W_in.shape != W_out.shape:
        raise ValueError(f"W_in and W_out must both be (V, D); got {W_in.shape} and {W_out.shape}")
    if W_in.dtype != W_out.dtype or not np.issubdtype(W_in.dtype, np.floating):
        raise ValueError(f"W_in and W_out must share one float dtype; "
                         f"got {W_in.dtype} and {W_out.dtype}")
    centres, contexts, negatives = np.asarray(centres), np.asarray(contexts), np.asarray(negatives)
    if centres.ndim != 1 or contexts.shape != centres.shape or negatives.ndim != 2 \
            or negatives.shape[0] != centres.shape[0]:
        raise ValueError(f"expected centres (B,), contexts (B,), negatives (B, K); "
                         f"got {centres.shape}, {contexts.shape}, {negatives.shape}")
    V = W_in.shape[0]
    for name, ids in (("centres", centres), ("contexts", contexts), ("negatives", negatives)):
        if not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"{name} must hold integer word ids, got dtype {ids.dtype}")
        if ids.size and (ids.min() < 0 or ids.max() >= V):
            raise ValueError(f"{name} holds ids outside 0..{V - 1}: "
                             f"min {ids.min()}, max {ids.max()}")
    return centres, contexts, negatives


def loss_and_grads(W_in, W_out, centres, contexts, negatives):
    """Mean SGNS loss of a batch and its dense gradients with respect to both matrices.

    ``W_in``, ``W_out``: ``(V, D)`` float arrays (one dtype). Example b has centre ``centres[b]``,
    context ``contexts[b]`` (``(B,)`` ids) and negatives ``negatives[b]`` (``(B, K)``). The loss
    is the MEAN over b of the per-example loss of ``example_loss_and_grads``.

    Returns ``(loss, dW_in, dW_out)``: a Python float and dense ``(V, D)`` arrays in the matrices'
    dtype holding ∂loss/∂W (so they carry the 1/B of the mean). Every occurrence of an id adds its
    share (``np.add.at``): a repeated centre, a word that is one example's context and another's
    negative, a negative drawn twice or equal to its own context.
    """
    centres, contexts, negatives = check_batch(W_in, W_out, centres, contexts, negatives)
    B = centres.shape[0]
    v_w = W_in[centres]                                 # (B, D)
    u_c = W_out[contexts]                               # (B, D)
    U_neg = W_out[negatives]                            # (B, K, D)

    s_pos = np.einsum("bd,bd->b", u_c, v_w)             # (B,)
    s_neg = np.einsum("bkd,bd->bk", U_neg, v_w)         # (B, K)
    loss, g_pos, g_neg = loss_and_score_grads(s_pos, s_neg)   # (B,), (B,), (B, K)
    g_pos, g_neg = g_pos / B, g_neg / B                 # the 1/B of the mean

    g_v_w = g_pos[:, None] * u_c + np.einsum("bk,bkd->bd", g_neg, U_neg)   # (B, D)
    g_u_c = g_pos[:, None] * v_w                        # (B, D)
    g_U_neg = g_neg[:, :, None] * v_w[:, None, :]       # (B, K, D)

    dW_in = np.zeros_like(W_in)                         # (V, D)
    dW_out = np.zeros_like(W_out)                       # (V, D)
    np.add.at(dW_in, centres, g_v_w)                    # repeated centres accumulate
    np.add.at(dW_out, contexts, g_u_c)                  # repeated contexts accumulate ...
    np.add.at(dW_out, negatives, g_U_neg)               # ... and negatives, onto the same rows
    return float(np.mean(loss, dtype=np.float64)), dW_in, dW_out


# --------------------------------------------------------------------------------------------
# The in-place step of training
# --------------------------------------------------------------------------------------------

def summing_matrix(ids, weights=None, src=None, n_src=None, dtype=np.float64):
    """The sparse matrix that adds up rows by id: ``(S @ X)[j] = Σ_{i: ids[i] = uniq[j]}
    weights[i] · X[src[i]]``.

    Args:
        ids: ``(N,)`` integer ids, repeats allowed.
        weights: ``(N,)`` or None (all ones, of ``dtype``).
        src: ``(N,)`` rows of X, or None (``src[i] = i``).
        n_src: the number of rows of X (default N).

    Returns:
        ``(S, uniq, counts, first)``: S a ``(U, n_src)`` ``scipy.sparse.csr_array``; the U
        distinct ids (sorted); how often each occurs ``(U,)``; and a position in ``ids`` of each.
        Row j of S lists the occurrences of ``uniq[j]`` in the order they have in ``ids``.
    """
    uniq, run, counts = np.unique(ids, return_inverse=True, return_counts=True)
    run = run.reshape(-1)
    # A stable sort of the run numbers lists each id's positions together, in order. (NumPy sorts
    # small integers with a radix sort: int16 is several times faster than int64 here.)
    order = np.argsort(run.astype(np.int16) if uniq.size < 2**15 else run, kind="stable")
    indptr = np.zeros(uniq.size + 1, dtype=np.int32)
    np.cumsum(counts, out=indptr[1:])
    cols = order if src is None else src[order]
    data = np.ones(run.size, dtype) if weights is None else weights[order]
    S = sp.csr_array((data, cols.astype(np.int32), indptr),
                     shape=(uniq.size, run.size if n_src is None else n_src))
    return S, uniq, counts, order[indptr[:-1]]


def damping_factors(counts, damping):
    """``counts ** −damping`` (float64): the factor of a row's summed update when it occurs
    ``counts`` times in one step (see :func:`sgd_step`)."""
    return np.asarray(counts) ** -float(damping)


def scatter_step(W, ids, grads, lr, damping=0.0, *, weights=None, src=None, current=None):
    """In place, for every distinct id r of ``ids``:
    ``W[r] −= lr · n_r^(−damping) · Σ_{i: ids[i] = r} weights[i] · grads[src[i]]``.

    ``n_r`` is how often r occurs in ``ids``. The sum is a sparse matrix product
    (:func:`summing_matrix`), so each distinct row of W is read once and written once.
    ``current`` (N, D), if given, holds ``W[ids]`` already (rows the caller gathered); the new
    rows are computed from it instead of reading W again.
    """
    S, uniq, counts, first = summing_matrix(ids, weights, src, grads.shape[0], grads.dtype)
    step = S @ grads                                                     # (U, D) summed
    step *= (lr * damping_factors(counts, damping)).astype(W.dtype)[:, None]
    W[uniq] = (W[uniq] if current is None else current[first]) - step


def sgd_step(W_in, W_out, centres, contexts, negatives, lr, *, damping=0.0):
    """One SGD step on a batch, in place, with word2vec's SUM scaling; returns the batch's mean
    loss before it (a Python float).

    ``W_in``, ``W_out`` are ``(V, D)`` float arrays; ``centres``, ``contexts`` ``(B,)`` and
    ``negatives`` ``(B, K)`` integer ids. Each example gets a step of ``lr`` on its own loss (as
    in word2vec), so with ``damping=0`` the result is ``W − lr · B · dW`` with ``dW`` from
    ``loss_and_grads``. With d = ``damping`` > 0, the summed update of a row that occurs n times
    in the step (among the centres for ``W_in``; among contexts and negatives for ``W_out``) is
    multiplied by n^(−d): 0.5 divides it by √n, 1 takes the mean. Only the rows that occur are
    read and written.
    """
    centres, contexts, negatives = check_batch(W_in, W_out, centres, contexts, negatives)
    check_damping(damping)
    if np.may_share_memory(W_in, W_out):
        raise ValueError("W_in and W_out must be two separate arrays (copy one of them)")
    B, K = negatives.shape
    if B == 0:
        return 0.0
    out_ids = np.concatenate((contexts[:, None], negatives), axis=1)     # (B, K+1): c | n_1..n_K
    v_w = np.take(W_in, centres, axis=0)                                 # (B, D)
    U_out = np.take(W_out, out_ids, axis=0)                              # (B, K+1, D): u_c | U_neg
    s = np.matmul(U_out, v_w[:, :, None])[:, :, 0]                       # (B, K+1): s_pos | s_neg
    loss, g_pos, g_neg = loss_and_score_grads(s[:, 0], s[:, 1:])
    g = np.concatenate((g_pos[:, None], g_neg), axis=1)                  # (B, K+1): g_pos | g_neg
    g_v_w = np.matmul(g[:, None, :], U_out)[:, 0]                        # (B, D) ∂L/∂v_w each

    # W_in: row centres[b] gets g_v_w[b].  W_out: row out_ids[b, k] gets g[b, k] · v_w[b].
    scatter_step(W_in, centres, g_v_w, lr, damping, current=v_w)
    scatter_step(W_out, out_ids.reshape(-1), v_w, lr, damping, weights=g.reshape(-1),
                 src=np.repeat(np.arange(B), K + 1), current=U_out.reshape(B * (K + 1), -1))
    return float(np.mean(loss, dtype=np.float64))

"""The units' formulas, written once as plain functions of inputs and weights.

Every function takes ``ops``, a namespace of array functions: the ``torch`` module for the
PyTorch units, ``keras.ops`` for the Keras layers. Only names that both spell the same way are
used (``tanh``, ``sigmoid``, ``matmul``, ``exp``, ``log``, ``abs``, ``clip``), with axes passed
positionally, so one formula serves both frameworks.

Shapes: ``x`` is (..., in_features) and each weight is (..., in_features, out_features). The
matmuls broadcast, so weights with a leading seed axis (S, in, out) applied to inputs
(S, batch, in) train S independent models at once.
"""

from __future__ import annotations

from typing import Any

Array = Any
"""A tensor of whichever framework ``ops`` belongs to."""


def nac_weight(W_hat: Array, M_hat: Array, *, ops: Any) -> Array:
    """NAC's effective weight W = tanh(W_hat) * sigmoid(M_hat), pushed towards {-1, 0, 1}."""
    return ops.tanh(W_hat) * ops.sigmoid(M_hat)


def nac(x: Array, W_hat: Array, M_hat: Array, *, ops: Any) -> Array:
    """Neural accumulator: a = x W with W = tanh(W_hat) * sigmoid(M_hat).

    x: (..., in); W_hat, M_hat: (..., in, out); returns (..., out).
    """
    return ops.matmul(x, nac_weight(W_hat, M_hat, ops=ops))


def log_magnitude(x: Array, eps: float, *, ops: Any) -> Array:
    """log(|x| + eps): the log-space input of the multiplicative paths (finite at x = 0)."""
    return ops.log(ops.abs(x) + eps)


def nalu(
    x: Array,
    W_hat: Array,
    M_hat: Array,
    G: Array,
    *,
    eps: float,
    ops: Any,
    W_hat_mul: Array | None = None,
    M_hat_mul: Array | None = None,
    max_exponent: float | None = None,
) -> Array:
    """Neural arithmetic logic unit (Trask et al. 2018, arXiv 1808.00508).

        a = x W                                  additive path, W = tanh(W_hat) * sigmoid(M_hat)
        m = exp(min(log(|x| + eps) W_m, max_exponent))   multiplicative path
        g = sigmoid(x G)                         gate
        y = g * a + (1 - g) * m

    W_m is W itself (the paper) unless ``W_hat_mul`` and ``M_hat_mul`` give the multiplicative
    path its own NAC weights. ``max_exponent=None`` applies no cap: m overflows to inf once the
    product exceeds the dtype's range (about 3.4e38 in float32).

    x: (..., in); weights: (..., in, out); returns (..., out).
    """
    W = nac_weight(W_hat, M_hat, ops=ops)
    additive = ops.matmul(x, W)
    W_mul = W if W_hat_mul is None else nac_weight(W_hat_mul, M_hat_mul, ops=ops)
    exponent = ops.matmul(log_magnitude(x, eps, ops=ops), W_mul)
    if max_exponent is not None:
        exponent = ops.clip(exponent, -float("inf"), max_exponent)
    multiplicative = ops.exp(exponent)
    gate = ops.sigmoid(ops.matmul(x, G))
    return gate * additive + (1 - gate) * multiplicative

"""NAC and NALU as Keras 3 layers.

Paper: Trask, Hill, Reed, Rae, Dyer, Blunsom, "Neural Arithmetic Logic Units", NeurIPS 2018,
arXiv 1808.00508.

    NAC:   a = x W,  W = tanh(W_hat) * sigmoid(M_hat)
    NAC*:  m = exp(log(|x| + eps) W)  (Madsen & Johansen 2020)
    NALU:  y = g * a + (1 - g) * m,  m = exp(log(|x| + eps) W_m),  g = sigmoid(x G)

The formulas live in [`nalm.functional`][nalm.functional] and are applied with ``keras.ops``, so the layers
run on every Keras backend; the weights are laid out (input_dim, units) and named as in
[`nalm.torch.nalu`][nalm.torch.nalu], so that the output is ``x @ W`` in both frameworks.

Shapes: input (..., input_dim), output (..., units).
"""

from __future__ import annotations

import keras

from nalm import units
from nalm.keras.base import ArithmeticLayer


@keras.saving.register_keras_serializable(package="nalm")
class NAC(ArithmeticLayer):
    """Neural accumulator: a = x W, W = tanh(W_hat) * sigmoid(M_hat), no bias.

    W is pushed towards {-1, 0, 1}, so the unit adds and subtracts inputs without scaling them.
    Weights ``W_hat`` and ``M_hat``, each (input_dim, units), He normal (``init="glorot_w"``: U[-r, r]
    so that W has Glorot's variance, [`nalm.keras.NACUniform`][nalm.keras.base.NACUniform]). The keyword arguments (``input_dim``,
    ``kernel_initializer``, ``kernel_regularizer``, ``kernel_constraint``, ``name``, ``dtype``, ...)
    are those of [`nalm.keras.ArithmeticLayer`][nalm.keras.base.ArithmeticLayer].

    Shapes: input (..., input_dim), output (..., units).
    """

    definition = units.NAC


@keras.saving.register_keras_serializable(package="nalm")
class NACMul(NAC):
    """NAC in log space, NAC* (Madsen & Johansen 2020, arXiv 2001.05016):

        m = exp(log(|x| + eps) W),  W = tanh(W_hat) * sigmoid(M_hat), no bias

    NALU's multiplicative path alone: multiplies (W = 1) and divides (W = -1) the magnitudes of
    the inputs; the sign of x is lost. Weights and keyword arguments as [`NAC`][nalm.keras.nalu.NAC]; numerics as
    [`nalm.torch.NACMul`][nalm.torch.nalu.NACMul].

    Shapes: input (..., input_dim), output (..., units).
    """

    definition = units.NAC_MUL


@keras.saving.register_keras_serializable(package="nalm")
class NALU(ArithmeticLayer):
    """Neural arithmetic logic unit: a gate between an additive and a log-space NAC path.

        a = x W,  m = exp(log(|x| + eps) W_m),  g = sigmoid(x G),  y = g * a + (1 - g) * m

    with W = tanh(W_hat) * sigmoid(M_hat). ``shared_weights=True`` (the paper) uses W_m = W;
    ``False`` gives the multiplicative path its own pair ``W_hat_mul``, ``M_hat_mul``. Every weight
    is (input_dim, units), He uniform by default (as the PyTorch NALU; ``init="glorot_w"``: the NAC weights
    as [`NAC`][nalm.keras.nalu.NAC] then, G Glorot uniform). No bias. ``gate="independent"`` is the
    cheap variant of later work (e.g. iNALU, arXiv 2003.07629): g = sigmoid(G), G a vector
    (units,) initialized to 0, whatever the input. The other keyword arguments
    (``input_dim``, ``kernel_initializer``, ``kernel_regularizer``, ``kernel_constraint``, ``name``,
    ``dtype``, ...) are those of [`nalm.keras.ArithmeticLayer`][nalm.keras.base.ArithmeticLayer].

    Numerics as [`nalm.torch.NALU`][nalm.torch.nalu.NALU]: ``eps`` keeps log(|x| + eps) finite at x = 0 (the sign
    of x is lost in the multiplicative path, as in the paper). With ``max_exponent=None`` (the
    paper), m overflows to inf once the exponent passes the dtype's limit (88.7 in float32): a
    huge product, or a quotient by zero inputs whose negative weights sum below about -5.5. Set
    ``max_exponent`` (e.g. 20) to cap the exponent, so m <= exp(max_exponent).

    Shapes: input (..., input_dim), output (..., units).
    """

    definition = units.NALU

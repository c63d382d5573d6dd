"""iNALU as a Keras 3 layer.

Paper: Schlör, Ring, Hotho, "iNALU: Improved Neural Arithmetic Logic Unit", Frontiers in
Artificial Intelligence 3:71, 2020, arXiv 2003.07629.

    y = g * x W_a + (1 - g) * exp(min(log(max(|x|, eps)) W_m, omega)) * prod_i (sign(x_i) |W_m,io| + 1 - |W_m,io|)

The formula lives in [`nalm.functional.inalu`][nalm.functional.inalu] and is applied with ``keras.ops``; the
weights are named and laid out as in [`nalm.torch.inalu`][nalm.torch.inalu].

Shapes: input (..., input_dim), output (..., units).
"""

from __future__ import annotations

import keras

from nalm import units
from nalm.keras.base import ArithmeticLayer


@keras.saving.register_keras_serializable(package="nalm")
class INALU(ArithmeticLayer):
    """Improved NALU (iNALU; Schlör, Ring & Hotho, 2020, arXiv 2003.07629).

        a = x W_a                                        W_a = tanh(W_hat_a) * sigmoid(M_hat_a)
        m = exp(min(log(max(|x|, eps)) W_m, omega))      W_m = tanh(W_hat_m) * sigmoid(M_hat_m)
        s = prod_i (sign(x_i) |W_m,io| + 1 - |W_m,io|)   the product's sign
        y = g * a + (1 - g) * m * s

    ``gate="independent"`` (default): g = sigmoid(G), G a vector (units,); ``gate="input"``:
    g = sigmoid(x G), G (input_dim, units). Initialization (the authors' code): W_hat ~ N(0.88, 0.2),
    M_hat ~ N(0.5, 0.2), G ~ N(0, 0.2). ``regularization_loss(step)``, zero up to
    ``regularization_start``: sum over the weights w of mean(max(min(-w, w) + t, 0)) / t,
    t = ``threshold``. Everything as [`nalm.torch.INALU`][nalm.torch.inalu.INALU]; the other keyword arguments are
    those of [`nalm.keras.ArithmeticLayer`][nalm.keras.base.ArithmeticLayer].

    Shapes: input (..., input_dim), output (..., units).
    """

    definition = units.INALU

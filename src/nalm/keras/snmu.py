"""The sNMU as a Keras 3 layer.

Paper: Mistry, Li, Weng, Barrett, "Improving the Robustness of Neural Multiplication Units with
Reversible Stochasticity", 2022, arXiv 2211.05624.
"""

from __future__ import annotations

import keras

from nalm import units
from nalm.keras.base import ArithmeticLayer


@keras.saving.register_keras_serializable(package="nalm")
class SNMU(ArithmeticLayer):
    """Stochastic NMU (Mistry, Li, Weng & Barrett, "Improving the Robustness of Neural
    Multiplication Units with Reversible Stochasticity", 2022, arXiv 2211.05624).

        otherwise:           y = NMU(x; W) = prod_i (W_io x_i + 1 - W_io),  W clamped to [0, 1]
        with training=True:  y = NMU(x * n; W) / NMU(n; W),  n ~ U[noise_range] iid, shape (..., input_dim)

    The noise is drawn afresh in every training call with ``keras.random.uniform`` and the layer's
    ``seed_generator``, in the input's dtype; it cancels exactly when W is in {0, 1}.
    ``noise_range`` defaults to (1.0, 5.0). Weights, clamp, penalty and schedule are the
    [`NMU`][nalm.keras.nau.NMU]'s. Everything else as [`nalm.torch.SNMU`][nalm.torch.snmu.SNMU].

    Shapes: input (..., input_dim), output (..., units).
    """

    definition = units.SNMU

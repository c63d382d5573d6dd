"""NAU and NMU as Keras 3 layers.

Paper: Madsen, Johansen, "Neural Arithmetic Units", ICLR 2020, arXiv 2001.05016.

    NAU:  z = x W,                          W clamped to [-1, 1]
    NMU:  z_o = prod_i (W_io x_i + 1 - W_io),  W clamped to [0, 1]

The formulas live in [`nalm.functional`][nalm.functional] and are applied with ``keras.ops``; the one weight
``W`` is (input_dim, units) as in [`nalm.torch.nau`][nalm.torch.nau]. It is clamped in every call, and in place
after every optimizer step by its default constraint ([`nalm.keras.base.Clamp`][nalm.keras.base.Clamp]), which
``model.fit`` applies and `apply_constraints` applies in a loop of one's own.

Shapes: input (..., input_dim), output (..., units).
"""

from __future__ import annotations

import keras

from nalm import units
from nalm.keras.base import ArithmeticLayer


@keras.saving.register_keras_serializable(package="nalm")
class NAU(ArithmeticLayer):
    """Neural addition unit (Madsen & Johansen, "Neural Arithmetic Units", 2020, arXiv 2001.05016).

        z = x W,  W clamped to [-1, 1], no bias

    Adds and subtracts inputs exactly once W is in {-1, 0, 1}. W starts U[-r, r],
    r = min(0.5, sqrt(3) * sqrt(2 / (input_dim + units))) (`NAUUniform`).
    ``regularization_loss(step)`` = lambda(step) * mean(min(|W|, |1 - |W||)), lambda ramping from 0
    at ``lambda_start`` to ``lambda_sparse`` at ``lambda_end`` (the paper's NAU: 0.01, steps
    5,000 to 50,000). The other keyword arguments are those of [`nalm.keras.ArithmeticLayer`][nalm.keras.base.ArithmeticLayer].

    Shapes: input (..., input_dim), output (..., units).
    """

    definition = units.NAU


@keras.saving.register_keras_serializable(package="nalm")
class NMU(ArithmeticLayer):
    """Neural multiplication unit (Madsen & Johansen, "Neural Arithmetic Units", 2020, arXiv 2001.05016).

        z_o = prod_i (W_io x_i + 1 - W_io),  W clamped to [0, 1], no bias

    Multiplies the inputs with W = 1, exactly, for inputs of any sign, zero included; it cannot
    divide. W starts U[0.25, 0.75]. Sparsity penalty as [`NAU`][nalm.keras.nau.NAU], with the paper's NMU
    schedule by default (10, steps 1,000,000 to 2,000,000). The other keyword arguments are those
    of [`nalm.keras.ArithmeticLayer`][nalm.keras.base.ArithmeticLayer].

    Shapes: input (..., input_dim), output (..., units).
    """

    definition = units.NMU

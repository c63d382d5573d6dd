"""NPU and RealNPU as Keras 3 layers.

Paper: Heim, Pevný, Šmídl, "Neural Power Units", NeurIPS 2020, arXiv 2006.01681.

    r = g (|x| + eps) + (1 - g),  k = g pi [x < 0],  g clamped to [0, 1]
    NPU:      z = exp(log(r) W_re - k W_im) * cos(log(r) W_im + k W_re)
    RealNPU:  z = exp(log(r) W_re) * cos(k W_re)

The formula lives in [`nalm.functional.npu`][nalm.functional.npu] and is applied with ``keras.ops``; the weights
are named and laid out as in [`nalm.torch.npu`][nalm.torch.npu]: W_re, W_im (input_dim, units), g (input_dim,).

Shapes: input (..., input_dim), output (..., units).
"""

from __future__ import annotations

import keras

from nalm import units
from nalm.keras.base import ArithmeticLayer


@keras.saving.register_keras_serializable(package="nalm")
class NPU(ArithmeticLayer):
    """Neural power unit (Heim, Pevný & Šmídl, "Neural Power Units", 2020, arXiv 2006.01681).

        r = g (|x| + eps) + (1 - g),   k = g pi [x < 0]
        z = exp(log(r) W_re - k W_im) * cos(log(r) W_im + k W_re)

    The real part of prod_i x_i^(W_re + i W_im) for relevant inputs (g = 1): products, quotients
    and powers of inputs of any sign; an irrelevant input (g = 0) contributes 1. g is clamped to
    [0, 1] in every call and in place by `apply_constraints`. Initialization (the paper):
    W_re Glorot uniform, W_im = 0, g = 1/2. ``regularization_loss(step)`` = ``l1`` times the L1
    norm of every weight (off by default). Everything as [`nalm.torch.NPU`][nalm.torch.npu.NPU]; the other
    keyword arguments are those of [`nalm.keras.ArithmeticLayer`][nalm.keras.base.ArithmeticLayer].

    Shapes: input (..., input_dim), output (..., units).
    """

    definition = units.NPU


@keras.saving.register_keras_serializable(package="nalm")
class RealNPU(NPU):
    """The NPU without imaginary weights (Heim, Pevný & Šmídl, "Neural Power Units", 2020,
    arXiv 2006.01681): z = exp(log(r) W_re) * cos(k W_re), r and k as [`NPU`][nalm.keras.npu.NPU].

    The options of the division paper's recipes (``weight_init``, ``weight_range``, ``clip_gate``, the growing L1
    ``l1_initial``/``l1_growth`` and the discretization penalty's schedule) are those of
    [`nalm.torch.RealNPU`][nalm.torch.npu.RealNPU], with the same formulas.

    Shapes: input (..., input_dim), output (..., units).
    """

    definition = units.REAL_NPU

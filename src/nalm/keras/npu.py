"""NPU and RealNPU as Keras 3 layers.

Paper: Heim, Pevný, Šmídl, "Neural Power Units", NeurIPS 2020, arXiv 2006.01681.

    r = g (|x| + eps) + (1 - g),  k = g pi [x < 0],  g clamped to [0, 1]
    NPU:      z = exp(log(r) W_re - k W_im) * cos(log(r) W_im + k W_re)
    RealNPU:  z = exp(log(r) W_re) * cos(k W_re)

The formula lives in :func:`nalm.functional.npu` and is applied with ``keras.ops``; the weights
are named and laid out as in :mod:`nalm.torch.npu`: W_re, W_im (input_dim, units), g (input_dim,).

Shapes: input (..., input_dim), output (..., units).
"""

from __future__ import annotations

from typing import Any, ClassVar

import keras

from nalm import functional
from nalm.keras.base import UNITS, ArithmeticLayer, Clamp
from nalm.validation import non_negative_float, positive_float


@UNITS.register("npu")
@keras.saving.register_keras_serializable(package="nalm")
class NPU(ArithmeticLayer):
    """Neural power unit (Heim, Pevný & Šmídl, "Neural Power Units", 2020, arXiv 2006.01681).

        r = g (|x| + eps) + (1 - g),   k = g pi [x < 0]
        z = exp(log(r) W_re - k W_im) * cos(log(r) W_im + k W_re)

    The real part of prod_i x_i^(W_re + i W_im) for relevant inputs (g = 1): products, quotients
    and powers of inputs of any sign; an irrelevant input (g = 0) contributes 1. g is clamped to
    [0, 1] in every call and in place by :meth:`apply_constraints`. Initialization (the paper):
    W_re glorot uniform, W_im = 0, g = 1/2. ``regularization_loss(step)`` = ``l1`` times the L1
    norm of every weight (off by default). Everything as :class:`nalm.torch.NPU`; the other
    keyword arguments are those of :class:`nalm.keras.ArithmeticLayer`.

    Shapes: input (..., input_dim), output (..., units).
    """

    imaginary: ClassVar[bool] = True
    """Whether the unit has the imaginary weights W_im (the RealNPU has not)."""
    penalized = True

    def __init__(self, units: int, *, eps: float = 1e-7, l1: float = 0.0, **kwargs: Any) -> None:
        eps = positive_float("eps", eps)
        l1 = non_negative_float("l1", l1)
        super().__init__(
            units,
            weight_names=("W_re", "W_im", "g") if self.imaginary else ("W_re", "g"),
            vectors={"g": "input"},
            initializers={"W_im": "zeros", "g": keras.initializers.Constant(0.5)},
            constraints={"g": Clamp(*functional.NPU_GATE_RANGE)},
            **kwargs,
        )
        self.eps = eps
        self.l1 = l1

    def compute(self, inputs: Any) -> Any:
        W_im = self.W_im if self.imaginary else None
        return functional.npu(inputs, self.W_re, self.tensor("g"), eps=self.eps, ops=keras.ops, W_im=W_im)

    def regularization_loss(self, step: int) -> Any:
        """``l1`` times the L1 norm of every weight (the same at every step)."""
        return self.l1 * functional.l1_norm([getattr(self, name) for name in self.weight_names], ops=keras.ops)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "eps": self.eps, "l1": self.l1}


@UNITS.register("realnpu")
@keras.saving.register_keras_serializable(package="nalm")
class RealNPU(NPU):
    """The NPU without imaginary weights (Heim, Pevný & Šmídl, "Neural Power Units", 2020,
    arXiv 2006.01681): z = exp(log(r) W_re) * cos(k W_re), r and k as :class:`NPU`.

    Shapes: input (..., input_dim), output (..., units).
    """

    imaginary = False

"""NPU and RealNPU as PyTorch modules.

Paper: Heim, Pevný, Šmídl, "Neural Power Units", NeurIPS 2020, arXiv 2006.01681. The formula
lives in :func:`nalm.functional.npu`; the modules hold the parameters: weights
(in_features, out_features) and the relevance gate g, (in_features,).
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from nalm import functional
from nalm.torch.base import UNITS, ArithmeticUnit
from nalm.validation import non_negative_float, positive_float


@UNITS.register("npu")
class NPU(ArithmeticUnit):
    """Neural power unit (Heim, Pevný & Šmídl, "Neural Power Units", 2020, arXiv 2006.01681).

    The real part of a product of powers with complex exponents W_re + i W_im, computed in real
    arithmetic, with a relevance gate g in [0, 1] per input:

        r = g (|x| + eps) + (1 - g),   k = g pi [x < 0]
        z = exp(log(r) W_re - k W_im) * cos(log(r) W_im + k W_re)

    For a relevant input (g = 1) and W_im = 0 this is prod_i x_i^W_io with the sign of a negative
    x_i restored through cos(pi W_io): products, quotients and powers of inputs of any sign
    (zero becomes eps, so dividing by it gives a large value, 1/eps = 1e7 for a weight of -1;
    it overflows to inf once the exponent passes the dtype's limit, 88.7 in float32, and there
    is no cap: the unit is a power function, so huge inputs overflow too). An irrelevant input
    (g = 0) contributes the neutral 1. g is clamped to [0, 1] in every forward pass and in place
    by :meth:`apply_constraints`.

    Initialization (the paper): W_re Glorot uniform, W_im = 0, g = 1/2.
    ``regularization_loss(step)`` = ``l1`` * (sum |W_re| + sum |W_im| + sum |g|), the paper's L1
    penalty; its strength is a per-task hyperparameter, off (0) by default.

    Shapes: input (..., in_features), output (..., out_features).
    """

    imaginary: ClassVar[bool] = True
    """Whether the unit has the imaginary weights W_im (the RealNPU has not)."""

    def __init__(self, in_features: int, out_features: int, *, eps: float = 1e-7, l1: float = 0.0) -> None:
        super().__init__(in_features, out_features)
        self.eps = positive_float("eps", eps)
        self.l1 = non_negative_float("l1", l1)
        self.W_re = nn.Parameter(torch.empty(in_features, out_features))
        if self.imaginary:
            self.W_im = nn.Parameter(torch.empty(in_features, out_features))
        self.g = nn.Parameter(torch.empty(in_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.W_re)
        if self.imaginary:
            nn.init.zeros_(self.W_im)
        nn.init.constant_(self.g, 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return functional.npu(x, self.W_re, self.g, eps=self.eps, ops=torch, W_im=self.W_im if self.imaginary else None)

    def weights(self) -> tuple[torch.Tensor, ...]:
        """(W_re, W_im), or (W_re,) without imaginary weights; the relevance gate g is left out."""
        return (self.W_re, self.W_im) if self.imaginary else (self.W_re,)

    def regularization_loss(self, step: int) -> torch.Tensor:
        """``l1`` times the L1 norm of every parameter (the same at every step)."""
        return self.l1 * functional.l1_norm(self.parameters(recurse=False), ops=torch)

    @torch.no_grad()
    def apply_constraints(self) -> None:
        """Clamp the relevance gate g into [0, 1] in place."""
        self.g.clamp_(0.0, 1.0)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, eps={self.eps:g}, l1={self.l1:g}"


@UNITS.register("realnpu")
class RealNPU(NPU):
    """The NPU without imaginary weights (Heim, Pevný & Šmídl, "Neural Power Units", 2020,
    arXiv 2006.01681):

        r = g (|x| + eps) + (1 - g),   k = g pi [x < 0],   z = exp(log(r) W) * cos(k W)

    with W = ``W_re``. Products, quotients and powers of inputs of any sign, as :class:`NPU`.

    Shapes: input (..., in_features), output (..., out_features).
    """

    imaginary = False

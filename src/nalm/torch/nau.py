"""NAU and NMU as PyTorch modules.

Paper: Madsen, Johansen, "Neural Arithmetic Units", ICLR 2020, arXiv 2001.05016. The formulas
live in :mod:`nalm.functional`; each module holds one weight W, (in_features, out_features),
clamped to its range in every forward pass and, by :meth:`apply_constraints`, in place after every
optimizer step (the paper clamps W each iteration).
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from nalm import functional
from nalm.torch.base import UNITS, ArithmeticUnit


class SparseArithmeticUnit(ArithmeticUnit):
    """What NAU and NMU share: one weight W clamped to ``weight_range``, and the paper's sparsity
    penalty lambda(t) * mean(min(|W|, 1 - |W|)) on the schedule of :class:`nalm.functional.SparsitySchedule`."""

    weight_range: ClassVar[tuple[float, float]]
    default_schedule: ClassVar[functional.SparsitySchedule]

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        lambda_sparse: float | None = None,
        lambda_start: int | None = None,
        lambda_end: int | None = None,
    ) -> None:
        """Schedule arguments left as None take the paper's value, ``default_schedule``."""
        super().__init__(in_features, out_features)
        self.schedule = self.default_schedule.replace(
            lambda_sparse=lambda_sparse, lambda_start=lambda_start, lambda_end=lambda_end
        )
        self.W = nn.Parameter(torch.empty(in_features, out_features))
        self.reset_parameters()

    @property
    def weight(self) -> torch.Tensor:
        """The weight the formula uses: W clamped to ``weight_range``, (in_features, out_features)."""
        return self.W.clamp(*self.weight_range)

    def weights(self) -> tuple[torch.Tensor, ...]:
        """(W,), clamped to ``weight_range``."""
        return (self.weight,)

    def regularization_loss(self, step: int) -> torch.Tensor:
        """lambda(step) * mean(min(|W|, 1 - |W|)) of the clamped W: zero until ``lambda_start``."""
        strength = self.schedule(step)
        if strength == 0:
            return self.W.new_zeros(())
        return strength * functional.sparsity_penalty(self.weight, ops=torch)

    @torch.no_grad()
    def apply_constraints(self) -> None:
        """Clamp W into ``weight_range`` in place."""
        self.W.clamp_(*self.weight_range)

    def extra_repr(self) -> str:
        s = self.schedule
        return (
            f"{super().extra_repr()}, lambda_sparse={s.lambda_sparse:g}, "
            f"lambda_start={s.lambda_start}, lambda_end={s.lambda_end}"
        )


@UNITS.register("nau")
class NAU(SparseArithmeticUnit):
    """Neural addition unit (Madsen & Johansen, "Neural Arithmetic Units", 2020, arXiv 2001.05016).

        z = x W,  W clamped to [-1, 1], no bias

    Adds and subtracts inputs exactly once W is in {-1, 0, 1}, for inputs of any sign and size.
    W starts U[-r, r], r = min(0.5, sqrt(3) * sqrt(2 / (in + out))). The sparsity penalty
    ``regularization_loss(step)`` = lambda(step) * mean(min(|W|, 1 - |W|)) pulls W onto
    {-1, 0, 1}; lambda ramps linearly from 0 at ``lambda_start`` to ``lambda_sparse`` at
    ``lambda_end`` (the paper's NAU: 0.01, from step 5,000 to 50,000).

    Shapes: input (..., in_features), output (..., out_features).
    """

    weight_range = functional.NAU_RANGE
    default_schedule = functional.NAU_SCHEDULE

    def reset_parameters(self) -> None:
        limit = functional.nau_init_limit(self.in_features, self.out_features)
        nn.init.uniform_(self.W, -limit, limit)

    def linear_weight(self) -> torch.Tensor:
        """W clamped to [-1, 1] with the full gradient on the bounds: the NAU is x @ that."""
        return functional.nau_weight(self.W, ops=torch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return functional.nau(x, self.W, ops=torch)


@UNITS.register("nmu")
class NMU(SparseArithmeticUnit):
    """Neural multiplication unit (Madsen & Johansen, "Neural Arithmetic Units", 2020, arXiv 2001.05016).

        z_o = prod_i (W_io x_i + 1 - W_io),  W clamped to [0, 1], no bias

    Multiplies the inputs with W = 1 (W = 0 contributes the neutral 1), exactly, for inputs of
    any sign, zero included: there is no logarithm. It cannot divide. W starts U[0.25, 0.75].
    Sparsity penalty as in :class:`NAU`, with the paper's NMU schedule by default: 10, from
    step 1,000,000 to 2,000,000.

    Shapes: input (..., in_features), output (..., out_features).
    """

    weight_range = functional.NMU_RANGE
    default_schedule = functional.NMU_SCHEDULE

    def reset_parameters(self) -> None:
        nn.init.uniform_(self.W, *functional.NMU_INIT_RANGE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return functional.nmu(x, self.W, ops=torch)

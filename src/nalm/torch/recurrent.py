"""Any unit as a recurrent cell: h_t = unit([h_{t-1}, z_t]), over sequences of any length."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from nalm import functional
from nalm.torch.base import UNITS, ArithmeticUnit
from nalm.units import Recurrence


class Recurrent(nn.Module):
    """The registered unit ``unit`` as a recurrent cell ([`nalm.units.Recurrence`][nalm.units.Recurrence]).

    h_0 = ``initial_state`` (every feature), h_t = cell([h_{t-1}, z_t]), where ``cell`` is the unit
    with in_features = hidden_size + input_size and out_features = hidden_size, built with
    ``options``. Inputs z (..., T, input_size), any T >= 1 and any leading axes; the output is
    h_T (..., hidden_size), or (..., T, hidden_size) with ``return_sequences``.

    Example: a running sum and a running product:

        adder = Recurrent("nau", input_size=1)               # h_0 = 0
        multiplier = Recurrent("nmu", input_size=1, initial_state=1.0)
        with torch.no_grad():
            adder.cell.W.fill_(1.0)                          # W = [[1], [1]]: h_t = h_{t-1} + z_t
            multiplier.cell.W.fill_(1.0)                     # h_t = h_{t-1} * z_t
        z = torch.tensor([[[2.0], [3.0], [4.0]]])            # (batch 1, T 3, 1 feature)
        adder(z), multiplier(z)                              # tensor([[9.]]), tensor([[24.]])

    The training hooks are the cell's: `regularization_loss` and `apply_constraints`.
    The fold is a Python loop over T: ``torch.compile`` of this module specializes on T (a graph,
    and a compilation, per length); compile ``model.cell`` instead for sequences of many lengths.
    """

    def __init__(
        self,
        unit: str,
        input_size: int,
        *,
        hidden_size: int = 1,
        initial_state: float = 0.0,
        return_sequences: bool = False,
        **options: Any,
    ) -> None:
        super().__init__()
        self.recurrence = Recurrence(unit, hidden_size, initial_state, return_sequences)
        self.cell: ArithmeticUnit = UNITS.get(unit)(*self.recurrence.cell_sizes(input_size), **options)
        self.input_size = input_size

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        r = self.recurrence
        if not isinstance(z, torch.Tensor) or z.dim() < 2 or z.shape[-1] != self.input_size:
            shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(f"Recurrent expects inputs of shape (..., T, {self.input_size}), got {shape}")
        if not z.is_floating_point():  # else the float initial state would promote it silently
            raise TypeError(f"Recurrent expects a floating-point input, got dtype {z.dtype}")
        return functional.recur(
            self.cell, z, r.hidden_size, r.initial_state, ops=torch, return_sequences=r.return_sequences
        )

    def weights(self) -> tuple[torch.Tensor, ...]:
        """The cell's effective weights, (hidden + input, hidden): rows for h_{t-1} first."""
        return self.cell.weights()

    def regularization_loss(self, step: int) -> torch.Tensor:
        """The cell's penalty at training step ``step``."""
        return self.cell.regularization_loss(step)

    @torch.no_grad()
    def apply_constraints(self) -> None:
        """The cell's clamps."""
        self.cell.apply_constraints()

    def extra_repr(self) -> str:
        r = self.recurrence
        return (
            f"input_size={self.input_size}, hidden_size={r.hidden_size}, initial_state={r.initial_state:g}, "
            f"return_sequences={r.return_sequences}"
        )

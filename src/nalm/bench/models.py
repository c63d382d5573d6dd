"""Models for the arithmetic tasks: registered units stacked as input -> hidden -> output."""

from __future__ import annotations

from typing import Any

from nalm.torch import UNITS, UnitStack
from nalm.validation import positive_int


def build_model(unit: str, input_size: int, hidden_size: int = 2, **unit_options: Any) -> UnitStack:
    """Two layers of the unit ``unit``: (..., input_size) -> (..., hidden_size) -> (..., 1).

    This is the published model of the static task (e.g. "NALU" = NALU -> NALU, hidden size 2).
    """
    positive_int("hidden_size", hidden_size)
    return UNITS.get(unit).stack(input_size, hidden_size, 1, **unit_options)

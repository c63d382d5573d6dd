"""The static arithmetic task: a op b, where a and b are sums of two overlapping input subsets.

Madsen and Johansen, "Neural Arithmetic Units", ICLR 2020 (after Trask et al. 2018): x has
``input_size`` inputs drawn iid from a range; subset a is ``floor(subset_ratio * input_size)``
contiguous inputs, subset b as many, starting ``floor(overlap_ratio * subset size)`` inputs
before a ends. Both are shifted by one offset per seed, drawn so that they fit in x.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from nalm.validation import choice, positive_int

OPERATIONS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "square": lambda a, b: a * a,
    "sqrt": lambda a, b: torch.sqrt(a),
}
"""Target of each operation from the subset sums a and b."""


def value_range(name: str, bounds: tuple[float, float]) -> tuple[float, float]:
    """Check a (low, high) pair of finite numbers with low < high."""
    if len(bounds) != 2 or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in bounds):
        raise ValueError(f"{name} must be a pair (low, high) of finite numbers, got {bounds!r}")
    low, high = float(bounds[0]), float(bounds[1])
    if not low < high:
        raise ValueError(f"{name} must have low < high, got ({low:g}, {high:g})")
    return low, high


@dataclass(frozen=True)
class StaticArithmeticTask:
    """The task's configuration; :meth:`subsets` and :meth:`sample` make its data.

    Defaults are the published ones: 100 inputs, subsets of 25 overlapping by 12,
    interpolation range U[1, 2], extrapolation range U[2, 6].
    """

    operation: str = "add"
    input_size: int = 100
    subset_ratio: float = 0.25
    overlap_ratio: float = 0.5
    interpolation_range: tuple[float, float] = (1.0, 2.0)
    extrapolation_range: tuple[float, float] = (2.0, 6.0)

    def __post_init__(self) -> None:
        choice("operation", self.operation, tuple(OPERATIONS))
        positive_int("input_size", self.input_size)
        if not 0 < self.subset_ratio <= 0.5:
            raise ValueError(f"subset_ratio must be in (0, 0.5], got {self.subset_ratio!r}")
        if not 0 <= self.overlap_ratio < 1:
            raise ValueError(f"overlap_ratio must be in [0, 1), got {self.overlap_ratio!r}")
        if self.subset_size < 1:
            raise ValueError(
                f"subset_ratio {self.subset_ratio:g} of input_size {self.input_size} leaves an empty subset"
            )
        object.__setattr__(self, "interpolation_range", value_range("interpolation_range", self.interpolation_range))
        object.__setattr__(self, "extrapolation_range", value_range("extrapolation_range", self.extrapolation_range))

    @property
    def subset_size(self) -> int:
        return math.floor(self.subset_ratio * self.input_size)

    @property
    def overlap_size(self) -> int:
        return math.floor(self.overlap_ratio * self.subset_size)

    def subsets(self, generator: torch.Generator) -> tuple[slice, slice]:
        """The input slices of a and b, shifted by one offset drawn from ``generator``."""
        span = 2 * self.subset_size - self.overlap_size
        offset = int(torch.randint(0, self.input_size - span + 1, (), generator=generator))
        a = slice(offset, offset + self.subset_size)
        b_start = a.stop - self.overlap_size
        return a, slice(b_start, b_start + self.subset_size)

    def sample(
        self,
        n: int,
        bounds: tuple[float, float],
        subsets: tuple[slice, slice],
        generator: torch.Generator,
        dtype: torch.dtype = torch.float32,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` rows x ~ U[bounds]^input_size and targets a op b: shapes (n, input_size), (n, 1).

        x is drawn in ``dtype`` on the CPU from ``generator`` (so a seed gives the same data on
        any device); the targets are computed from those x in float64, then rounded to ``dtype``.
        """
        low, high = bounds
        x = torch.rand(n, self.input_size, generator=generator, dtype=dtype) * (high - low) + low
        a = x[:, subsets[0]].double().sum(-1, keepdim=True)
        b = x[:, subsets[1]].double().sum(-1, keepdim=True)
        return x, OPERATIONS[self.operation](a, b).to(dtype)

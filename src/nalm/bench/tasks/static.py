"""The static arithmetic task: a op b, where a and b are sums of two overlapping input subsets.

Madsen and Johansen, "Neural Arithmetic Units", ICLR 2020 (after Trask et al. 2018): x has
``input_size`` inputs drawn iid from a range; subset a is ``floor(subset_ratio * input_size)``
contiguous inputs, subset b as many, starting ``floor(overlap_ratio * subset size)`` inputs
before a ends. Both are shifted by one offset per seed, drawn so that they fit in x.
The random numbers come from each seed's streams in [`nalm.bench.tasks.streams`][nalm.bench.tasks.streams].

With ``time_steps`` T > 1 it is the recurrent task of Trask et al. (section 4.1): the input
vector arrives over T steps, x is (..., T, input_size), and a and b are the sums of their subsets
over all T steps, so the model must accumulate them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from nalm.bench.tasks.streams import SeedStreams, draw, uniforms
from nalm.validation import choice, interval, positive_int

MAX_INPUTS = 10**6
"""The most inputs a task may have."""
MAX_TIME_STEPS = 10**4
"""The most time steps of the recurrent task."""
FLOAT32_MAX = float(np.finfo(np.float32).max)
"""The largest float32: inputs and targets must stay below it."""

OPERATIONS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "square": lambda a, b: a * a,
    "sqrt": lambda a, b: torch.sqrt(a),
}
"""Target of each operation from the subset sums a and b."""


Interval = tuple[float, float]
Range = Interval | tuple[Interval, ...]
"""A range to draw inputs from: one interval (low, high), or a union of disjoint intervals
((low, high), (low, high), ...), e.g. ((-6, -2), (2, 6))."""


def value_range(name: str, bounds: object) -> Range:
    """Check a range: a pair (low, high) of finite numbers with low < high, or a tuple of such
    pairs, sorted and disjoint (a union). Lists are accepted (e.g. read from JSON), tuples returned."""
    if isinstance(bounds, (tuple, list)) and bounds and all(isinstance(b, (tuple, list)) for b in bounds):
        parts = tuple(interval(name, b) for b in bounds)
        if any(a[1] > b[0] for a, b in zip(parts[:-1], parts[1:])):
            raise ValueError(f"{name}'s intervals must be sorted and disjoint, got {bounds!r}")
        return parts[0] if len(parts) == 1 else parts
    return interval(name, bounds)


def intervals(bounds: Range) -> tuple[Interval, ...]:
    """The intervals of a checked range: one for (low, high), several for a union."""
    if isinstance(bounds[0], tuple):
        return bounds
    return (bounds,)


def range_label(bounds: Range) -> str:
    """ "U[1,2]", or "U[-6,-2]u[2,6]" for a union."""
    return "U" + "u".join(f"[{low:g},{high:g}]" for low, high in intervals(bounds))


@dataclass(frozen=True)
class StaticArithmeticTask:
    """The task's configuration; `subsets` and `sample` make its data.

    Defaults are the published ones: 100 inputs, subsets of 25 overlapping by 12,
    interpolation range U[1, 2], extrapolation range U[2, 6], one time step (the static task;
    T > 1 is the recurrent task).
    """

    operation: str = "add"
    input_size: int = 100
    subset_ratio: float = 0.25
    overlap_ratio: float = 0.5
    interpolation_range: Range = (1.0, 2.0)
    extrapolation_range: Range = (2.0, 6.0)
    time_steps: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "operation", choice("operation", self.operation, tuple(OPERATIONS)))
        positive_int("input_size", self.input_size, at_most=MAX_INPUTS)
        positive_int("time_steps", self.time_steps, at_most=MAX_TIME_STEPS)
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
        for name in ("interpolation_range", "extrapolation_range"):
            largest = self.largest_target(getattr(self, name))
            if not largest <= FLOAT32_MAX:
                raise ValueError(
                    f"{name} {range_label(getattr(self, name))} gives {self.operation} targets up to {largest:.3g}, "
                    f"beyond float32's {FLOAT32_MAX:.3g}: the data would overflow; choose a smaller range"
                )

    def largest_target(self, bounds: Range) -> float:
        """A bound on |x| and on |a op b| over inputs from ``bounds`` (a and b sum ``subset_size`` inputs
        over ``time_steps`` steps): the largest value the data of that range can hold (division: |x|,
        as a quotient's size depends on how near zero the divisor's sum comes, not on the range's size)."""
        x = max(abs(value) for interval in intervals(bounds) for value in interval)
        total = self.subset_size * self.time_steps * x
        targets = {
            "add": 2 * total,
            "sub": 2 * total,
            "mul": total * total,
            "square": total * total,
            "sqrt": math.sqrt(total),
            "div": x,
        }
        return max(x, total, targets[self.operation])

    @property
    def subset_size(self) -> int:
        return math.floor(self.subset_ratio * self.input_size)

    @property
    def overlap_size(self) -> int:
        return math.floor(self.overlap_ratio * self.subset_size)

    def subsets(self, seed: int) -> tuple[slice, slice]:
        """Seed ``seed``'s input slices of a and b, shifted by one offset drawn from its "subsets" stream."""
        span = 2 * self.subset_size - self.overlap_size
        offset = int(uniforms(seed, "subsets", 1)[0] * (self.input_size - span + 1))
        a = slice(offset, offset + self.subset_size)
        b_start = a.stop - self.overlap_size
        return a, slice(b_start, b_start + self.subset_size)

    def sample(
        self,
        rows: int,
        bounds: Range,
        subsets: Sequence[tuple[slice, slice]],
        streams: SeedStreams,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The next ``rows`` rows of each seed's stream: x ~ U[bounds]^input_size and targets a op b,
        shapes (S, rows, input_size) and (S, rows, 1), for S = len(subsets) seeds (seed s with
        subsets[s], drawn from stream s of ``streams``). With T = ``time_steps`` > 1, x is
        (S, rows, T, input_size): T rows of the stream per sequence, a and b summed over them.

        x is drawn in ``dtype`` on ``device`` (a seed's data is the same on every device, up to the
        rounding of its scaling: see [`nalm.bench.tasks.streams`][nalm.bench.tasks.streams]); the targets are computed from those x
        in float64, then rounded to ``dtype``.
        """
        steps = self.time_steps
        x, sums = draw(streams, rows * steps, self.input_size, intervals(bounds), self.spans(subsets), dtype, device)
        if steps > 1:
            x = x.view(x.shape[0], rows, steps, self.input_size)
            sums = sums.view(sums.shape[0], rows, steps, 2).sum(dim=2)
        return x, self.targets(sums, dtype).to(x.device)  # sums stay on the CPU for a device without float64

    def spans(self, subsets: Sequence[tuple[slice, slice]]) -> np.ndarray:
        """(S, 4) int64: (a.start, a.stop, b.start, b.stop) of each seed's subsets."""
        return np.array([(a.start, a.stop, b.start, b.stop) for a, b in subsets], dtype=np.int64).reshape(-1, 4)

    def targets(self, sums: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """a op b from the float64 subset sums (..., 2) = (a, b): (..., 1) in ``dtype``."""
        return OPERATIONS[self.operation](sums[..., :1], sums[..., 1:]).to(dtype)

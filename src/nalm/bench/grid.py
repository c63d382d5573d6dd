"""A benchmark: which models, operations and ranges to train, with how many seeds and which settings.

A :class:`Benchmark` expands to :class:`Configuration` s, one per model x operation x range pair;
each configuration is trained with seeds 0 .. S-1 side by side
(:func:`nalm.bench.seeds.train_stacked`). :data:`PRESETS` holds the published settings.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, fields

from nalm.bench.data import DATA_STREAMS
from nalm.bench.models import MODELS, check_model
from nalm.bench.tasks import OPERATIONS, Range, StaticArithmeticTask, range_label, value_range
from nalm.bench.trainer import TrainConfig
from nalm.validation import choice, non_negative_int, positive_int

MAX_SEEDS = 100_000
"""The most seeds a benchmark may train per configuration."""
MAX_BATCH_ELEMENTS = 2**31
"""The most values in one training batch of all the seeds (8 GiB in float32)."""

RangePair = tuple[Range, Range]
"""(interpolation range, extrapolation range), each (low, high) or a union of such intervals."""


@dataclass(frozen=True)
class Configuration:
    """One model on one operation and range pair: the unit of training (S seeds side by side)."""

    model: str
    operation: str
    interpolation_range: Range
    extrapolation_range: Range

    @property
    def key(self) -> tuple[str, str, Range, Range]:
        return (self.model, self.operation, self.interpolation_range, self.extrapolation_range)

    @property
    def ranges_label(self) -> str:
        """"U[1,2] -> U[2,6]": the interpolation and extrapolation ranges."""
        return f"{range_label(self.interpolation_range)} -> {range_label(self.extrapolation_range)}"

    def label(self, with_ranges: bool) -> str:
        """"nmu mul", or "nmu mul U[1,2] -> U[2,6]" with ``with_ranges``."""
        return f"{self.model} {self.operation}" + (f" {self.ranges_label}" if with_ranges else "")


@dataclass(frozen=True)
class Benchmark:
    """Every value of a benchmark. Defaults: the static task of Madsen and Johansen 2020
    (100 inputs, subsets of 25 overlapping by 12, U[1,2] -> U[2,6]) with the ``quick`` preset's
    models, operations, seeds and steps.

    ``hidden_size`` 0 means no hidden layer: the model is its pair's second unit alone
    (see :func:`nalm.bench.models.build_published_model`). ``time_steps`` > 1 is the recurrent
    task: the input vector arrives over that many steps and the first layer is a recurrent cell. ``threshold_samples`` is the number of
    extrapolation samples that estimate the success threshold
    (:func:`nalm.bench.metrics.success_threshold`).
    """

    models: tuple[str, ...] = ("nau", "nmu", "nac", "nalu")
    operations: tuple[str, ...] = ("add", "sub", "mul")
    seeds: int = 8
    steps: int = 6_000
    eval_every: int = 500
    batch_size: int = 128
    learning_rate: float = 1e-3
    eval_size: int = 10_000
    input_size: int = 100
    subset_ratio: float = 0.25
    overlap_ratio: float = 0.5
    hidden_size: int = 2
    time_steps: int = 1
    ranges: tuple[RangePair, ...] = (((1.0, 2.0), (2.0, 6.0)),)
    threshold_samples: int = 100_000

    def __post_init__(self) -> None:
        for name, options in (("models", tuple(MODELS)), ("operations", tuple(OPERATIONS))):
            values = tuple(getattr(self, name))
            if not values:
                raise ValueError(f"{name} must name at least one, got none")
            for value in values:
                choice(name[:-1], value, options)
            object.__setattr__(self, name, tuple(dict.fromkeys(values)))
        positive_int("seeds", self.seeds, at_most=MAX_SEEDS)
        positive_int("threshold_samples", self.threshold_samples, at_most=10**9)
        non_negative_int("hidden_size", self.hidden_size)
        if not self.ranges:
            raise ValueError("ranges must hold at least one (interpolation, extrapolation) pair, got none")
        ranges = tuple(
            (value_range("interpolation_range", i), value_range("extrapolation_range", e))
            for i, e in self.ranges
        )
        object.__setattr__(self, "ranges", ranges)
        self.train_config()  # checks steps, eval_every, batch_size, learning_rate, eval_size
        elements = self.seeds * self.batch_size * self.input_size * positive_int("time_steps", self.time_steps)
        if elements > MAX_BATCH_ELEMENTS:
            raise ValueError(
                f"seeds x batch_size x input_size = {elements:,} values in one training batch, more than "
                f"{MAX_BATCH_ELEMENTS:,} ({MAX_BATCH_ELEMENTS * 4 / 2**30:.0f} GiB in float32); use fewer seeds, rows or inputs"
            )
        for model in self.models:
            check_model(model, self.hidden_size, self.time_steps)
        for configuration in self.configurations():
            self.task(configuration)  # checks input_size, subset_ratio, overlap_ratio

    def configurations(self) -> list[Configuration]:
        """Model x operation x range pair, in that nesting order."""
        return [
            Configuration(model, operation, *pair)
            for model, operation, pair in itertools.product(self.models, self.operations, self.ranges)
        ]

    def seed_list(self) -> tuple[int, ...]:
        """The seeds every configuration is trained with: 0 .. seeds - 1."""
        return tuple(range(self.seeds))

    def task(self, configuration: Configuration) -> StaticArithmeticTask:
        return StaticArithmeticTask(
            operation=configuration.operation,
            input_size=self.input_size,
            subset_ratio=self.subset_ratio,
            overlap_ratio=self.overlap_ratio,
            interpolation_range=configuration.interpolation_range,
            extrapolation_range=configuration.extrapolation_range,
            time_steps=self.time_steps,
        )

    def train_config(self) -> TrainConfig:
        return TrainConfig.of(self)

    def settings(self) -> dict[str, int | float]:
        """The values every run shares, all but the grid's axes (models, operations, ranges, seeds),
        and the version of the data streams: runs with different settings must not be mixed in one
        results file."""
        axes = {"models", "operations", "ranges", "seeds"}
        if self.time_steps == 1:  # the static task: its results files from before time_steps existed match
            axes.add("time_steps")
        return {**{f.name: getattr(self, f.name) for f in fields(self) if f.name not in axes}, "data": DATA_STREAMS}


SINGLE_RANGES: tuple[RangePair, ...] = (
    ((-20.0, -10.0), (-40.0, -20.0)),
    ((-2.0, -1.0), (-6.0, -2.0)),
    ((-1.2, -1.1), (-6.1, -1.2)),
    ((-0.2, -0.1), (-2.0, -0.2)),
    ((-2.0, 2.0), ((-6.0, -2.0), (2.0, 6.0))),
    ((0.1, 0.2), (0.2, 2.0)),
    ((1.0, 2.0), (2.0, 6.0)),
    ((1.1, 1.2), (1.2, 6.0)),
    ((10.0, 20.0), (20.0, 40.0)),
)
"""The nine range pairs of the single-unit task of Mistry et al. 2021."""

PRESETS: dict[str, Benchmark] = {
    # About 40 seconds on two CPU cores: the published task and protocol, but 6,000 steps
    # instead of 5e6, 8 seeds, evaluated every 500 steps. Enough for NAU to solve sub.
    "quick": Benchmark(),
    # Madsen and Johansen, "Neural Arithmetic Units", ICLR 2020, arXiv 2001.05016: the static
    # task at the published settings and models (every model of their Table 1 and its appendix
    # on every operation of Table 1).
    "madsen2020": Benchmark(
        models=("linear", "relu", "relu6", "nac", "nac_mul", "nalu", "nau", "nmu"),
        operations=("add", "sub", "mul"),
        seeds=100,
        steps=5_000_000,
        eval_every=1_000,
        threshold_samples=1_000_000,
    ),
    # Trask et al. 2018, section 4.1, the recurrent task: the input vector of the static task arrives
    # over 10 time steps (our choice of length) and a recurrent cell of the first unit accumulates a and b.
    "trask2018-recurrent": Benchmark(
        models=("nac", "nalu", "nau", "nmu"),
        operations=("add", "sub", "mul"),
        seeds=8,
        steps=50_000,
        eval_every=1_000,
        time_steps=10,
    ),
    # Mistry, Farrahi, Hare, "A Primer for Neural Arithmetic Logic Modules", 2021, arXiv 2101.09530:
    # each unit alone on two inputs, a op b, over their range pairs.
    "primer2021": Benchmark(
        models=("nac", "nalu", "inalu", "nau", "nmu", "npu", "realnpu"),
        operations=("add", "sub", "mul", "div"),
        seeds=25,
        steps=50_000,
        eval_every=1_000,
        input_size=2,
        subset_ratio=0.5,
        overlap_ratio=0.0,
        hidden_size=0,
        ranges=SINGLE_RANGES,
        threshold_samples=1_000_000,
    ),
}
"""The benchmark presets by name; ``nalm bench --preset NAME`` overrides any value from the command line."""


def preset(name: str) -> Benchmark:
    """The preset ``name``; an unknown name raises ValueError listing the known ones."""
    return PRESETS[choice("preset", name, tuple(PRESETS))]

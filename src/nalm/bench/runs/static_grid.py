"""The static (and recurrent) task's benchmark: which models, operations and ranges to train.

A [`Benchmark`][nalm.bench.runs.static_grid.Benchmark] expands to [`Configuration`][nalm.bench.runs.static_grid.Configuration] s, one per model x operation x range pair,
and makes each one's rows. Per run, following Madsen and Johansen 2020: the selected evaluation is
the one with the lowest interpolation MSE; ``success`` = its extrapolation MSE < the task's
threshold; ``solved_at`` = the first evaluation step with extrapolation MSE < threshold
(successful runs only). The NALU paper's normalized error is 100 * final MSE / (the same seed's
MSE at initialization, step 0). The sparsity error is read at the selected step, like the errors.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from nalm.bench.engine.config import TrainConfig
from nalm.bench.engine.problem import Evaluation, TrainResult
from nalm.bench.models.sparsity import network_sparsity
from nalm.bench.models.static import ACTIVATIONS, MODELS, build_published_model, check_model, check_size
from nalm.bench.runs.grid import FieldKind, Grid, Row
from nalm.bench.tasks.static import OPERATIONS, Range, StaticArithmeticTask, range_label, value_range
from nalm.bench.tasks.streams import SeedStreams
from nalm.bench.tasks.thresholds import success_threshold
from nalm.validation import boolean, non_negative_int, positive_float, positive_int

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
        """ "U[1,2] -> U[2,6]": the interpolation and extrapolation ranges."""
        return f"{range_label(self.interpolation_range)} -> {range_label(self.extrapolation_range)}"

    def label(self, with_ranges: bool) -> str:
        """ "nmu mul", or "nmu mul U[1,2] -> U[2,6]" with ``with_ranges``."""
        return f"{self.model} {self.operation}" + (f" {self.ranges_label}" if with_ranges else "")


@dataclass(frozen=True)
class Benchmark(Grid):
    """Every value of a benchmark of the static task. Defaults: the static task of Madsen and Johansen 2020
    (100 inputs, subsets of 25 overlapping by 12, U[1,2] -> U[2,6]) with the ``quick`` preset's
    models, operations, seeds and steps.

    ``hidden_size`` 0 means no hidden layer: the model is its pair's second unit alone
    (see [`nalm.bench.models.static.build_published_model`][nalm.bench.models.static.build_published_model]). ``time_steps`` > 1 is the recurrent
    task: the input vector arrives over that many steps and the first layer is a recurrent cell. ``threshold_samples`` is the number of
    extrapolation samples that estimate the success threshold
    ([`nalm.bench.tasks.thresholds.success_threshold`][nalm.bench.tasks.thresholds.success_threshold]); a ``threshold`` given is a constant
    one instead (the division paper's 1e-5). With ``select_initial`` the model at step 0 takes
    part in the selection of the evaluation, as in the division paper's runs (which evaluate
    before each step's update, the first included).
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
    threshold: float | None = None
    select_initial: bool = False

    TASK: ClassVar[str] = "static"
    MODEL_NAMES: ClassVar[tuple[str, ...]] = tuple(MODELS)
    OPERATION_NAMES: ClassVar[tuple[str, ...]] = tuple(OPERATIONS)
    MAX_SEEDS: ClassVar[int] = MAX_SEEDS
    ROW_KEYS: ClassVar[tuple[str, ...]] = (
        "model",
        "operation",
        "interpolation_range",
        "extrapolation_range",
        "seed",
        "settings",
        "success",
        "threshold",
        "solved_at",
        "extrapolation_mse",
        "sparsity_error",
        "diverged",
    )
    ROW_FIELDS: ClassVar[dict[str, FieldKind]] = {
        "task": "task",
        "model": "model",
        "model_definition": "text",
        "operation": "operation",
        "interpolation_range": "range",
        "extrapolation_range": "range",
        "seed": "seed",
        "settings": "settings",
        "threshold": "threshold",
        "success": "flag",
        "solved_at": "step or none",
        "selected_step": "step",
        "interpolation_mse": "error",
        "extrapolation_mse": "error",
        "sparsity_error": "error or none",
        "final_step": "step",
        "final_interpolation_mse": "error",
        "final_extrapolation_mse": "error",
        "initial_interpolation_mse": "error",
        "initial_extrapolation_mse": "error",
        "normalized_interpolation_error": "error",
        "normalized_extrapolation_error": "error",
        "diverged": "flag",
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        positive_int("threshold_samples", self.threshold_samples, at_most=10**9)
        if self.threshold is not None:
            positive_float("threshold", self.threshold)
        boolean("select_initial", self.select_initial)
        non_negative_int("hidden_size", self.hidden_size)
        if not self.ranges:
            raise ValueError("ranges must hold at least one (interpolation, extrapolation) pair, got none")
        ranges = tuple(
            (value_range("interpolation_range", i), value_range("extrapolation_range", e)) for i, e in self.ranges
        )
        object.__setattr__(self, "ranges", ranges)
        elements = self.seeds * self.batch_size * self.input_size * positive_int("time_steps", self.time_steps)
        if elements > MAX_BATCH_ELEMENTS:
            raise ValueError(
                f"seeds x batch_size x input_size = {elements:,} values in one training batch, more than "
                f"{MAX_BATCH_ELEMENTS:,} ({MAX_BATCH_ELEMENTS * 4 / 2**30:.0f} GiB in float32); use fewer seeds, rows or inputs"
            )
        check_size(self.seeds, self.input_size, self.hidden_size)
        for model in self.models:
            check_model(model, self.hidden_size, self.time_steps)
        for configuration in self.configurations():
            self.task(configuration)  # checks input_size, subset_ratio, overlap_ratio
            try:  # the model's own settings (attempts at most steps) against the steps
                config = self.train_config(configuration)
            except ValueError as error:
                raise ValueError(f"model {configuration.model!r}: {error}") from None
            self._warn_about(configuration.model, config)

    def _warn_about(self, name: str, config: TrainConfig) -> None:
        """Warn where model ``name`` is run other than it is meant to: at another hidden size than
        its own ([`Model`][nalm.bench.models.static.Model]), or in attempts that end before the
        sparsity ramp of a layer it builds does (each attempt counts the ramp from its own start)."""
        model = MODELS[name].at(self.input_size)
        if model.hidden_size is not None and model.hidden_size != self.hidden_size:
            warnings.warn(
                f"model {name!r} is meant for {model.hidden_size} hidden unit{'' if model.hidden_size == 1 else 's'} "
                f"(--hidden-size {model.hidden_size}); "
                f"this benchmark has {self.hidden_size}",
                stacklevel=4,
            )
        built = (model.second,) if self.hidden_size == 0 else (model.first, model.second)
        penalized = any(layer not in ACTIVATIONS and "lambda_sparse" in model.options(layer) for layer in built)
        schedule = model.schedule
        if config.attempts > 1 and penalized and schedule is not None and schedule.lambda_end > config.attempt_steps:
            reached = (
                "starts in none"
                if schedule.lambda_start >= config.attempt_steps
                else "reaches its full strength in none"
            )
            warnings.warn(
                f"model {name!r}: its sparsity ramp ends at step {schedule.lambda_end:,} of each attempt, after the "
                f"{config.attempt_steps:,} steps of each of its {config.attempts} attempts ({config.steps:,} steps): "
                f"the penalty {reached} of them (lambda {schedule.lambda_sparse:g})",
                stacklevel=4,
            )

    AXES: ClassVar[frozenset[str]] = frozenset({*Grid.AXES, "ranges"})

    def configurations(self) -> list[Configuration]:
        """Model x operation x range pair, in that nesting order."""
        return [
            Configuration(model, operation, *pair)
            for model, operation, pair in itertools.product(self.models, self.operations, self.ranges)
        ]

    def on_interpolation_range(self, low: float, high: float) -> Benchmark:
        """This benchmark with only those of its range pairs whose interpolation range is U[low, high]
        (ValueError, naming its interpolation ranges, where it has none)."""
        pairs = tuple(pair for pair in self.ranges if pair[0] == (low, high))
        if not pairs:
            have = ", ".join(dict.fromkeys(range_label(interpolation) for interpolation, _ in self.ranges))
            raise ValueError(f"no range pair starts with U[{low:g},{high:g}]; the interpolation ranges: {have}")
        return dataclasses.replace(self, ranges=pairs)

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

    def settings(self) -> dict[str, int | float]:
        """The values every run shares, all but the grid's axes (models, operations, ranges, seeds),
        and the version of the data streams: runs with different settings must not be mixed in one
        results file. ``time_steps`` is named only for the recurrent task (> 1), ``threshold`` and
        ``select_initial`` only where they are set."""
        settings = super().settings()
        if self.time_steps == 1:
            del settings["time_steps"]
        for name in ("threshold", "select_initial"):  # named where they are not the defaults
            if settings[name] in (None, False):
                del settings[name]
        return settings

    def builder(self, configuration: Configuration, device: str) -> Callable[[], nn.Module]:
        def build() -> nn.Module:
            model = build_published_model(configuration.model, self.input_size, self.hidden_size, self.time_steps)
            return model.to(device)

        return build

    def model_definition(self, model: str, operation: str) -> str | None:
        return MODELS[model].at(self.input_size).describe() if model in MODELS else None

    def train_config(self, configuration: Configuration | None = None) -> TrainConfig:
        """How every run trains; with a ``configuration``, its model's own learning rate, gradient
        clipping and attempts where the model has them ([`Model`][nalm.bench.models.static.Model])."""
        config = super().train_config()
        if configuration is None:
            return config
        model = MODELS[configuration.model].at(self.input_size)
        return dataclasses.replace(
            config,
            learning_rate=config.learning_rate if model.learning_rate is None else model.learning_rate,
            gradient_clip=model.gradient_clip,
            attempts=model.attempts,
        )

    def rows(
        self,
        configuration: Configuration,
        seeds: tuple[int, ...],
        results: list[TrainResult],
        build: Callable[[], nn.Module],
    ) -> list[Row]:
        task, config = self.task(configuration), self.train_config()
        threshold = self.threshold or _threshold(task, self.threshold_samples, hidden_layer=self.hidden_size > 0)
        return [
            self._row(configuration, seed, result, threshold, initial_errors(build, task, config, seed))
            for seed, result in zip(seeds, results)
        ]

    def _row(
        self,
        configuration: Configuration,
        seed: int,
        result: TrainResult,
        threshold: float,
        initial: Evaluation,
    ) -> Row:
        """The line of one run (see the module docstring for the measures)."""
        selected, final = result.best, result.final
        if self.select_initial and initial.interpolation_mse < selected.interpolation_mse:
            selected = initial
        success = selected.extrapolation_mse < threshold
        solved = [e.step for e in result.evaluations if e.extrapolation_mse < threshold]
        if self.select_initial and initial.extrapolation_mse < threshold:
            solved.insert(0, 0)
        return {
            "model": configuration.model,
            "model_definition": MODELS[configuration.model].at(self.input_size).describe(),
            "operation": configuration.operation,
            "interpolation_range": configuration.interpolation_range,
            "extrapolation_range": configuration.extrapolation_range,
            "seed": seed,
            "settings": self.settings(),
            "threshold": threshold,
            "success": success,
            "solved_at": solved[0] if success else None,
            "selected_step": selected.step,
            "interpolation_mse": selected.interpolation_mse,
            "extrapolation_mse": selected.extrapolation_mse,
            "sparsity_error": selected.sparsity_error,
            "final_step": final.step,
            "final_interpolation_mse": final.interpolation_mse,
            "final_extrapolation_mse": final.extrapolation_mse,
            "initial_interpolation_mse": initial.interpolation_mse,
            "initial_extrapolation_mse": initial.extrapolation_mse,
            "normalized_interpolation_error": _normalized(final.interpolation_mse, initial.interpolation_mse),
            "normalized_extrapolation_error": _normalized(final.extrapolation_mse, initial.extrapolation_mse),
            "diverged": result.diverged,
        }

    @staticmethod
    def configuration_of(row: Row) -> Configuration:
        return Configuration(
            row["model"],
            row["operation"],
            value_range("interpolation_range", row["interpolation_range"]),
            value_range("extrapolation_range", row["extrapolation_range"]),
        )


@functools.cache
def _threshold(task: StaticArithmeticTask, samples: int, hidden_layer: bool) -> float:
    """[`success_threshold`][nalm.bench.tasks.thresholds.success_threshold], once per task and process."""
    return success_threshold(task, samples=samples, hidden_layer=hidden_layer)


def initial_errors(
    build: Callable[[], nn.Module], task: StaticArithmeticTask, config: TrainConfig, seed: int
) -> Evaluation:
    """Seed ``seed``'s evaluation at step 0: its interpolation and extrapolation MSE and its sparsity
    error at initialization, on the evaluation sets
    its training run uses (the model built after ``torch.manual_seed(seed)``, as
    [`stack_seeds`][nalm.bench.engine.stacking.stack_seeds] builds it), in ``eval()`` mode as every evaluation."""
    torch.manual_seed(seed)
    model = build().eval()  # evaluated as the loop evaluates: the units' evaluation formulas
    device = next(model.parameters()).device
    subsets = [task.subsets(seed)]
    errors = []
    for stream, bounds in (("interpolation", task.interpolation_range), ("extrapolation", task.extrapolation_range)):
        x, target = task.sample(config.eval_size, bounds, subsets, SeedStreams([seed], stream), device=device)
        errors.append(mean_squared_error(model, x[0], target[0]))
    sparsity = network_sparsity(model)
    return Evaluation(0, errors[0], errors[1], None if sparsity is None else sparsity.item())


def _normalized(mse: float, initial: float) -> float:
    """100 * mse / initial: 100 is as bad as the untrained model, 0 is exact."""
    return 100 * mse / initial if initial > 0 else math.nan


def mean_squared_error(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> float:
    """MSE of ``model`` on (x, target), without gradients."""
    with torch.no_grad():
        return torch.mean((model(x) - target) ** 2).item()

"""The digit sequence benchmark: which models and operations to train, with how many seeds, and its presets.

A :class:`SequenceBenchmark` expands to :class:`SequenceConfiguration` s, one per model x operation,
plus, for each operation, the baseline whose cell is fixed to the exact solution (``fixed_nau``
for count and sum, ``fixed_nmu`` for product): its runs set the success bound of the others
(:func:`nalm.bench.sequences.success_bounds`). Each configuration trains seeds 0 .. S-1 side by
side (:class:`nalm.bench.sequences.SeedEnsemble`).
"""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

import torch

from nalm.bench.data import DATA_STREAMS
from nalm.bench.digit_models import SEQUENCE_MODELS, build_sequence_model
from nalm.bench.digits import MAX_LENGTH, SEQUENCE_OPERATIONS, DigitSequenceTask, lengths
from nalm.bench.sequences import success_bounds
from nalm.bench.trainer import TrainConfig, TrainResult
from nalm.validation import choice, positive_int

Row = dict[str, Any]

BASELINES = {"count": "fixed_nau", "sum": "fixed_nau", "product": "fixed_nmu"}
"""The exact-solution baseline of each operation."""

PUBLISHED_LENGTHS = {"count": (10, (1, 10, 100, 1000)), "sum": (10, (1, 10, 100, 1000)), "product": (2, tuple(range(1, 21)))}
"""(training length, test lengths) of each operation as Madsen and Johansen ran them."""


@dataclass(frozen=True)
class SequenceConfiguration:
    """One model on one digit operation: the unit of training (S seeds side by side)."""

    model: str
    operation: str

    @property
    def key(self) -> tuple[str, str, str]:
        return ("digits", self.model, self.operation)

    @property
    def baseline(self) -> bool:
        return self.model == BASELINES[self.operation]

    def label(self, with_ranges: bool = False) -> str:
        return f"{self.model} {self.operation}"


@dataclass(frozen=True)
class SequenceBenchmark:
    """Every value of a digit sequence benchmark. ``train_length`` and ``test_lengths`` left as
    None take each operation's published ones (:data:`PUBLISHED_LENGTHS`); ``eval_size`` is the
    number of sequences of each evaluation set; ``images`` is "sklearn" or a folder of MNIST IDX
    files (:func:`nalm.bench.digits.load_images`)."""

    models: tuple[str, ...] = ("nau", "nmu", "lstm")
    operations: tuple[str, ...] = ("sum", "product")
    seeds: int = 4
    steps: int = 2_000
    eval_every: int = 500
    batch_size: int = 64
    learning_rate: float = 1e-3
    eval_size: int = 100
    images: str = "sklearn"
    train_length: int | None = None
    test_lengths: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        for name, options in (("models", tuple(SEQUENCE_MODELS)), ("operations", SEQUENCE_OPERATIONS)):
            values = tuple(getattr(self, name))
            if not values:
                raise ValueError(f"{name} must name at least one, got none")
            for value in values:
                choice(name[:-1], value, options)
            object.__setattr__(self, name, tuple(dict.fromkeys(values)))
        positive_int("seeds", self.seeds, at_most=10_000)
        if self.seeds < 2:
            raise ValueError(f"seeds must be at least 2: the success bound needs 2 baseline runs, got {self.seeds}")
        if self.train_length is not None:
            positive_int("train_length", self.train_length, at_most=MAX_LENGTH)
        if self.test_lengths is not None:
            object.__setattr__(self, "test_lengths", lengths("test_lengths", self.test_lengths))
        self.train_config()  # checks steps, eval_every, batch_size, learning_rate, eval_size
        for operation in self.operations:
            self.task(operation)  # checks the lengths and the image source's name

    def configurations(self) -> list[SequenceConfiguration]:
        """Per operation, its baseline, then each model (model x operation, operation outermost)."""
        return [
            SequenceConfiguration(model, operation)
            for operation in self.operations
            for model in dict.fromkeys((BASELINES[operation], *self.models))
        ]

    def seed_list(self) -> tuple[int, ...]:
        return tuple(range(self.seeds))

    def task(self, operation: str) -> DigitSequenceTask:
        train, test = PUBLISHED_LENGTHS[choice("operation", operation, SEQUENCE_OPERATIONS)]
        return DigitSequenceTask(
            operation,
            train if self.train_length is None else self.train_length,
            test if self.test_lengths is None else self.test_lengths,
            self.images,
        )

    def train_config(self) -> TrainConfig:
        return TrainConfig.of(self)

    def settings(self) -> dict[str, object]:
        """The values every run shares (all but models, operations and seeds), the task's name and
        the data streams' version: runs with other settings must not be mixed in one results file."""
        axes = {"models", "operations", "seeds"}
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in axes}
        if values["test_lengths"] is not None:
            values["test_lengths"] = list(values["test_lengths"])
        return {"task": "digits", **values, "data": DATA_STREAMS}


SEQUENCE_PRESETS: dict[str, SequenceBenchmark] = {
    # A few minutes on two CPU cores: scikit-learn's digits, the published lengths, 4 seeds.
    "digits-quick": SequenceBenchmark(test_lengths=None),
    # Madsen and Johansen's sequential MNIST at their lengths, every cell and the LSTM, 10 seeds.
    "digits": SequenceBenchmark(
        models=("nau", "nmu", "nac", "nalu", "lstm"),
        operations=("count", "sum", "product"),
        seeds=10,
        steps=100_000,
        eval_every=1_000,
        eval_size=1_000,
    ),
}
"""The digit benchmark presets; ``nalm bench --preset NAME`` overrides any value from the command line."""


def run_sequence_configuration(
    benchmark: SequenceBenchmark,
    configuration: SequenceConfiguration,
    seeds: tuple[int, ...],
    threads: int = 1,
    checkpoint: str | os.PathLike[str] | None = None,
    device: str = "cpu",
) -> list[Row]:
    """Train ``configuration`` with ``seeds`` side by side on ``device`` (``threads`` PyTorch
    threads on the CPU), saving and resuming at ``checkpoint``; one row per seed (:func:`sequence_row`)."""
    from nalm.bench.seeds import train_seeds  # seeds builds on the models this module names

    task, config = benchmark.task(configuration.operation), benchmark.train_config()
    previous = torch.get_num_threads()
    torch.set_num_threads(positive_int("threads", threads))
    try:
        results = train_seeds(
            lambda: build_sequence_model(configuration.model, task).to(device), task, config, seeds,
            checkpoint=checkpoint,
        )
    finally:
        torch.set_num_threads(previous)
    return [sequence_row(benchmark, configuration, seed, result) for seed, result in zip(seeds, results)]


def sequence_row(benchmark: SequenceBenchmark, configuration: SequenceConfiguration, seed: int, result: TrainResult) -> Row:
    """The line of one run: the test MSE at each length and the cell's recurrence error
    (max |W_h - I|, :meth:`~nalm.bench.digit_models.DigitSequenceModel.recurrence_error`) at the
    selected step (lowest validation MSE), and the test MSE at the last step. Success is not in
    the row: it needs the baseline's runs (:func:`summarize_sequences`)."""
    selected, final = result.best, result.final
    task = benchmark.task(configuration.operation)
    return {
        "task": "digits",
        "model": configuration.model,
        "model_definition": SEQUENCE_MODELS[configuration.model].describe(configuration.operation),
        "operation": configuration.operation,
        "seed": seed,
        "settings": benchmark.settings(),
        "train_length": task.train_length,
        "test_lengths": list(task.test_lengths),
        "selected_step": selected.step,
        "validation_mse": selected.interpolation_mse,
        "test_mse": list(selected.test_mse),
        "recurrence_error": selected.sparsity_error,
        "final_step": final.step,
        "final_test_mse": list(final.test_mse),
        "diverged": result.diverged,
    }


EXACT_RECURRENCE = 1e-6
"""A run's cell carries its state exactly when its recurrence error max |W_h - I| is at most
this (float32 resolves 6e-8 near 1)."""


@dataclass(frozen=True)
class SequenceSummary:
    """One configuration's runs at each test length: the success bound of its operation's
    baseline, successes (test MSE below it) with a 95% Wilson interval, and the median test MSE;
    and how many runs' cells carry their state exactly (:data:`EXACT_RECURRENCE`; None for the LSTM)."""

    configuration: SequenceConfiguration
    lengths: tuple[int, ...]
    runs: int
    exact: int | None
    bounds: tuple[float, ...] | None
    successes: tuple[int, ...] | None
    intervals: tuple[tuple[float, float], ...] | None
    median_mse: tuple[float, ...]
    diverged: int


def summarize_sequences(rows: Iterable[Row]) -> list[SequenceSummary]:
    """One :class:`SequenceSummary` per digit configuration in ``rows``, in the order they first
    appear; without 2 baseline runs of its operation whose MSEs are all finite, its bounds and
    successes are None."""
    from nalm.bench.aggregate import wilson_interval  # aggregate reads results, which reads this module

    groups: dict[SequenceConfiguration, list[Row]] = {}
    for row in rows:
        groups.setdefault(SequenceConfiguration(row["model"], row["operation"]), []).append(row)
    summaries = []
    for configuration, runs in groups.items():
        lengths = tuple(runs[0]["test_lengths"])
        baseline = groups.get(SequenceConfiguration(BASELINES[configuration.operation], configuration.operation), [])
        errors = [[_finite(mse) for mse in run["test_mse"]] for run in baseline]
        usable = len(errors) >= 2 and all(math.isfinite(mse) for run in errors for mse in run)
        bounds = tuple(success_bounds(errors)) if usable else None
        successes = None if bounds is None else tuple(
            sum(run["test_mse"][i] is not None and run["test_mse"][i] < bound for run in runs) for i, bound in enumerate(bounds)
        )
        summaries.append(SequenceSummary(
            configuration=configuration,
            lengths=lengths,
            runs=len(runs),
            exact=None if runs[0].get("recurrence_error") is None else sum(
                run["recurrence_error"] is not None and run["recurrence_error"] <= EXACT_RECURRENCE for run in runs),
            bounds=bounds,
            successes=successes,
            intervals=None if successes is None else tuple(wilson_interval(k, len(runs)) for k in successes),
            median_mse=tuple(statistics.median(_finite(run["test_mse"][i]) for run in runs) for i in range(len(lengths))),
            diverged=sum(run["diverged"] for run in runs),
        ))
    return summaries


def _finite(value: float | None) -> float:
    """A row's MSE, None (a non-finite one written as null) read as inf."""
    return math.inf if value is None or math.isnan(value) else value

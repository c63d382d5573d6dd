"""Per-configuration summaries of a results file (Madsen and Johansen 2020's aggregates).

Static task: success rate with a 95% Wilson interval, solved-at median and mean, and the mean
sparsity error, the last two over the successful runs only. Digit tasks: at each test length, the
success bound of the operation's exact baseline, successes with their interval and the median MSE.
Language task: successes (every test number right) with their interval, test errors, the fraction
of test numbers right, and the error of each hundred.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from nalm.bench.analysis.statistics import success_bounds, wilson_interval
from nalm.bench.runs.digit_grid import BASELINES, SequenceConfiguration
from nalm.bench.runs.grid import Row
from nalm.bench.runs.language_grid import LanguageConfiguration, solved
from nalm.bench.runs.rows import configuration_of
from nalm.bench.runs.static_grid import Configuration
from nalm.bench.tasks.language import HUNDREDS
from nalm.bench.tasks.static import OPERATIONS


@dataclass(frozen=True)
class Summary:
    """The aggregates of one configuration's runs. Fields over successful runs are None without any;
    ``sparsity_errors`` are the successful runs' own (those that measured one), in row order."""

    configuration: Configuration
    runs: int
    successes: int
    interval: tuple[float, float]
    solved_at_median: float | None
    solved_at_mean: float | None
    sparsity_errors: tuple[float, ...]
    extrapolation_mse_median: float
    diverged: int

    @property
    def success_rate(self) -> float:
        return self.successes / self.runs

    @property
    def sparsity_error(self) -> float | None:
        """The mean of `sparsity_errors` (None without any)."""
        return _mean(list(self.sparsity_errors))


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _median_error(values: Iterable[float]) -> float:
    """The median of errors, NaN counted as +inf (an error without bound: a NaN output is as wrong
    as an infinite one), so that it is defined whatever the runs gave."""
    return statistics.median(value if not math.isnan(value) else math.inf for value in values)


def summarize(rows: Iterable[Row]) -> list[Summary]:
    """One [`Summary`][nalm.bench.analysis.aggregate.Summary] per configuration in ``rows``: the
    models in the order they first appear, each model's operations in the order of
    [`OPERATIONS`][nalm.bench.tasks.static.OPERATIONS] (+, −, ×, ÷, a², √a), each operation's range
    pairs in the order they first appear."""
    groups: dict[Configuration, list[Row]] = {}
    for row in rows:
        configuration = configuration_of(row)
        if not isinstance(configuration, Configuration):
            raise ValueError(
                f"summarize reads the static task's runs, got one of task {row.get('task')!r} (see summarize_sequences)"
            )
        groups.setdefault(configuration, []).append(row)
    model_order: dict[str, int] = {}
    for configuration in groups:
        model_order.setdefault(configuration.model, len(model_order))
    operation_order = {operation: i for i, operation in enumerate(OPERATIONS)}
    summaries = []
    for configuration in sorted(  # sorted() is stable: range pairs keep the order they first appear in
        groups, key=lambda c: (model_order[c.model], operation_order[c.operation])
    ):
        runs = groups[configuration]
        won = [run for run in runs if run["success"]]
        solved = [run["solved_at"] for run in won]
        sparsity = [run["sparsity_error"] for run in won if run["sparsity_error"] is not None]
        summaries.append(
            Summary(
                configuration=configuration,
                runs=len(runs),
                successes=len(won),
                interval=wilson_interval(len(won), len(runs)),
                solved_at_median=statistics.median(solved) if solved else None,
                solved_at_mean=_mean(solved),
                sparsity_errors=tuple(sparsity),
                extrapolation_mse_median=_median_error(run["extrapolation_mse"] for run in runs),
                diverged=sum(run["diverged"] for run in runs),
            )
        )
    return summaries


EXACT_RECURRENCE = 1e-6
"""A run's cell carries its state exactly when its recurrence error max |W_h - I| is at most
this (float32 resolves 6e-8 near 1)."""


@dataclass(frozen=True)
class SequenceSummary:
    """One configuration's runs at each test length: the success bound of its operation's
    baseline, successes (test MSE below it) with a 95% Wilson interval, and the median test MSE;
    and how many runs' cells carry their state exactly ([`EXACT_RECURRENCE`][nalm.bench.analysis.aggregate.EXACT_RECURRENCE]; None for the LSTM)."""

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
    """One [`SequenceSummary`][nalm.bench.analysis.aggregate.SequenceSummary] per digit configuration in ``rows``, in the order they first
    appear; without 2 baseline runs of its operation whose MSEs are all finite, its bounds and
    successes are None."""
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
        successes = (
            None
            if bounds is None
            else tuple(
                sum(run["test_mse"][i] is not None and run["test_mse"][i] < bound for run in runs)
                for i, bound in enumerate(bounds)
            )
        )
        summaries.append(
            SequenceSummary(
                configuration=configuration,
                lengths=lengths,
                runs=len(runs),
                exact=None
                if runs[0].get("recurrence_error") is None
                else sum(
                    run["recurrence_error"] is not None and run["recurrence_error"] <= EXACT_RECURRENCE for run in runs
                ),
                bounds=bounds,
                successes=successes,
                intervals=None if successes is None else tuple(wilson_interval(k, len(runs)) for k in successes),
                median_mse=tuple(
                    statistics.median(_finite(run["test_mse"][i]) for run in runs) for i in range(len(lengths))
                ),
                diverged=sum(run["diverged"] for run in runs),
            )
        )
    return summaries


def _finite(value: float | None) -> float:
    """A row's MSE, None (a non-finite one written as null) read as inf."""
    return math.inf if value is None or math.isnan(value) else value


@dataclass(frozen=True)
class LanguageSummary:
    """One language-task model's runs: successes (every test number within 0.5 at the selected
    step) with a 95% Wilson interval, the median test MAE and MSE, the mean fraction of test numbers
    right, the median MAE of each hundred (1-99, 100-199, ..) over the runs, and diverged runs."""

    configuration: LanguageConfiguration
    runs: int
    successes: int
    interval: tuple[float, float]
    mae_median: float
    mse_median: float
    correct_mean: float
    mae_by_hundred: tuple[float, ...]
    diverged: int

    @property
    def success_rate(self) -> float:
        return self.successes / self.runs


def summarize_language(rows: Iterable[Row]) -> list[LanguageSummary]:
    """One [`LanguageSummary`][nalm.bench.analysis.aggregate.LanguageSummary] per language-task model in ``rows``, in the order they first appear."""
    groups: dict[LanguageConfiguration, list[Row]] = {}
    for row in rows:
        groups.setdefault(LanguageConfiguration(row["model"], row["operation"]), []).append(row)
    summaries = []
    for configuration, runs in groups.items():
        won = sum(solved(run) for run in runs)
        summaries.append(
            LanguageSummary(
                configuration=configuration,
                runs=len(runs),
                successes=won,
                interval=wilson_interval(won, len(runs)),
                mae_median=_median_error(_finite(run["test_mae"]) for run in runs),
                mse_median=_median_error(_finite(run["test_mse"]) for run in runs),
                correct_mean=statistics.fmean(run["test_correct"] for run in runs),
                mae_by_hundred=tuple(
                    _median_error(_finite(run["test_mae_by_hundred"][b]) for run in runs) for b in range(len(HUNDREDS))
                ),
                diverged=sum(run["diverged"] for run in runs),
            )
        )
    return summaries

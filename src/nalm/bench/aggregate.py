"""Per-configuration summaries of a results file (Madsen and Johansen 2020's aggregates).

Success rate with a 95% Wilson interval, solved-at median and mean, and the mean sparsity error,
the last two over the successful runs only.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from nalm.bench.grid import Configuration
from nalm.bench.results import Row, configuration_of

Z_95 = 1.959963984540054
"""The standard normal quantile of 0.975: a two-sided 95% interval."""


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion p = successes / trials:

        (p + z^2 / 2n -/+ z sqrt(p (1 - p) / n + z^2 / 4n^2)) / (1 + z^2 / n)

    Unlike p -/+ z sqrt(p (1 - p) / n) it stays inside [0, 1] and is not empty at p = 0 or 1.
    """
    if isinstance(trials, bool) or not isinstance(trials, int) or trials <= 0:
        raise ValueError(f"trials must be a positive integer, got {trials!r}")
    if isinstance(successes, bool) or not isinstance(successes, int) or not 0 <= successes <= trials:
        raise ValueError(f"successes must be an integer in [0, {trials}], got {successes!r}")
    p, n = successes / trials, trials
    center = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    scale = 1 + z * z / n
    # At p = 0 and p = 1 the bound is exactly 0 or 1; rounding must not move it inside.
    low = 0.0 if successes == 0 else max(0.0, (center - spread) / scale)
    high = 1.0 if successes == trials else min(1.0, (center + spread) / scale)
    return low, high


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
        """The mean of :attr:`sparsity_errors` (None without any)."""
        return _mean(list(self.sparsity_errors))


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _median_error(values: Iterable[float]) -> float:
    """The median of errors, NaN counted as +inf (an error without bound: a NaN output is as wrong
    as an infinite one), so that it is defined whatever the runs gave."""
    return statistics.median(value if not math.isnan(value) else math.inf for value in values)


def summarize(rows: Iterable[Row]) -> list[Summary]:
    """One :class:`Summary` per configuration in ``rows``, in the order they first appear."""
    groups: dict[Configuration, list[Row]] = {}
    for row in rows:
        groups.setdefault(configuration_of(row), []).append(row)
    summaries = []
    for configuration, runs in groups.items():
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

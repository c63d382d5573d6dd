"""The published results of the static task, as data, and our runs compared with them.

Source: Madsen and Johansen, "Neural Arithmetic Units", ICLR 2020 (arXiv 2001.05016): Table 1 and
the appendix table comparing every model on every operation, 100 seeds per cell, 5e6 steps, the
madsen2020 preset's task and protocol. Each cell: the success rate with its 95% Wilson interval,
the solved-at median and mean, and the sparsity error of the solved seeds as their analysis
summarizes it ([`published_sparsity_estimate`][nalm.bench.analysis.published.published_sparsity_estimate]; "-" where no seed solved the task).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from nalm.bench.analysis.aggregate import Summary, summarize
from nalm.bench.analysis.statistics import beta_fit, wilson_interval
from nalm.bench.models.static import MODELS
from nalm.bench.runs.grid import Row
from nalm.bench.runs.presets import PRESETS
from nalm.bench.runs.rows import configuration_of

CITATION = 'Madsen & Johansen, "Neural Arithmetic Units", ICLR 2020 (arXiv 2001.05016), Table 1 and appendix'
PUBLISHED_STEPS = 5_000_000
PUBLISHED_SEEDS = 100
ZERO_CELL_STEPS = 200_000
"""The budget that a run of a cell published as 0% needs: no rate of ours can be lower than it, and
a seed of ours solved by then already contradicts it (a longer run could still find one)."""

# op, model, success rate %, interval +%, interval -%, solved-at median, solved-at mean,
# sparsity error (published_sparsity_estimate), in Table 1 (else only in the appendix table).
_CELLS = """
mul nac_mul 31  10 8  2.8e6 3.0e6 5.8e-4 1
mul nalu    0   4  0  -     -     -      1
mul nmu     98  1  5  1.4e6 1.5e6 4.2e-7 1
mul nac     0   4  0  -     -     -      0
mul linear  0   4  0  -     -     -      0
mul nau     0   4  0  -     -     -      0
mul relu    0   4  0  -     -     -      0
mul relu6   0   4  0  -     -     -      0
add nac     100 0  4  2.5e5 4.9e5 2.3e-1 1
add linear  100 0  4  6.1e4 6.3e4 2.5e-1 1
add nalu    14  8  5  1.5e6 1.6e6 1.7e-1 1
add nau     100 0  4  1.8e4 3.9e5 3.2e-5 1
add nac_mul 0   4  0  -     -     -      0
add nmu     0   4  0  -     -     -      0
add relu    62  9  10 6.2e4 7.6e4 2.5e-1 0
add relu6   0   4  0  -     -     -      0
sub nac     100 0  4  9.0e3 3.7e5 2.3e-1 1
sub linear  7   7  4  3.3e6 1.4e6 1.8e-1 1
sub nalu    14  8  5  1.9e6 1.9e6 2.1e-1 1
sub nau     100 0  4  5.0e3 1.6e5 6.6e-2 1
sub nac_mul 0   4  0  -     -     -      0
sub nmu     56  9  10 1.0e6 1.0e6 3.4e-4 0
sub relu    0   4  0  -     -     -      0
sub relu6   0   4  0  -     -     -      0
div nac_mul 0   4  0  -     -     -      0
div nac     0   4  0  -     -     -      0
div linear  0   4  0  -     -     -      0
div nalu    0   4  0  -     -     -      0
div nau     0   4  0  -     -     -      0
div nmu     0   4  0  -     -     -      0
div relu    0   4  0  -     -     -      0
div relu6   0   4  0  -     -     -      0
sqrt nac_mul 7  7  4  4.0e5 1.5e6 2.4e-1 0
sqrt nalu    2  5  1  2.6e6 3.3e6 5.0e-1 0
sqrt nac     0  4  0  -     -     -      0
sqrt linear  0  4  0  -     -     -      0
sqrt nau     0  4  0  -     -     -      0
sqrt nmu     0  4  0  -     -     -      0
sqrt relu    0  4  0  -     -     -      0
sqrt relu6   0  4  0  -     -     -      0
square nac_mul 77  7 9 3.3e6 3.2e6 1.8e-2 0
square nmu     100 0 4 1.2e6 1.3e6 3.7e-5 0
square nac     0   4 0 -     -     -      0
square linear  0   4 0 -     -     -      0
square nalu    0   4 0 -     -     -      0
square nau     0   4 0 -     -     -      0
square relu    0   4 0 -     -     -      0
square relu6   0   4 0 -     -     -      0
"""


@dataclass(frozen=True)
class PublishedCell:
    """One published (model, operation) cell: 100 seeds, 5e6 steps. Rates are fractions."""

    model: str
    operation: str
    success_rate: float
    interval: tuple[float, float]
    solved_at_median: float | None
    solved_at_mean: float | None
    sparsity_error: float | None
    in_table_1: bool

    @property
    def needed_steps(self) -> int:
        """The budget that a run of this cell needs: the larger of twice its solved-at median and
        its solved-at mean, at most the published 5e6; [`ZERO_CELL_STEPS`][nalm.bench.analysis.published.ZERO_CELL_STEPS] where no published seed
        solved it."""
        if self.solved_at_median is None or self.solved_at_mean is None:
            return ZERO_CELL_STEPS
        return min(PUBLISHED_STEPS, math.ceil(max(2 * self.solved_at_median, self.solved_at_mean)))

    def solved_by(self, steps: int) -> int:
        """How many of the published 100 seeds had certainly solved the task by ``steps``: all that
        solved it at the published 5e6; before that, at least half of them by their solved-at
        median, and all but a share mean / steps of them by any step (Markov's inequality on their
        solved-at steps)."""
        solved = round(self.success_rate * PUBLISHED_SEEDS)
        if steps >= PUBLISHED_STEPS:
            return solved
        if self.solved_at_median is None or self.solved_at_mean is None:
            return 0
        by_median = 0.5 if steps >= self.solved_at_median else 0.0
        return math.floor(solved * max(by_median, 1 - self.solved_at_mean / steps))


def _number(text: str) -> float | None:
    return None if text == "-" else float(text)


def _cells() -> dict[tuple[str, str], PublishedCell]:
    cells = {}
    for line in _CELLS.strip().splitlines():
        op, model, rate, above, below, median, mean, sparsity, table_1 = line.split()
        p = float(rate) / 100
        interval = (round(p - float(below) / 100, 2), round(p + float(above) / 100, 2))
        cells[model, op] = PublishedCell(
            model, op, p, interval, _number(median), _number(mean), _number(sparsity), table_1 == "1"
        )
    return cells


PUBLISHED: dict[tuple[str, str], PublishedCell] = _cells()
"""The published cells by (model, operation), our names for both (``nac_mul`` is NAC*, ``nac`` NAC+)."""

PUBLISHED_RANGES = ((1.0, 2.0), (2.0, 6.0))
"""The published cells' interpolation and extrapolation ranges."""

_VARYING = {"steps", "threshold_samples", "data"}
PROTOCOL: dict[str, Any] = {k: v for k, v in PRESETS["madsen2020"].settings().items() if k not in _VARYING}
"""The settings a run must share with the published ones to be compared: all of the madsen2020
preset's but the number of steps (a shorter run is compared and says so), the threshold's sample
count and the version of our data streams."""


PUBLISHED_FIT_STEP = 1e-3
"""The finite-difference step of the optimizer behind the published sparsity summaries (R's
``optim`` default ``ndeps``): their fit leaves the plain mean unchanged where the mean is below it."""


def published_sparsity_estimate(errors: Sequence[float]) -> float | None:
    """The sparsity errors of the solved seeds, x_i in [0, 1/2], summarized as the published table does.

    Madsen and Johansen's analysis fits x_i ~ Beta(2 mu v, (1 - 2 mu) v) by maximum likelihood (a
    beta on [0, 1] whose mean is 2 mu), x clipped to [1e-16, 1/2 - 1e-16], and reports mu: about
    half the plain mean of the x_i. Here that maximum is [`beta_fit`][nalm.bench.analysis.statistics.beta_fit]'s (alpha, beta), and mu =
    alpha / (2 (alpha + beta)). Their optimizer starts at mu = mean(x) and takes its gradients by
    finite differences of step [`PUBLISHED_FIT_STEP`][nalm.bench.analysis.published.PUBLISHED_FIT_STEP]; below a mean of that size those cross
    the bound mu = 0 and it stays at its start (a replay of that optimizer does; R itself was not
    run). So, as theirs, the result is the plain mean where the mean is below 1e-3, where there are
    fewer than two errors, where they do not vary (standard deviation <= 1e-10), and where the fit
    fails (their script falls back to it when the fit has no standard errors). None without errors.
    """
    values = [float(error) for error in errors]
    if not values:
        return None
    if not all(math.isfinite(value) for value in values):
        raise ValueError(f"sparsity errors must be finite, got {values}")
    x = torch.tensor(values, dtype=torch.float64).clamp(1e-16, 0.5 - 1e-16)
    mean = x.mean().item()
    if len(values) < 2 or x.std().item() <= 1e-10 or mean < PUBLISHED_FIT_STEP:
        return mean
    fit = beta_fit(x)
    return mean if fit is None else fit[0] / (2 * (fit[0] + fit[1]))


@dataclass(frozen=True)
class Comparison:
    """Our summary of one configuration beside its published cell. ``other_definition`` is the
    model definition our rows ran where it is not the published model's ([`MODELS`][nalm.bench.analysis.published.MODELS]), else None."""

    ours: Summary
    published: PublishedCell
    steps: int
    other_definition: str | None = None

    @property
    def sparsity_error(self) -> float | None:
        """Our solved seeds' sparsity errors summarized as the published ones
        ([`published_sparsity_estimate`][nalm.bench.analysis.published.published_sparsity_estimate])."""
        return published_sparsity_estimate(self.ours.sparsity_errors)

    @property
    def agrees(self) -> bool:
        """Whether our success rate's 95% interval overlaps the published one's."""
        return overlap(self.ours.interval, self.published.interval)

    @property
    def lower(self) -> bool:
        """Whether our success rate is below the published one."""
        return self.ours.success_rate < self.published.success_rate

    def verdict(self) -> str:
        """A plain statement: the intervals agree or not, and whether a short run limits that."""
        solved_by = self.published.solved_by(self.steps)
        return verdict(
            self.ours.interval,
            self.published.interval,
            self.lower,
            self.steps,
            PUBLISHED_STEPS,
            self.other_definition,
            self.published.needed_steps,
            wilson_interval(solved_by, PUBLISHED_SEEDS),
        )


def overlap(ours: tuple[float, float], published: tuple[float, float]) -> bool:
    """Whether two intervals (low, high) share a point."""
    return ours[0] <= published[1] and published[0] <= ours[1]


def verdict(
    ours: tuple[float, float],
    published: tuple[float, float],
    lower: bool,
    steps: int,
    published_steps: int,
    other_definition: str | None = None,
    needed_steps: int | None = None,
    published_by_then: tuple[float, float] | None = None,
) -> str:
    """Our success rate beside a published one, in plain words.

    - "agree (intervals overlap)" where the 95% intervals ``ours`` and ``published`` overlap; if
      ours is ``lower`` after fewer ``steps`` than ``needed_steps`` (by default
      ``published_steps``), it adds "lower, after fewer steps than needed": a longer run could
      still part them.
    - "lower, but our run is shorter: cannot refute" where ours is ``lower`` after fewer steps
      than ``published_steps`` and its interval reaches that of ``published_by_then``, the
      published rate certainly reached by our ``steps`` (None: nothing known of it).
    - Else "disagree (intervals apart)", a higher rate after a shorter run included: that takes
      a seed solved by our budget to stay solved in a longer run, as the selection of the step
      with the lowest interpolation error does not promise.

    A shorter run than the published says so, and so does a model that ran as another definition."""
    needed = published_steps if needed_steps is None else needed_steps
    if overlap(ours, published):
        text = "agree (intervals overlap)" + (
            "; lower, after fewer steps than needed" if lower and steps < needed else ""
        )
    elif lower and steps < published_steps and (published_by_then is None or ours[1] >= published_by_then[0]):
        text = "lower, but our run is shorter: cannot refute"
    else:
        text = "disagree (intervals apart)"
    if steps < published_steps:
        text += f"; {steps_label(steps)} of {steps_label(published_steps)} steps"
    if other_definition is not None:
        text += f"; not the published model: ran as {other_definition}"
    return text


def steps_label(steps: float, digits: int = 2) -> str:
    """2500000 -> "2.5e6" (``digits`` significant digits: 122000 -> "1.2e5", "1.22e5" with 3)."""
    return f"{steps:.{digits}g}".replace("e+0", "e").replace("e+", "e")


def matches(row: Row) -> bool:
    """Whether a results row ran the published task and protocol (any number of steps)."""
    settings = row.get("settings") or {}
    protocol = all(settings.get(key) == value for key, value in PROTOCOL.items())
    ranges = (tuple(row["interpolation_range"]), tuple(row["extrapolation_range"])) == PUBLISHED_RANGES
    return protocol and ranges and (row["model"], row["operation"]) in PUBLISHED


def compare(rows: list[Row]) -> list[Comparison]:
    """Each configuration of ``rows`` that has a published cell, beside it, in the order of ``rows``."""
    matching = [row for row in rows if matches(row)]
    steps = {configuration_of(row): row["settings"]["steps"] for row in matching}
    other = {
        configuration_of(row): row.get("model_definition") or "not recorded"
        for row in matching
        if row.get("model_definition") != MODELS[row["model"]].describe()
    }
    return [
        Comparison(
            summary,
            PUBLISHED[summary.configuration.model, summary.configuration.operation],
            steps[summary.configuration],
            other.get(summary.configuration),
        )
        for summary in summarize(matching)
    ]


@dataclass(frozen=True)
class TableCell:
    """One published cell and the run that tests it best (None: no run of it), from ``source``."""

    published: PublishedCell
    comparison: Comparison | None = None
    source: str | None = None


def published_table(files: dict[str, list[Row]]) -> list[TableCell]:
    """Every published cell, in the published table's order, beside the run of it that tests it
    best among the results ``files`` (name -> rows): a run of the published model before one of
    another definition, then the longest run, then the one with the most seeds."""

    def rank(comparison: Comparison) -> tuple[bool, int, int]:
        return comparison.other_definition is None, comparison.steps, comparison.ours.runs

    best: dict[tuple[str, str], tuple[Comparison, str]] = {}
    for name, rows in files.items():
        for comparison in compare(rows):
            key = (comparison.published.model, comparison.published.operation)
            if key not in best or rank(comparison) > rank(best[key][0]):
                best[key] = (comparison, name)
    return [TableCell(cell, *best.get(key, (None, None))) for key, cell in PUBLISHED.items()]

"""Published success rates pooled over range pairs of a preset's protocol (all of them, or one), as
data, and ours beside them.

Sources. Mistry, Farrahi & Hare, "Learning Division with Neural Arithmetic Logic Modules", 2021
(arXiv 2110.05177), abstract: on the single-unit division task with ten inputs ("225 training
sets": 9 range pairs x 25 seeds) the modified Real NPU succeeds in 85.3% of the runs, 15.1 more
than the original Real NPU, and the NMRU (their sign-retrieving form, our ``sign_nmru``) in 91.6%.
The paper gives no rate per range pair, none for the NRU and none at two inputs. Each rate is
kept as the count of 225 that gives it (206, 192 and, reading 15.1 as percentage points, 158),
with that count's 95% Wilson interval.

The MC-FC note of the Primer's benchmark code (Mistry, "MC-FC findings", 2023) plots, per range
pair of the Primer's single-unit task (25 seeds, 50,000 steps), the success of MC-FC on +, and of
its multiplicative form (without and with its two ways of restoring the sign) and the NMU on x;
its rates are read from the plotted points (each a multiple of 1/25).
"""

from __future__ import annotations

from dataclasses import dataclass

from nalm.bench.analysis.published import steps_label, verdict
from nalm.bench.analysis.statistics import wilson_interval
from nalm.bench.models.static import MODELS
from nalm.bench.runs.grid import Row
from nalm.bench.runs.presets import PRESETS, SINGLE_RANGES
from nalm.bench.runs.static_grid import RangePair
from nalm.bench.tasks.static import range_label, value_range

DIVISION_CITATION = (
    'Mistry, Farrahi & Hare, "Learning Division with Neural Arithmetic Logic Modules", 2021 (arXiv 2110.05177), '
    "abstract"
)
MCFC_CITATION = (
    'Mistry, "MC-FC findings", 2023 (bmistry4/nalm-benchmark, notes/MCFC_findings.pdf), Figures 1 and 2, '
    "read from the plotted points"
)

_VARYING = {"steps", "data", "threshold_samples"}


class _Rate:
    """Successes of runs: the rate and its 95% Wilson interval."""

    successes: int
    runs: int

    @property
    def success_rate(self) -> float:
        return self.successes / self.runs

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.successes, self.runs)


@dataclass(frozen=True)
class PublishedAverage(_Rate):
    """A model's published successes on an operation over range pairs of a preset's protocol:
    ``ranges`` (None: every range pair of the preset), every seed of each."""

    model: str
    preset: str
    operation: str
    successes: int
    runs: int
    citation: str
    note: str = ""
    """How the count was read, where the source does not give the rate itself."""
    ranges: tuple[RangePair, ...] | None = None

    @property
    def range_pairs(self) -> tuple[RangePair, ...]:
        """The range pairs it pools."""
        return PRESETS[self.preset].ranges if self.ranges is None else self.ranges

    @property
    def steps(self) -> int:
        """The published budget: the preset's steps."""
        return PRESETS[self.preset].steps


def _mcfc_note(model: str, operation: str, successes: tuple[int, ...]) -> tuple[PublishedAverage, ...]:
    """The note's rate on each of the nine range pairs (successes of 25, in SINGLE_RANGES' order)."""
    return tuple(
        PublishedAverage(model, "primer2021", operation, k, 25, MCFC_CITATION, ranges=(pair,))
        for pair, k in zip(SINGLE_RANGES, successes, strict=True)
    )


PUBLISHED_AVERAGES: tuple[PublishedAverage, ...] = (
    PublishedAverage("sign_nmru", "mistry2021-div10", "div", 206, 225, DIVISION_CITATION),
    PublishedAverage("realnpu_mod", "mistry2021-div10", "div", 192, 225, DIVISION_CITATION),
    PublishedAverage("realnpu_l1", "mistry2021-div10", "div", 158, 225, DIVISION_CITATION, "85.3% - 15.1 points"),
    *_mcfc_note("mcfc", "add", (25,) * 9),
    *_mcfc_note("mul_mcfc", "mul", (0, 0, 0, 0, 0, 25, 25, 25, 25)),
    *_mcfc_note("nmu_single", "mul", (25, 20, 17, 25, 25, 25, 25, 25, 25)),
    *_mcfc_note("mul_mcfc_inalu", "mul", (25,) * 9),
    *_mcfc_note("mul_mcfc_npu", "mul", (25,) * 9),
)
"""Every published rate, by model, operation, preset and range pairs."""


@dataclass(frozen=True)
class AverageComparison(_Rate):
    """Our runs of a published rate's model over its range pairs, beside it. ``ranges`` counts
    the range pairs our rows cover (the published rate covers them all)."""

    published: PublishedAverage
    successes: int
    runs: int
    ranges: int
    steps: int
    other_definition: str | None = None

    def verdict(self) -> str:
        """As the madsen2020 comparison's ([`verdict`][nalm.bench.analysis.published.verdict]); a pool of fewer
        range pairs than the published one says so."""
        text = verdict(
            self.interval,
            self.published.interval,
            self.success_rate < self.published.success_rate,
            self.steps,
            self.published.steps,
            self.other_definition,
        )
        total = len(self.published.range_pairs)
        return text if self.ranges == total else f"{text}; only {self.ranges} of {total} range pairs ran"


def compare_averages(rows: list[Row]) -> list[AverageComparison]:
    """Each published rate whose model, operation and protocol ``rows`` ran, beside our runs of
    it (every seed of every range pair of it they hold, pooled as the published rate pools them):
    rows of its model and operation on one of its range pairs, with its preset's task and protocol
    (any number of steps)."""
    pairs = [
        (
            value_range("interpolation_range", r["interpolation_range"]),
            value_range("extrapolation_range", r["extrapolation_range"]),
        )
        for r in rows
    ]
    protocols = {
        name: {k: v for k, v in PRESETS[name].settings().items() if k not in _VARYING}
        for name in {published.preset for published in PUBLISHED_AVERAGES}
    }
    comparisons = []
    for published in PUBLISHED_AVERAGES:
        protocol = protocols[published.preset]
        matching = [
            row
            for row, pair in zip(rows, pairs)
            if (row["model"], row["operation"]) == (published.model, published.operation)
            and pair in published.range_pairs
            and all((row.get("settings") or {}).get(k) == v for k, v in protocol.items())
        ]
        if not matching:
            continue
        size = PRESETS[published.preset].input_size
        expected = MODELS[published.model].at(size).describe()
        definitions = {row.get("model_definition") or "not recorded" for row in matching}
        other = "; ".join(sorted(definitions - {expected})) or None
        ranges = {str(row["interpolation_range"]) for row in matching}
        comparisons.append(
            AverageComparison(
                published,
                sum(bool(row["success"]) for row in matching),
                len(matching),
                len(ranges),
                min(row["settings"]["steps"] for row in matching),
                other,
            )
        )
    return comparisons


def _pairs_label(published: PublishedAverage) -> str:
    """ "all 9 range pairs", or the interpolation range of the one pair: "U[1,2]"."""
    if published.ranges is None:
        return f"all {len(published.range_pairs)} range pairs"
    return ", ".join(range_label(interpolation) for interpolation, _ in published.ranges)


def averages_table(comparisons: list[AverageComparison]) -> str:
    """One row per published rate: ours over the same range pairs and seeds, the published rate
    with its 95% Wilson interval, and the verdict."""
    lines = [
        "| model, operation | range pairs | ours [95%] | published [95%] | success rates |",
        "|---|---|---|---|---|",
    ]
    for c in comparisons:
        p = c.published
        ours_low, ours_high = c.interval
        low, high = p.interval
        note = f" ({p.note})" if p.note else ""
        lines.append(
            f"| {p.model} {p.operation} | {_pairs_label(p)} "
            f"| {c.successes}/{c.runs} = {c.success_rate:.1%} [{ours_low:.0%}, {ours_high:.0%}] "
            f"| {p.successes}/{p.runs} = {p.success_rate:.1%} [{low:.0%}, {high:.0%}]{note} | {c.verdict()} |"
        )
    return "\n".join(lines) + "\n"


def averages_section(rows: list[Row]) -> str:
    """The report's section that puts the published rates beside ours ("" if no row matches one)."""
    comparisons = compare_averages(rows)
    if not comparisons:
        return ""
    citations = "; ".join(sorted({c.published.citation for c in comparisons}))
    budgets = ", ".join(sorted({steps_label(c.published.steps) for c in comparisons}))
    return (
        f"\n## Beside the published rates over range pairs\n\n{citations}. Published budgets: {budgets} steps. "
        "Success is pooled over the range pairs and seeds each published rate covers; each published rate is "
        "read as the count of runs that gives it. Success rates agree where the two 95% intervals overlap.\n\n"
        + averages_table(comparisons)
    )

"""Published success rates that average a protocol's range pairs, as data, and ours beside them.

Source: Mistry, Farrahi & Hare, "Learning Division with Neural Arithmetic Logic Modules", 2021
(arXiv 2110.05177), abstract: on the single-unit division task with ten inputs ("225 training
sets": 9 range pairs x 25 seeds) the modified Real NPU succeeds in 85.3% of the runs, 15.1 more
than the original Real NPU, and the NMRU (their sign-retrieving form, our ``sign_nmru``) in 91.6%.
The paper gives no rate per range pair, none for the NRU and none at two inputs. Each rate is
kept as the count of 225 that gives it (206, 192 and, reading 15.1 as percentage points, 158),
with that count's 95% Wilson interval.
"""

from __future__ import annotations

from dataclasses import dataclass

from nalm.bench.analysis.published import steps_label, verdict
from nalm.bench.analysis.statistics import wilson_interval
from nalm.bench.models.static import MODELS
from nalm.bench.runs.grid import Row
from nalm.bench.runs.presets import PRESETS

DIVISION_CITATION = 'Mistry, Farrahi & Hare, "Learning Division with Neural Arithmetic Logic Modules", 2021 (arXiv 2110.05177), abstract'

_VARYING = {"steps", "data", "threshold_samples"}


@dataclass(frozen=True)
class PublishedAverage:
    """A model's published successes over every range pair and seed of a preset's protocol."""

    model: str
    preset: str
    successes: int
    runs: int
    citation: str
    note: str = ""
    """How the count was read, where the source does not give the rate itself."""

    @property
    def success_rate(self) -> float:
        return self.successes / self.runs

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.successes, self.runs)

    @property
    def steps(self) -> int:
        """The published budget: the preset's steps."""
        return PRESETS[self.preset].steps


PUBLISHED_AVERAGES: tuple[PublishedAverage, ...] = (
    PublishedAverage("sign_nmru", "mistry2021-div10", 206, 225, DIVISION_CITATION),
    PublishedAverage("realnpu_mod", "mistry2021-div10", 192, 225, DIVISION_CITATION),
    PublishedAverage("realnpu_l1", "mistry2021-div10", 158, 225, DIVISION_CITATION, "85.3% - 15.1 points"),
)
"""Every published average, by model and preset."""


@dataclass(frozen=True)
class AverageComparison:
    """Our runs of a published average's model over its preset's range pairs, beside it.
    ``ranges`` counts the range pairs our rows cover (the published average covers them all)."""

    published: PublishedAverage
    successes: int
    runs: int
    ranges: int
    steps: int
    other_definition: str | None = None

    @property
    def success_rate(self) -> float:
        return self.successes / self.runs

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.successes, self.runs)

    def verdict(self) -> str:
        """As the madsen2020 comparison's ([`verdict`][nalm.bench.analysis.published.verdict]); an average over fewer
        range pairs than the published one says so."""
        text = verdict(
            self.interval,
            self.published.interval,
            self.success_rate < self.published.success_rate,
            self.steps,
            self.published.steps,
            self.other_definition,
        )
        total = len(PRESETS[self.published.preset].ranges)
        return text if self.ranges == total else f"{text}; only {self.ranges} of {total} range pairs ran"


def _matches(row: Row, published: PublishedAverage) -> bool:
    """Whether ``row`` ran ``published``'s model on its preset's task and protocol (any number of steps)."""
    protocol = {k: v for k, v in PRESETS[published.preset].settings().items() if k not in _VARYING}
    settings = row.get("settings") or {}
    return row["model"] == published.model and all(settings.get(k) == v for k, v in protocol.items())


def compare_averages(rows: list[Row]) -> list[AverageComparison]:
    """Each published average whose model and protocol ``rows`` ran, beside our runs of it (every
    seed of every range pair they hold, pooled as the published average pools them)."""
    comparisons = []
    for published in PUBLISHED_AVERAGES:
        matching = [row for row in rows if _matches(row, published)]
        if not matching:
            continue
        size = PRESETS[published.preset].input_size
        expected = MODELS[published.model].at(size).describe()
        definitions = {row.get("model_definition") or "not recorded" for row in matching}
        other = "; ".join(sorted(definitions - {expected})) or None
        ranges = {(str(row["interpolation_range"]), str(row["extrapolation_range"])) for row in matching}
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


def averages_section(rows: list[Row]) -> str:
    """The report's section that puts the published averages beside ours ("" if no row matches one)."""
    comparisons = compare_averages(rows)
    if not comparisons:
        return ""
    lines = [
        "| model | ours, all range pairs [95%] | published [95%] | success rates |",
        "|---|---|---|---|",
    ]
    for c in comparisons:
        p = c.published
        ours_low, ours_high = c.interval
        low, high = p.interval
        lines.append(
            f"| {p.model} | {c.successes}/{c.runs} = {c.success_rate:.1%} [{ours_low:.0%}, {ours_high:.0%}] "
            f"| {p.successes}/{p.runs} = {p.success_rate:.1%} [{low:.0%}, {high:.0%}]{f' ({p.note})' if p.note else ''} | {c.verdict()} |"
        )
    citations = sorted({c.published.citation for c in comparisons})
    budgets = sorted({steps_label(c.published.steps) for c in comparisons})
    return (
        f"\n## Beside the published averages\n\n{'; '.join(citations)}: success over every range pair and seed "
        f"pooled, {', '.join(budgets)} steps. Each published rate is read as the count of runs that gives it. "
        "Success rates agree where the two 95% intervals overlap.\n\n" + "\n".join(lines) + "\n"
    )

"""A results file as a Markdown table and two figures: success rate with its 95% Wilson interval,
and the extrapolation MSE of every run at its selected step, per model and operation."""

from __future__ import annotations

import os
from pathlib import Path

from nalm.bench.aggregate import Summary, summarize
from nalm.bench.results import Row, configuration_of


class MissingDependencyError(RuntimeError):
    """An optional package the report needs is not installed."""


def _number(value: float | None, spec: str = ".3g") -> str:
    return "-" if value is None else format(value, spec)


def summary_cells(summary: Summary) -> tuple[str, str, str]:
    """(success rate [interval], solved-at median, mean sparsity error) as text, for tables."""
    low, high = summary.interval
    rate = f"{summary.successes}/{summary.runs} = {summary.success_rate:.0%} [{low:.0%}, {high:.0%}]"
    return rate, _number(summary.solved_at_median, ".0f"), _number(summary.sparsity_error, ".2g")


def several_ranges(summaries: list[Summary]) -> bool:
    """Whether the summaries span more than one range pair (then labels must name the ranges)."""
    return len({s.configuration.key[2:] for s in summaries}) > 1


def markdown_table(summaries: list[Summary]) -> str:
    """One row per configuration: success rate [95% Wilson interval], solved at (median, mean),
    mean sparsity error of the successful runs, median extrapolation MSE, diverged runs."""
    lines = [
        "| configuration | success rate [95% interval] | solved at (median) | solved at (mean) "
        "| sparsity error | extrapolation MSE (median) | diverged |",
        "|---|---|---|---|---|---|---|",
    ]
    with_ranges = several_ranges(summaries)
    for s in summaries:
        rate, median, sparsity = summary_cells(s)
        lines.append(
            f"| {s.configuration.label(with_ranges)} | {rate} | {median} | {_number(s.solved_at_mean, '.0f')} "
            f"| {sparsity} | {s.extrapolation_mse_median:.3g} | {s.diverged} |"
        )
    return "\n".join(lines) + "\n"


def write_report(rows: list[Row], out: str | os.PathLike[str]) -> list[Path]:
    """Write ``report.md``, ``success_rate.png`` and ``extrapolation_error.png`` into ``out``;
    return their paths. Raises :class:`MissingDependencyError` if matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError("nalm report draws its figures with matplotlib: pip install matplotlib") from None
    if not rows:
        raise ValueError("the results file holds no runs")
    summaries = summarize(rows)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with_ranges = several_ranges(summaries)
    labels = [s.configuration.label(with_ranges) for s in summaries]
    height = max(3.0, 0.3 * len(summaries) + 1)

    table = out / "report.md"
    table.write_text(f"# Benchmark results\n\n{len(rows)} runs.\n\n{markdown_table(summaries)}")

    figure, axes = plt.subplots(figsize=(7, height))
    rates = [s.success_rate for s in summaries]
    below = [rate - s.interval[0] for rate, s in zip(rates, summaries)]
    above = [s.interval[1] - rate for rate, s in zip(rates, summaries)]
    axes.barh(labels, rates, xerr=[below, above], capsize=3, color="tab:blue")
    axes.set_xlim(0, 1)
    axes.invert_yaxis()
    axes.set_xlabel("success rate (95% Wilson interval)")
    figure.tight_layout()
    success = out / "success_rate.png"
    figure.savefig(success, dpi=120)
    plt.close(figure)

    figure, axes = plt.subplots(figsize=(7, height))
    index = {configuration: i for i, configuration in enumerate(s.configuration for s in summaries)}
    points = [(row["extrapolation_mse"], index[configuration_of(row)]) for row in rows]
    points = [(mse, i) for mse, i in points if mse is not None and 0 < mse < float("inf")]
    axes.scatter([mse for mse, _ in points], [i for _, i in points], s=12, alpha=0.6)
    thresholds = {configuration_of(row): row["threshold"] for row in rows}
    for configuration, i in index.items():
        axes.plot([thresholds[configuration]] * 2, [i - 0.4, i + 0.4], color="tab:red")
    axes.set_xscale("log")
    axes.set_yticks(range(len(labels)), labels)
    axes.invert_yaxis()
    axes.set_xlabel("extrapolation MSE at the selected step (red: success threshold)")
    figure.tight_layout()
    extrapolation = out / "extrapolation_error.png"
    figure.savefig(extrapolation, dpi=120)
    plt.close(figure)
    return [table, success, extrapolation]

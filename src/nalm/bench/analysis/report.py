"""A results file as a Markdown table and figures: on the static task, success rate with its 95%
Wilson interval and the extrapolation MSE of every run at its selected step, per model and
operation; on the digit sequence tasks, success rate and median test MSE against sequence length.

The report's files are written to temporary files of the report folder and renamed into place
once all are written: a failed write (a full disk) leaves the folder as it was."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import IO, Any

from nalm.bench.analysis.aggregate import (
    EXACT_RECURRENCE,
    LanguageSummary,
    SequenceSummary,
    Summary,
    summarize,
    summarize_language,
    summarize_sequences,
)
from nalm.bench.analysis.published import (
    CITATION,
    PUBLISHED_FIT_STEP,
    Comparison,
    PublishedCell,
    TableCell,
    compare,
    published_table,
    steps_label,
)
from nalm.bench.analysis.published_averages import averages_section
from nalm.bench.models.digits import SEQUENCE_MODELS
from nalm.bench.runs.grid import Configuration, Row
from nalm.bench.runs.rows import configuration_of
from nalm.bench.tasks.language import HUNDREDS
from nalm.validation import MissingDependencyError


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


def model_lines(rows: list[Row]) -> str:
    """The models of ``rows`` as they were defined when they ran (layers and sparsity schedule), a
    Markdown list item each."""
    definitions: dict[str, set[str]] = {}
    for row in rows:
        definitions.setdefault(row["model"], set()).add(row.get("model_definition") or "not recorded")
    return "".join(f"- {model}: {'; '.join(sorted(texts))}\n" for model, texts in definitions.items())


def models_section(rows: list[Row]) -> str:
    """The report's section of [`model_lines`][nalm.bench.analysis.report.model_lines]."""
    return "\n## Models\n\n" + model_lines(rows)


COMPARISON_COLUMNS = (
    "configuration",
    "ours [95%]",
    "published [95%]",
    "success rates",
    "steps, ours / needed",
    "solved at, median",
    "solved at, mean",
    "sparsity error",
)
"""The columns of [`comparison_cells`][nalm.bench.analysis.report.comparison_cells]: the steps of our run beside those the cell needs
([`PublishedCell.needed_steps`][nalm.bench.analysis.published.PublishedCell.needed_steps]); the last three read "ours / published", the sparsity
error of both summarized as the published one ([`nalm.bench.analysis.published.published_sparsity_estimate`][nalm.bench.analysis.published.published_sparsity_estimate])."""


def _pair(ours: float | None, published: float | None, spec: str) -> str:
    if spec == "steps":
        return " / ".join("-" if v is None else steps_label(v) for v in (ours, published))
    return f"{_number(ours, spec)} / {_number(published, spec)}"


def _published_rate(published: PublishedCell) -> str:
    low, high = published.interval
    return f"{published.success_rate:.0%} [{low:.0%}, {high:.0%}]"


def _budget(steps: int | None, published: PublishedCell) -> str:
    """Our steps ("-": no run) / the steps the cell needs."""
    return f"{'-' if steps is None else steps_label(steps, 3)} / {steps_label(published.needed_steps, 3)}"


def comparison_cells(comparison: Comparison, with_ranges: bool) -> tuple[str, ...]:
    """One configuration beside its published cell, as text (columns [`COMPARISON_COLUMNS`][nalm.bench.analysis.report.COMPARISON_COLUMNS])."""
    ours, published = comparison.ours, comparison.published
    return (
        ours.configuration.label(with_ranges),
        summary_cells(ours)[0],
        _published_rate(published),
        comparison.verdict(),
        _budget(comparison.steps, published),
        _pair(ours.solved_at_median, published.solved_at_median, "steps"),
        _pair(ours.solved_at_mean, published.solved_at_mean, "steps"),
        _pair(comparison.sparsity_error, published.sparsity_error, ".2g"),
    )


def comparison_table(comparisons: list[Comparison]) -> str:
    """The Markdown table of [`comparison_cells`][nalm.bench.analysis.report.comparison_cells], one row per compared configuration."""
    with_ranges = several_ranges([c.ours for c in comparisons])
    lines = [f"| {' | '.join(COMPARISON_COLUMNS)} |", "|---" * len(COMPARISON_COLUMNS) + "|"]
    lines += [f"| {' | '.join(comparison_cells(c, with_ranges))} |" for c in comparisons]
    return "\n".join(lines) + "\n"


def published_table_text(cells: list[TableCell]) -> str:
    """The whole published table as Markdown: for each published cell the run that tests it best
    (its results file and its budget, beside the budget the cell needs:
    [`PublishedCell.needed_steps`][nalm.bench.analysis.published.PublishedCell.needed_steps]) and
    the published numbers (the columns of [`comparison_cells`][nalm.bench.analysis.report.comparison_cells]
    but the first); "not run" where no run tests it."""
    columns = ("operation", "model", *COMPARISON_COLUMNS[1:], "results file")
    lines = [f"| {' | '.join(columns)} |", "|---" * len(columns) + "|"]
    for cell in cells:
        p, c = cell.published, cell.comparison
        row: tuple[str, ...]
        if c is None:
            row = ("not run", _published_rate(p), "-", _budget(None, p), "-", "-", "-", "-")
        else:
            row = (*comparison_cells(c, False)[1:], f"`{cell.source}`")
        lines.append(f"| {p.operation} | {p.model} | {' | '.join(row)} |")
    return "\n".join(lines) + "\n"


def published_section(rows: list[Row]) -> str:
    """The report's section that puts the published cells beside ours ("" if no row matches one)."""
    comparisons = compare(rows)
    if not comparisons:
        return ""
    budgets = sorted({steps_label(c.steps) for c in comparisons})
    return (
        f"\n## Beside the published results\n\n{CITATION}: 100 seeds, 5e6 steps per cell. Ours: "
        f"{', '.join(budgets)} steps. Success rates agree where the two 95% intervals overlap; a run "
        "shorter than the published one can confirm a published rate but not refute it. The last three "
        "columns read ours / published. The sparsity error here is summarized as the published analysis "
        "does: mu of a maximum-likelihood fit x ~ Beta(2 mu v, (1 - 2 mu) v), whose mean is 2 mu, so mu is "
        f"about half the plain mean of the table above (the plain mean itself where it is below "
        f"{PUBLISHED_FIT_STEP:g}).\n\n"
        f"{comparison_table(comparisons)}"
    )


def sequence_table(summaries: list[SequenceSummary]) -> str:
    """One row per digit configuration and test length: the baseline's bound, successes [95%
    Wilson interval] and the median test MSE."""
    lines = [
        "| configuration | length | success bound | success rate [95% interval] | test MSE (median) | exact W_h = I |",
        "|---|---|---|---|---|---|",
    ]
    for s in summaries:
        exact = "-" if s.exact is None else f"{s.exact}/{s.runs}"
        for i, length in enumerate(s.lengths):
            if s.successes is None or s.intervals is None or s.bounds is None:  # all None together
                bound, rate = "-", "no bound: fewer than 2 baseline runs, or one not finite"
            else:
                low, high = s.intervals[i]
                bound = f"{s.bounds[i]:.3g}"
                rate = f"{s.successes[i]}/{s.runs} = {s.successes[i] / s.runs:.0%} [{low:.0%}, {high:.0%}]"
            lines.append(
                f"| {s.configuration.label()} | {length} | {bound} | {rate} | {s.median_mse[i]:.3g} | {exact} |"
            )
    return "\n".join(lines) + "\n"


def language_table(summaries: list[LanguageSummary]) -> str:
    """One row per language-task model: successes [95% Wilson interval], the mean fraction of test
    numbers right, the median test MAE and MSE, diverged runs."""
    lines = [
        "| model | success rate [95% interval] | test numbers right (mean) | test MAE (median) "
        "| test MSE (median) | diverged |",
        "|---|---|---|---|---|---|",
    ]
    for s in summaries:
        low, high = s.interval
        lines.append(
            f"| {s.configuration.label()} | {s.successes}/{s.runs} = {s.success_rate:.0%} [{low:.0%}, {high:.0%}] "
            f"| {s.correct_mean:.1%} | {s.mae_median:.3g} | {s.mse_median:.3g} | {s.diverged} |"
        )
    return "\n".join(lines) + "\n"


def hundreds_table(summaries: list[LanguageSummary]) -> str:
    """The median test MAE of each model over the numbers of each hundred."""
    lines = ["| model | " + " | ".join(HUNDREDS) + " |", "|---" * (len(HUNDREDS) + 1) + "|"]
    lines += [
        f"| {s.configuration.label()} | " + " | ".join(f"{mae:.3g}" for mae in s.mae_by_hundred) + " |"
        for s in summaries
    ]
    return "\n".join(lines) + "\n"


def _language_figure(summaries: list[LanguageSummary], staged: _Staged, plt: ModuleType) -> Path:
    figure, axes = plt.subplots(figsize=(7, 4))
    centers = [50 + 100 * b for b in range(len(HUNDREDS))]
    for s in summaries:  # a hundred whose error is not finite (diverged runs) or 0 has no point on a log scale
        points = [(x, mae) for x, mae in zip(centers, s.mae_by_hundred) if 0 < mae < float("inf")]
        label = s.configuration.label() + ("" if len(points) == len(centers) else " (some hundreds not finite)")
        axes.plot([x for x, _ in points], [mae for _, mae in points], marker="o", label=label)
    axes.set_yscale("log")
    axes.set_xlabel("the test number's value (each hundred)")
    axes.set_ylabel("test MAE (median over runs)")
    axes.legend(fontsize=8)
    figure.tight_layout()
    return _stage_figure(staged, "language_error.png", figure, plt)


def _pyplot() -> ModuleType:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError(
            "nalm report draws its figures with matplotlib: pip install 'nalm[report]'"
        ) from None
    return plt


class _Staged:
    """Files of one folder, each written to a temporary file there (NAME.XXXXXXXX.partial) and renamed
    into place by `commit`, once all are written; `discard` removes the temporaries."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: list[tuple[Path, Path]] = []  # (temporary, final path)

    def write(self, name: str, write: Callable[[IO[bytes]], Any]) -> Path:
        """Stage the file ``name`` of the folder, whose content ``write(file)`` writes; return its final path."""
        path = self.folder / name
        temporary = self.folder / f"{name}.{secrets.token_hex(4)}.partial"
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as error:
            raise _write_error(path, error) from None
        self.files.append((temporary, path))
        try:
            with os.fdopen(descriptor, "wb") as file:
                write(file)
        except OSError as error:
            raise _write_error(path, error) from None
        return path

    def commit(self) -> list[Path]:
        """Rename every staged file into place; return their paths."""
        for temporary, path in self.files:
            try:
                os.replace(temporary, path)
            except OSError as error:
                raise _write_error(path, error) from None
        return [path for _, path in self.files]

    def discard(self) -> None:
        for temporary, _ in self.files:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)


def _write_error(path: Path, error: OSError) -> ValueError:
    full = error.errno in (errno.ENOSPC, errno.EDQUOT)
    remedy = "free space on its disk or choose another --out folder" if full else "choose another --out folder"
    return ValueError(f"cannot write the report's file {path}: {error.strerror or error}; {remedy}")


def _stage_figure(staged: _Staged, name: str, figure: Any, plt: ModuleType) -> Path:
    """Stage ``figure`` as the PNG file ``name``, and close it."""
    try:
        return staged.write(name, lambda file: figure.savefig(file, dpi=120, format="png"))
    finally:
        plt.close(figure)


def _sequence_figures(summaries: list[SequenceSummary], staged: _Staged, plt: ModuleType) -> list[Path]:
    """sequence_success.png and sequence_mse.png: success rate and median test MSE against the
    sequence length, one panel per operation, one line per model (the figure of the papers)."""
    operations = list(dict.fromkeys(s.configuration.operation for s in summaries))
    colors = {model: f"C{i}" for i, model in enumerate(SEQUENCE_MODELS)}  # one color per model in every panel
    paths = []
    for name, label in (
        ("sequence_success.png", "success rate (95% Wilson interval)"),
        ("sequence_mse.png", "test MSE (median over seeds)"),
    ):
        figure, axes = plt.subplots(1, len(operations), figsize=(5 * len(operations), 3.6), squeeze=False)
        for panel, operation in zip(axes[0], operations):
            for s in summaries:
                if s.configuration.operation != operation:
                    continue
                style = (
                    {"color": "black", "linestyle": "--"}
                    if s.configuration.baseline
                    else {"color": colors[s.configuration.model]}
                )
                if name == "sequence_mse.png":
                    panel.plot(s.lengths, s.median_mse, marker="o", label=s.configuration.model, **style)
                    panel.set_yscale("log")
                elif s.successes is not None and s.intervals is not None:  # both None without a bound
                    rates = [k / s.runs for k in s.successes]
                    below = [r - low for r, (low, _) in zip(rates, s.intervals)]
                    above = [high - r for r, (_, high) in zip(rates, s.intervals)]
                    panel.errorbar(
                        s.lengths,
                        rates,
                        yerr=[below, above],
                        marker="o",
                        capsize=3,
                        alpha=0.8,
                        label=s.configuration.model,
                        **style,
                    )
                    panel.set_ylim(-0.05, 1.05)
            panel.set_xscale("log")
            panel.set_title(operation)
            panel.set_xlabel("sequence length")
            panel.set_ylabel(label)
            panel.legend(fontsize=8)
        figure.tight_layout()
        paths.append(_stage_figure(staged, name, figure, plt))
    return paths


def write_report(rows: list[Row], out: str | os.PathLike[str]) -> list[Path]:
    """Write ``report.md`` and its figures into ``out``: ``success_rate.png`` and
    ``extrapolation_error.png`` for the static task's runs, ``sequence_success.png`` and
    ``sequence_mse.png`` for the digit tasks', ``language_error.png`` (test MAE against the
    number's value) for the language task's. Return their paths. Raises
    [`MissingDependencyError`][nalm.validation.MissingDependencyError] if matplotlib is not installed, and a ValueError naming the file
    if one cannot be written (then none of them is: the folder is left as it was)."""
    plt = _pyplot()
    if not rows:
        raise ValueError("the results file holds no runs")
    return _write_folder(out, lambda staged: _stage_report(rows, staged, plt))


def _write_folder(out: str | os.PathLike[str], stage: Callable[[_Staged], Any]) -> list[Path]:
    """Make the folder ``out`` (if need be), let ``stage`` stage its files and rename them into
    place; on any error none of them is written and a folder this call made is removed again."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"the report folder {out} is a file; give a folder's path")
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(
            f"cannot write the report into {out}: {error.strerror or error}; choose another --out folder"
        ) from None
    staged = _Staged(out)
    try:
        stage(staged)
        return staged.commit()
    except BaseException:
        staged.discard()
        if created:
            with contextlib.suppress(OSError):
                out.rmdir()  # the folder this call made, left empty
        raise


def write_published_table(files: dict[str, list[Row]], out: str | os.PathLike[str]) -> Path:
    """Write ``report.md`` into ``out``: the whole published table of Madsen and Johansen beside
    the runs of the results ``files`` (name -> rows) that test each cell best
    ([`nalm.bench.analysis.published.published_table`][nalm.bench.analysis.published.published_table]). Return its path."""
    cells = published_table(files)
    ran = sum(cell.comparison is not None for cell in cells)
    text = (
        f"# The published table beside ours\n\n{CITATION}: 100 seeds, 5e6 steps per cell. {ran} of {len(cells)} "
        f"cells have a run here, from {len(files)} results files; each cell shows the run that tests it best (the "
        "published model before another definition, then the longest, then the most seeds). Success rates "
        "agree where the two 95% intervals overlap; a shorter run can confirm a published rate but not refute "
        "it. The solved-at and sparsity columns read ours / published.\n\n" + published_table_text(cells)
    )
    (path,) = _write_folder(
        out, lambda staged: staged.write("report.md", lambda file: file.write(text.encode("utf-8")))
    )
    return path


def report_text(rows: list[Row]) -> str:
    """The text of ``report.md`` for ``rows``: the summary table, the models as they ran and, on the
    static task, the published cells and averages beside ours; on the digit tasks, success and MSE by length; on
    the language task, success, errors and the error of each hundred."""
    if any(row.get("task") == "language" for row in rows):
        summaries = summarize_language(rows)
        return (
            f"# Benchmark results: language to number\n\n{len(rows)} runs. A run succeeds when it predicts every "
            "test number within 0.5 (each rounds to the right integer) at the step of lowest validation MSE.\n\n"
            f"{language_table(summaries)}\n## Test MAE by the number's value\n\n{hundreds_table(summaries)}"
            f"{models_section(rows)}"
        )
    sequences = [row for row in rows if row.get("task") == "digits"]
    if sequences:
        return (
            f"# Benchmark results: digit sequence tasks\n\n{len(sequences)} runs. A run succeeds at a length "
            "when its test MSE there (at the step of lowest validation MSE) is below the upper 1% one-sided "
            "Student-t bound of the test MSEs of the baseline whose cell is fixed to the exact solution. "
            f"Exact W_h = I: runs whose cell carries its state exactly, max |W_h - I| <= {EXACT_RECURRENCE:g} "
            "(the weight that reads z may take any scale: the reader absorbs it).\n\n"
            f"{sequence_table(summarize_sequences(sequences))}{models_section(sequences)}"
        )
    return (
        f"# Benchmark results\n\n{len(rows)} runs.\n\n{markdown_table(summarize(rows))}{models_section(rows)}"
        f"{published_section(rows)}{averages_section(rows)}"
    )


def _stage_report(rows: list[Row], staged: _Staged, plt: ModuleType) -> None:
    """Stage the report of ``rows``: its table and figures (see [`write_report`][nalm.bench.analysis.report.write_report])."""
    text = report_text(rows)
    staged.write("report.md", lambda file: file.write(text.encode("utf-8")))
    if any(row.get("task") == "language" for row in rows):
        _language_figure(summarize_language(rows), staged, plt)
        return
    sequences = [row for row in rows if row.get("task") == "digits"]
    if sequences:
        _sequence_figures(summarize_sequences(sequences), staged, plt)
        return
    summaries = summarize(rows)
    with_ranges = several_ranges(summaries)
    labels = [s.configuration.label(with_ranges) for s in summaries]
    height = max(3.0, 0.3 * len(summaries) + 1)

    figure, axes = plt.subplots(figsize=(7, height))
    rates = [s.success_rate for s in summaries]
    below = [rate - s.interval[0] for rate, s in zip(rates, summaries)]
    above = [s.interval[1] - rate for rate, s in zip(rates, summaries)]
    axes.barh(labels, rates, xerr=[below, above], capsize=3, color="tab:blue")
    axes.set_xlim(0, 1)
    axes.invert_yaxis()
    axes.set_xlabel("success rate (95% Wilson interval)")
    figure.tight_layout()
    _stage_figure(staged, "success_rate.png", figure, plt)

    figure, axes = plt.subplots(figsize=(7, height))
    index: dict[Configuration, int] = {c: i for i, c in enumerate(s.configuration for s in summaries)}
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
    _stage_figure(staged, "extrapolation_error.png", figure, plt)

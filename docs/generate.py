"""Write the generated parts of README.md and the docs from the committed results files and from
what nalm's commands print, so that no table or quoted output is typed by hand.

A generated part sits between two HTML comments, each at the start of a line, which Markdown does
not show::

    <!-- generated: report benchmarks/results/quick.jsonl summary -->
    ...what the directive writes...
    <!-- end generated -->

Directives:

- ``report FILE PART``: a table of ``nalm report`` for the results file FILE; PART is ``summary``
  (success rates, a digit task's rates by length, the language task's rates and errors),
  ``hundreds`` (the language task's error by the number's value), ``models`` (the models as they
  ran), ``published`` (the published cells beside ours) or ``averages`` (the published rates over
  range pairs beside ours).
- ``by-range FILE ...``: solved runs per model and operation (rows, file after file, each labelled
  with its rows' ``variant`` where they name one) and interpolation range (columns).
- ``pooled FILE ...``: each model and operation's success over all its range pairs and seeds, by
  input size (and by ``variant``, where the rows name one), with its 95% Wilson interval.
- ``runs FILE ...``: one row per results file (each holding one configuration): the model as it
  ran (its ``variant`` where the rows name one), hidden units, steps, the benchmark's learning rate
  (a model with its own says so), success with its 95% interval,
  solved-at median, sparsity error and median extrapolation MSE; e.g. a search's ablation table.
- ``published-table FILE ...``: the whole published table of Madsen and Johansen, each cell beside
  the run among the FILEs that tests it best (as ``nalm report FILE ... --out DIR`` writes it).
- ``published-cells OPS FILE ...``: the rows of that table for the operations OPS (comma-separated).
- ``compare FILE:MODEL:OPERATION ...``: the published comparison of the named cells, from several
  results files, in one table.
- ``units full`` / ``units short``: the table of units, from each unit's definition
  (``nalm.units``): name, paper, PyTorch constructor with every default, formula; short leaves
  out the constructor.
- ``command ARGS...``: what ``nalm ARGS...`` prints, in a text block.
- ``file PATH``: a committed program output: a ``.md`` file as it is (a table), any other in a
  text block.

``python docs/generate.py`` rewrites every generated part; ``--check`` only compares, prints
what differs and exits 1 if anything does (a test runs it).
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
START, END = "<!-- generated: ", "<!-- end generated -->"
BLOCK = re.compile(
    r"^(<!-- generated: (?P<directive>[^\n]*?) -->\n)(?P<body>.*?)^(<!-- end generated -->)", re.DOTALL | re.MULTILINE
)


def _rows(path: str) -> list[dict]:
    from nalm.bench.runs.results_file import read_results

    return read_results(ROOT / path)


def _report(path: str, part: str) -> str:
    from nalm.bench.analysis.aggregate import summarize, summarize_language, summarize_sequences
    from nalm.bench.analysis.published import compare
    from nalm.bench.analysis.published_averages import averages_table, compare_averages
    from nalm.bench.analysis.report import (
        comparison_table,
        hundreds_table,
        language_table,
        markdown_table,
        model_lines,
        sequence_table,
    )

    rows = _rows(path)
    task = rows[0].get("task") if rows else None
    if part == "summary":
        if task == "digits":
            return sequence_table(summarize_sequences(rows))
        if task == "language":
            return language_table(summarize_language(rows))
        return markdown_table(summarize(rows))
    if part == "hundreds" and task == "language":
        return hundreds_table(summarize_language(rows))
    if part == "models":
        return model_lines(rows)
    if part == "published":
        return comparison_table(compare(rows))
    if part == "averages":
        return averages_table(compare_averages(rows))
    raise ValueError(f"unknown report part {part!r}: summary, models, published, averages, or hundreds (language task)")


def _by_range(paths: list[str]) -> str:
    """Solved seeds per model and operation (rows, file after file; a row of a file whose rows name
    a ``variant``, as the division search's probes write them, says it) and interpolation range
    (columns)."""
    from nalm.bench.analysis.aggregate import summarize

    cells: dict[tuple[str, tuple[float, float]], str] = {}
    labels: list[str] = []
    for path in paths:
        rows = _rows(path)
        variants = {row.get("variant") for row in rows}
        if len(variants) > 1:
            raise ValueError(f"{path}: rows of {len(variants)} variants; keep one variant per file")
        variant = variants.pop() if variants else None
        for summary in summarize(rows):
            model, operation, interpolation = summary.configuration.key[:3]
            label = f"{model} {operation}" + (f" ({variant})" if variant else "")
            if (label, interpolation) in cells:
                raise ValueError(f"{path}: {label} on {interpolation} is in an earlier file too; name a variant")
            labels.append(label)
            cells[label, interpolation] = f"{summary.successes}/{summary.runs}"
    ranges = sorted({interpolation for _, interpolation in cells})
    lines = [
        "| model, operation | " + " | ".join(f"U[{low:g},{high:g}]" for low, high in ranges) + " |",
        "|---" * (len(ranges) + 1) + "|",
    ]
    lines += [
        f"| {label} | " + " | ".join(cells.get((label, r), "-") for r in ranges) + " |"
        for label in dict.fromkeys(labels)
    ]
    return "\n".join(lines) + "\n"


def _pooled(paths: list[str]) -> str:
    """Each model and operation's runs (each variant's apart) pooled over all its range pairs and
    seeds, file after file, with the 95% Wilson interval of the pooled success rate."""
    from nalm.bench.analysis.statistics import wilson_interval

    lines = ["| model, operation | inputs | range pairs | solved [95%] |", "|---|---|---|---|"]
    for path in paths:
        pools: dict[tuple[str, int], list[dict]] = {}
        for row in _rows(path):
            variant = f" ({row['variant']})" if row.get("variant") else ""
            label = f"{row['model']} {row['operation']}{variant}"
            pools.setdefault((label, row["settings"]["input_size"]), []).append(row)
        for (label, inputs), rows in pools.items():
            solved = sum(bool(row["success"]) for row in rows)
            low, high = wilson_interval(solved, len(rows))
            ranges = len({str(row["interpolation_range"]) for row in rows})
            rate = f"{solved}/{len(rows)} = {solved / len(rows):.1%} [{low:.1%}, {high:.1%}]"
            lines.append(f"| {label} | {inputs} | {ranges} | {rate} |")
    return "\n".join(lines) + "\n"


def _compare(cells: list[str]) -> str:
    from nalm.bench.analysis.published import compare
    from nalm.bench.analysis.report import comparison_table

    comparisons = []
    for cell in cells:
        path, model, operation = cell.split(":")
        found = [c for c in compare(_rows(path)) if c.ours.configuration.key[:2] == (model, operation)]
        if len(found) != 1:
            raise ValueError(f"{cell}: {len(found)} published cells match in {path}")
        comparisons += found
    return comparison_table(comparisons)


def _runs(paths: list[str]) -> str:
    """One row per results file of one configuration: how it ran and how it did."""
    from nalm.bench.analysis.aggregate import summarize
    from nalm.bench.analysis.published import steps_label
    from nalm.bench.analysis.report import summary_cells

    lines = [
        "| results file | model | hidden | steps | lr | solved [95%] | solved at (median) | sparsity error "
        "| extrapolation MSE (median) |",
        "|---" * 9 + "|",
    ]
    for path in paths:
        rows = _rows(path)
        summaries = summarize(rows)
        runs = {(row.get("variant"), row["model_definition"]) for row in rows}
        if len(summaries) != 1 or len(runs) != 1:
            raise ValueError(
                f"{path}: {len(summaries)} configurations of {len(runs)} definitions or variants; "
                "a row of this table is one of each"
            )
        rate, median, sparsity = summary_cells(summaries[0])
        changes = (rows[0].get("variant") or "as registered").split(": ")[-1]  # a probe's "model: changes"
        model = rows[0]["model_definition"] + ("" if changes == "as registered" else f" ({changes})")
        settings = rows[0]["settings"]
        lines.append(
            f"| `{Path(path).name}` | {model.replace('|', chr(92) + '|')} | {settings['hidden_size']} "
            f"| {steps_label(settings['steps'])} | {settings['learning_rate']:g} | {rate} "
            f"| {median} | {sparsity} | {summaries[0].extrapolation_mse_median:.3g} |"
        )
    return "\n".join(lines) + "\n"


def _published_table(paths: list[str], operations: tuple[str, ...] | None = None) -> str:
    """The whole published table (or its rows of ``operations``) beside the run of each cell that
    tests it best among ``paths``."""
    from nalm.bench.analysis.published import published_table
    from nalm.bench.analysis.report import published_table_text

    cells = published_table({path: _rows(path) for path in paths})
    if operations is not None:
        cells = [cell for cell in cells if cell.published.operation in operations]
    return published_table_text(cells)


def _paper(text: str) -> str:
    """'Trask et al., "Neural ...", NeurIPS 2018 (arXiv 1808.00508)' -> a short link; "nalm" for
    nalm's own units."""
    if "arXiv" not in text:
        return text.split(":")[0]
    authors = text.split('"')[0].rstrip(", ")
    if "," in authors:  # three or more authors
        authors = authors.split(",")[0].removesuffix(" et al.") + " et al."
    year = re.findall(r"\b(?:19|20)\d\d\b", text.split('"')[-1])[0]
    arxiv = re.search(r"arXiv (\d{4}\.\d{4,5})", text).group(1)
    return f"[{authors} {year}](https://arxiv.org/abs/{arxiv})"


def _units(style: str) -> str:
    """The table of units: ``full`` (name, paper, PyTorch constructor, formula) or ``short``."""
    from nalm.torch import UNITS
    from nalm.units import DEFINITIONS

    if style == "short":
        lines = ["| name | paper | formula |", "|---|---|---|"]
        lines += [f"| `{n}` | {_paper(u.paper)} | {u.formula_text} |" for n, u in DEFINITIONS.items()]
    else:
        lines = ["| name | paper | PyTorch | formula |", "|---|---|---|---|"]
        lines += [
            f"| `{n}` | {_paper(u.paper)} | `nalm.torch.{UNITS.get(n).__name__}({u.signature('torch')})` "
            f"| {u.formula_text} |"
            for n, u in DEFINITIONS.items()
        ]
    return "\n".join(lines) + "\n"


def _command(args: list[str]) -> str:
    environment = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}
    done = subprocess.run(
        [sys.executable, "-m", "nalm", *args],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
        cwd=ROOT,
        timeout=600,
    )
    if done.returncode != 0:
        raise ValueError(f"nalm {shlex.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    output = "\n".join(line.rstrip() for line in done.stdout.strip("\n").splitlines())
    return f"```text\n{output}\n```\n"


def _file(path: str) -> str:
    text = (ROOT / path).read_text(encoding="utf-8").strip("\n")
    return f"{text}\n" if path.endswith(".md") else f"```text\n{text}\n```\n"


def render(directive: str) -> str:
    """The Markdown that ``directive`` stands for."""
    name, *args = shlex.split(directive)
    if name == "report" and len(args) == 2:
        return _report(*args)
    if name == "by-range" and args:
        return _by_range(args)
    if name == "pooled" and args:
        return _pooled(args)
    if name == "compare" and args:
        return _compare(args)
    if name == "runs" and args:
        return _runs(args)
    if name == "published-table" and args:
        return _published_table(args)
    if name == "published-cells" and len(args) > 1:
        from nalm.bench.tasks.static import OPERATIONS

        operations = tuple(args[0].split(","))
        unknown = [op for op in operations if op not in OPERATIONS]
        if unknown:
            raise ValueError(f"published-cells: unknown operations {unknown}; choose from {', '.join(OPERATIONS)}")
        return _published_table(args[1:], operations)
    if name == "units" and len(args) == 1 and args[0] in ("full", "short"):
        return _units(args[0])
    if name == "command" and args:
        return _command(args)
    if name == "file" and len(args) == 1:
        return _file(args[0])
    raise ValueError(f"unknown directive {directive!r}")


def regenerate(text: str, page: str = "text") -> str:
    """``text`` with every generated part written anew; ValueError naming ``page`` and the
    directive for a directive that fails, or markers that do not pair up."""
    starts = len(re.findall(f"^{re.escape(START)}", text, flags=re.MULTILINE))
    ends = len(re.findall(f"^{re.escape(END)}", text, flags=re.MULTILINE))
    if starts != ends or len(BLOCK.findall(text)) != starts:
        raise ValueError(f"{page}: {starts} '{START}...' markers and {ends} '{END}' markers do not pair up")

    def write(match: re.Match[str]) -> str:
        if re.search(f"^{re.escape(START)}", match.group("body"), flags=re.MULTILINE):
            raise ValueError(f"{page}: a generated part holds another's start: {match.group(1).strip()}")
        try:
            return match.group(1) + render(match.group("directive")) + match.group(4)
        except Exception as error:
            raise ValueError(f"{page}: {match.group(1).strip()} failed: {error}") from error

    return BLOCK.sub(write, text)


def stale_pages() -> dict[Path, str]:
    """Each page whose generated parts differ from what the directives write now: page -> new text."""
    stale = {}
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        new = regenerate(text, str(page.relative_to(ROOT)))
        if new != text:
            stale[page] = new
    return stale


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if a page is not current")
    args = parser.parse_args()
    stale = stale_pages()
    for page, new in stale.items():
        name = str(page.relative_to(ROOT))
        if args.check:
            old = page.read_text(encoding="utf-8").splitlines(keepends=True)
            sys.stdout.writelines(difflib.unified_diff(old, new.splitlines(keepends=True), name, name + " (now)"))
        else:
            page.write_text(new, encoding="utf-8")
            print(f"wrote {name}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())

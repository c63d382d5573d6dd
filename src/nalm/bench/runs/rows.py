"""Rows and results files: one JSON line per run, validated when read.

A row is one run's results (:data:`~nalm.bench.runs.grid.Row`); its task's grid says which fields
it has (:attr:`~nalm.bench.runs.grid.Grid.ROW_KEYS`) and which configuration it belongs to.
Lines are strict JSON: a non-finite number is written as null and named in the row's
"non_finite" field (:func:`to_json`).
"""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path
from typing import Any

from nalm.bench.runs.digit_grid import SequenceBenchmark
from nalm.bench.runs.grid import Configuration, Grid, Row
from nalm.bench.runs.static_grid import Benchmark

GRIDS: dict[str, type[Grid]] = {Benchmark.TASK: Benchmark, SequenceBenchmark.TASK: SequenceBenchmark}
"""The grid of each task, by the name its rows carry in "task" (the static task's rows carry none)."""


def grid_of(row: Row) -> type[Grid]:
    """The grid class of a row's task."""
    return GRIDS[row.get("task", Benchmark.TASK)]


def configuration_of(row: Row) -> Configuration:
    """The configuration a row belongs to."""
    return grid_of(row).configuration_of(row)


def _non_finite(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def to_json(row: Row) -> str:
    """One row as a line of strict JSON: a non-finite number (a diverged run's MSE) is written as
    null, and the row's "non_finite" maps each such field to "nan", "inf" or "-inf"; in a list
    (the digit tasks' MSE per length), to a list with that text where the list held one and null
    elsewhere."""
    non_finite: dict[str, Any] = {}
    clean = {}
    for key, value in row.items():
        if _non_finite(value):
            non_finite[key], value = repr(value), None
        elif isinstance(value, list) and any(map(_non_finite, value)):
            non_finite[key] = [repr(v) if _non_finite(v) else None for v in value]
            value = [None if _non_finite(v) else v for v in value]
        clean[key] = value
    return json.dumps({**clean, "non_finite": non_finite} if non_finite else clean, allow_nan=False)


def from_json(line: str) -> Row:
    """A row from its line, its non-finite numbers restored."""
    row = json.loads(line)
    if isinstance(row, dict):
        for key, text in row.pop("non_finite", {}).items():
            if isinstance(text, list):
                row[key] = [value if marked is None else float(marked) for value, marked in zip(row[key], text)]
            else:
                row[key] = float(text)
    return row


def read_results(path: str | os.PathLike[str]) -> list[Row]:
    """Every run of a results file, once: its complete lines (a last line cut off by a kill is left
    out), a run written twice (same configuration and seed) counted once, with a warning."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{path} is not a results file: it is not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None
    lines = text.split("\n")
    complete = lines[:-1]  # after the last newline: "" or a line still being written
    rows = []
    for number, line in enumerate(complete, start=1):
        if not line:
            continue
        try:
            row = from_json(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"{path} is not a results file: line {number}: {getattr(error, 'msg', error)}") from None
        keys = (
            grid_of(row).ROW_KEYS
            if isinstance(row, dict) and row.get("task", Benchmark.TASK) in GRIDS
            else Benchmark.ROW_KEYS
        )
        missing = [key for key in keys if not isinstance(row, dict) or key not in row]
        if missing or isinstance(row["seed"], bool) or not isinstance(row["seed"], int):
            what = f"it lacks {', '.join(missing)}" if missing else f"its seed is {row['seed']!r}"
            raise ValueError(f"{path} is not a results file of nalm bench: line {number} is not a run ({what})")
        rows.append(row)
    unique: dict[tuple, Row] = {}
    for row in rows:
        unique.setdefault((*configuration_of(row).key, row["seed"]), row)
    if len(unique) < len(rows):
        warnings.warn(
            f"results file {path} holds {len(rows) - len(unique)} runs more than once (two sweeps wrote it "
            "at once, which older versions of nalm allowed); each run is counted once, as first written",
            stacklevel=2,
        )
    return list(unique.values())

"""Rows: one JSON line per run, and the schema each is checked against when read.

A row is one run's results ([`Row`][nalm.bench.runs.grid.Row]); its task's grid says which fields
it has ([`ROW_KEYS`][nalm.bench.runs.grid.Grid.ROW_KEYS]), what each holds
([`ROW_FIELDS`][nalm.bench.runs.grid.Grid.ROW_FIELDS], checked by [`KINDS`][nalm.bench.runs.rows.KINDS]) and which configuration
it belongs to. Lines are strict JSON: a non-finite number is written as null and named in the
row's "non_finite" field ([`to_json`][nalm.bench.runs.rows.to_json]).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from nalm.bench.runs.digit_grid import SequenceBenchmark
from nalm.bench.runs.grid import Configuration, FieldKind, Grid, Row
from nalm.bench.runs.language_grid import LanguageBenchmark
from nalm.bench.runs.static_grid import Benchmark
from nalm.bench.tasks.digits import MAX_LENGTH, lengths
from nalm.bench.tasks.language import HUNDREDS
from nalm.bench.tasks.static import value_range

GRIDS: dict[str, type[Grid]] = {
    Benchmark.TASK: Benchmark,
    SequenceBenchmark.TASK: SequenceBenchmark,
    LanguageBenchmark.TASK: LanguageBenchmark,
}
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


NON_FINITE = ("nan", "inf", "-inf")
"""How the "non_finite" field of a row names a number that JSON cannot hold."""


def from_json(line: str) -> Row:
    """A row from its line, its non-finite numbers restored; ValueError for a line that is not
    JSON or whose "non_finite" field is not as [`to_json`][nalm.bench.runs.rows.to_json] writes it."""
    row = json.loads(line)
    if isinstance(row, dict) and "non_finite" in row:
        marks = row.pop("non_finite")
        if not isinstance(marks, dict) or not all(_restore(row, key, marks[key]) for key in marks):
            raise ValueError(
                f"its non_finite is {_shown(marks)}; non_finite must map fields of the row to "
                f"{', '.join(map(repr, NON_FINITE))}, or a field's list to a list of those and nulls"
            )
    return row


def _restore(row: Row, key: str, marked: Any) -> bool:
    """Put back in ``row`` the non-finite numbers ``marked`` for ``key``; False if ``marked`` is not
    as [`to_json`][nalm.bench.runs.rows.to_json] writes it (nothing is changed then)."""
    if isinstance(marked, str) and marked in NON_FINITE and key in row:
        row[key] = float(marked)
        return True
    value = row.get(key)
    if (
        isinstance(marked, list)
        and isinstance(value, list)
        and len(marked) == len(value)
        and all(m is None or (isinstance(m, str) and m in NON_FINITE) for m in marked)
    ):
        row[key] = [v if m is None else float(m) for v, m in zip(value, marked)]
        return True
    return False


def complete_line(line: str | bytes) -> bool:
    """Whether what follows a file's last newline is a whole row that only lacks its newline (a
    JSON object, as a hand-edited file may end), not a line cut off by a kill (nor "")."""
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _error(value: Any) -> bool:
    """A number >= 0, NaN or +inf (what a diverged run measures)."""
    return _number(value) and (value >= 0 or math.isnan(value))


def _names(names: tuple[str, ...]) -> str:
    return ", ".join(map(repr, names))


def _checks_range(field: str, value: Any) -> bool:
    try:
        value_range(field, value)
    except (ValueError, TypeError):
        return False
    return True


def _checks_lengths(field: str, value: Any) -> bool:
    try:
        lengths(field, value)
    except (ValueError, TypeError):
        return False
    return True


def _errors_per_length(value: Any, row: Row) -> str | None:
    expected = row.get("test_lengths")
    count = len(expected) if isinstance(expected, list) else None
    if isinstance(value, list) and all(v is None or _error(v) for v in value) and count in (None, len(value)):
        return None
    return f"a list of {count or 'the'} errors, one per test length (each a number >= 0, NaN, inf or null)"


Check = Callable[[str, Any, Row, type[Grid]], str | None]
"""A kind's check of a field's value in a row of a grid: None if it holds, else what the field must be."""

KINDS: dict[FieldKind, Check] = {
    "task": lambda f, v, row, grid: None if v == grid.TASK else repr(grid.TASK),
    "model": lambda f, v, row, grid: (
        None
        if isinstance(v, str) and v in grid.MODEL_NAMES
        else f"one of the {grid.TASK} task's models: {_names(grid.MODEL_NAMES)}"
    ),
    "operation": lambda f, v, row, grid: (
        None
        if isinstance(v, str) and v in grid.OPERATION_NAMES
        else f"one of the {grid.TASK} task's operations: {_names(grid.OPERATION_NAMES)}"
    ),
    "seed": lambda f, v, row, grid: (
        None if _integer(v) and 0 <= v < grid.MAX_SEEDS else f"an integer from 0 to {grid.MAX_SEEDS - 1:,}"
    ),
    "settings": lambda f, v, row, grid: (
        None
        if isinstance(v, dict) and _integer(v.get("steps")) and v["steps"] > 0
        else "an object of the benchmark's settings, with its number of steps"
    ),
    "text": lambda f, v, row, grid: None if isinstance(v, str) else "text",
    "flag": lambda f, v, row, grid: None if isinstance(v, bool) else "true or false",
    "step": lambda f, v, row, grid: None if _integer(v) and v >= 0 else "a training step, an integer >= 0",
    "step or none": lambda f, v, row, grid: (
        None if v is None or (_integer(v) and v >= 0) else "a training step (an integer >= 0) or null"
    ),
    "threshold": lambda f, v, row, grid: None if _number(v) and math.isfinite(v) and v > 0 else "a finite number > 0",
    "error": lambda f, v, row, grid: None if _error(v) else "an error: a number >= 0, NaN or inf",
    "error or none": lambda f, v, row, grid: (
        None if v is None or _error(v) else "an error (a number >= 0, NaN or inf) or null"
    ),
    "errors per length": lambda f, v, row, grid: _errors_per_length(v, row),
    "errors per hundred": lambda f, v, row, grid: (
        None
        if isinstance(v, list) and len(v) == len(HUNDREDS) and all(e is None or _error(e) for e in v)
        else f"a list of {len(HUNDREDS)} errors, one per hundred (each a number >= 0, NaN, inf or null)"
    ),
    "fraction": lambda f, v, row, grid: None if _number(v) and 0 <= v <= 1 else "a number from 0 to 1",
    "range": lambda f, v, row, grid: (
        None
        if _checks_range(f, v)
        else "a range: [low, high] of finite numbers with low < high, or a list of such pairs, sorted and disjoint"
    ),
    "length": lambda f, v, row, grid: (
        None if _integer(v) and 1 <= v <= MAX_LENGTH else f"a sequence length from 1 to {MAX_LENGTH:,}"
    ),
    "lengths": lambda f, v, row, grid: (
        None
        if _checks_lengths(f, v)
        else f"a list of increasing sequence lengths from 1 to {MAX_LENGTH:,}, at least one"
    ),
}
"""The check of each kind of field ([`FieldKind`][nalm.bench.runs.grid.FieldKind])."""


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def row_problem(row: Any) -> str | None:
    """What makes ``row`` not a run of its task's grid, or None if it is one: "(it lacks FIELD, ...)",
    or "(its FIELD is VALUE): FIELD must be ..." for a value not of its field's kind
    ([`ROW_FIELDS`][nalm.bench.runs.grid.Grid.ROW_FIELDS])."""
    if not isinstance(row, dict):
        return f"(it is {_shown(row)}, not a JSON object)"
    task = row.get("task", Benchmark.TASK)
    if not isinstance(task, str) or task not in GRIDS:
        return f"(its task is {_shown(task)}): task must be one of {_names(tuple(GRIDS))}"
    grid = GRIDS[task]
    missing = [key for key in grid.ROW_KEYS if key not in row]
    if missing:
        return f"(it lacks {', '.join(missing)})"
    for field, kind in grid.ROW_FIELDS.items():
        if field in row:
            expected = KINDS[kind](field, row[field], row, grid)
            if expected is not None:
                return f"(its {field} is {_shown(row[field])}): {field} must be {expected}"
    return None

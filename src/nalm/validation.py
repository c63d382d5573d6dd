"""Argument checks shared by every framework: one clear error that names the bad value."""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any


def positive_int(name: str, value: Any, at_most: int | None = None) -> int:
    """Return ``value`` as an int if it is an integer > 0 (numpy integers too, not bools) and, with
    ``at_most``, no larger than that; else raise."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    number = int(value)
    if at_most is not None and number > at_most:
        raise ValueError(f"{name} must be at most {at_most:,}, got {value:,}")
    return number


def positive_float(name: str, value: Any) -> float:
    """Return ``value`` as a float if it is a finite number > 0, else raise."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def interval(name: str, value: Any) -> tuple[float, float]:
    """Return ``value`` as (low, high) if it is a pair (tuple or list, as JSON gives it) of finite
    numbers with low < high, else raise."""
    if (
        not isinstance(value, (tuple, list))
        or len(value) != 2
        or not all(isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    ):
        raise ValueError(f"{name} must be a pair (low, high) of finite numbers, got {value!r}")
    low, high = float(value[0]), float(value[1])
    if not low < high:
        raise ValueError(f"{name} must have low < high, got ({low:g}, {high:g})")
    return low, high


def non_negative_int(name: str, value: Any, at_most: int | None = None) -> int:
    """Return ``value`` if it is an integer >= 0 and, with ``at_most``, no larger than that; else
    raise naming ``name`` and the value."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    number = int(value)
    if at_most is not None and number > at_most:
        raise ValueError(f"{name} must be at most {at_most:,}, got {number:,}")
    return number


def non_negative_float(name: str, value: Any) -> float:
    """Return ``value`` as a float if it is a finite number >= 0, else raise."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative finite number, got {value!r}")
    return float(value)


def optional_float(name: str, value: Any) -> float | None:
    """Return ``value`` as a float, or None; raise for anything else (bools, NaN, strings)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Real) or math.isnan(value):
        raise ValueError(f"{name} must be a number or None, got {value!r}")
    return float(value)


def boolean(name: str, value: Any) -> bool:
    """Return ``value`` if it is True or False, else raise naming ``name`` and the value."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def layer_sizes(dims: Sequence[Any]) -> tuple[int, ...]:
    """Check a stack's sizes (in, hidden..., out): at least two, each a positive integer.

    A single list or tuple is accepted in place of separate arguments.
    """
    if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
        dims = tuple(dims[0])
    if len(dims) < 2:
        raise ValueError(f"a stack needs at least two sizes (in_features, ..., out_features), got {tuple(dims)!r}")
    return tuple(positive_int(f"size {i}", d) for i, d in enumerate(dims))


def choice(name: str, value: Any, options: Sequence[Any]) -> Any:
    """Return ``value`` if it is one of ``options``, else raise listing them. Names are read
    whatever their case: "NAC" is the option "nac" (the option is returned)."""
    if value in options:
        return value
    if isinstance(value, str):
        same = [option for option in options if isinstance(option, str) and option.lower() == value.lower()]
        if len(same) == 1:
            return same[0]
    listed = ", ".join(repr(o) for o in options)
    raise ValueError(f"unknown {name} {value!r}; choose from {listed}")


class MissingDependencyError(RuntimeError):
    """An optional package that was asked for is not installed (the message says how to install it)."""

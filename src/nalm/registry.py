"""Name -> unit class, one registry per framework.

The CLI's choices, the benchmark's grid and the parametrized tests read these registries. A unit
class that names its definition ([`nalm.units`][nalm.units]) registers itself under the definition's name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, Protocol, TypeVar

from nalm.validation import choice


class NamedUnit(Protocol):
    """What a registry holds: a unit class, which the registry names."""

    unit_name: str


T = TypeVar("T", bound=NamedUnit)


class Registry(Generic[T]):
    """An ordered mapping from unit name to class, for one framework."""

    def __init__(self, framework: str) -> None:
        self.framework = framework
        self._units: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Class decorator: ``@UNITS.register("nac")``; the name is stored as ``cls.unit_name``."""

        def add(cls: T) -> T:
            if name in self._units:
                raise ValueError(f"unit {name!r} is already registered for {self.framework}")
            self._units[name] = cls
            cls.unit_name = name
            return cls

        return add

    def get(self, name: str) -> T:
        """The class registered as ``name``; an unknown name raises ValueError listing the choices."""
        return self._units[choice("unit", name, self.names())]

    def names(self) -> tuple[str, ...]:
        return tuple(self._units)

    def __contains__(self, name: object) -> bool:
        return name in self._units

    def __iter__(self) -> Iterator[str]:
        return iter(self._units)

    def __len__(self) -> int:
        return len(self._units)

    def __repr__(self) -> str:
        return f"Registry({self.framework!r}, {list(self._units)})"

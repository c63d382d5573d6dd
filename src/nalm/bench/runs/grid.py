"""A benchmark grid: the base of every task's benchmark (seeds, training settings, validation, settings()).

A grid expands to configurations (one model on one operation, and more axes where the task has
them), each trained with seeds 0 .. S-1 side by side by the runner ([`nalm.bench.runs.runner`][nalm.bench.runs.runner]).
A task's grid subclasses [`Grid`][nalm.bench.runs.grid.Grid] and contributes how to build its models, its tasks and its
rows; the runner, the results file and the executors are shared.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal, Protocol

from torch import nn

from nalm.bench.engine.config import TrainConfig
from nalm.bench.engine.loop import resolve_engine
from nalm.bench.engine.problem import TrainResult
from nalm.bench.tasks.streams import DATA_STREAMS, MAX_SEED
from nalm.validation import choice, non_negative_int, positive_int

Row = dict[str, Any]
"""One run's results, as written to the results file."""

FieldKind = Literal[
    "task",
    "model",
    "operation",
    "seed",
    "settings",
    "text",
    "flag",
    "step",
    "step or none",
    "threshold",
    "error",
    "error or none",
    "errors per length",
    "errors per hundred",
    "fraction",
    "range",
    "length",
    "lengths",
]
"""What a field of a row holds, checked when a results file is read
([`read_results`][nalm.bench.runs.results_file.read_results], where each kind is defined): the grid's task, one of
its models or operations, a seed (0 .. MAX_SEEDS - 1), the settings (an object with the number
of steps), text, true or false, a step (an integer >= 0, or null where "or none"), a success
threshold (a finite number > 0), an error (a number >= 0, NaN or +inf; null too where "or
none"), the errors at each test length (a list as long as the row's "test_lengths", of errors or
nulls), the errors of the numbers in each hundred (a list of 10 errors or nulls), a fraction (a
number from 0 to 1), a value range, a sequence length, increasing sequence lengths."""


class Configuration(Protocol):
    """One cell of a grid: the unit of training (S seeds side by side)."""

    @property
    def model(self) -> str:
        """The model's name."""
        ...

    @property
    def operation(self) -> str:
        """The operation's name."""
        ...

    @property
    def key(self) -> tuple[Any, ...]:
        """What identifies the configuration among every task's (hashable)."""
        ...

    def label(self, with_ranges: bool) -> str:
        """ "nmu mul", with the ranges where a grid has several."""
        ...


@dataclass(frozen=True)
class Grid:
    """The values every benchmark has: its models and operations, seeds ``first_seed`` ..
    ``first_seed + seeds - 1`` (0 .. ``seeds`` - 1 by default), and how each run trains ([`TrainConfig`][nalm.bench.engine.config.TrainConfig]). Subclasses set
    `TASK`, `MODEL_NAMES`, `OPERATION_NAMES`, `MAX_SEEDS` and the methods
    that raise NotImplementedError here."""

    TASK: ClassVar[str] = ""
    """The task's name, as rows and the command line give it."""
    MODEL_NAMES: ClassVar[tuple[str, ...]] = ()
    OPERATION_NAMES: ClassVar[tuple[str, ...]] = ()
    MAX_SEEDS: ClassVar[int] = 100_000
    AXES: ClassVar[frozenset[str]] = frozenset({"models", "operations", "seeds", "first_seed"})
    """The fields that are the grid's axes: the rest are its settings."""

    models: tuple[str, ...] = ()
    operations: tuple[str, ...] = ()
    seeds: int = 1
    first_seed: int = 0
    """The first seed: other seeds than the reported 0 .. seeds - 1, e.g. for developing a method."""
    steps: int = 1
    eval_every: int = 1
    batch_size: int = 1
    learning_rate: float = 1e-3
    eval_size: int = 1

    def __post_init__(self) -> None:
        for name, options in (("models", self.MODEL_NAMES), ("operations", self.OPERATION_NAMES)):
            values = tuple(getattr(self, name))
            if not values:
                raise ValueError(f"{name} must name at least one, got none")
            names = (choice(name[:-1], value, options) for value in values)  # "NAU" is "nau"
            object.__setattr__(self, name, tuple(dict.fromkeys(names)))
        positive_int("seeds", self.seeds, at_most=self.MAX_SEEDS)
        non_negative_int("first_seed", self.first_seed, at_most=MAX_SEED + 1 - self.seeds)
        self.train_config()  # checks steps, eval_every, batch_size, learning_rate, eval_size

    def seed_list(self) -> tuple[int, ...]:
        """The seeds every configuration is trained with: first_seed .. first_seed + seeds - 1."""
        return tuple(range(self.first_seed, self.first_seed + self.seeds))

    def train_config(self, configuration: Any = None) -> TrainConfig:
        """How the runs train; a grid whose models carry their own settings applies those of
        ``configuration``'s model."""
        return TrainConfig.of(self)

    def settings(self) -> dict[str, Any]:
        """The values every run shares, all but the grid's axes (`AXES`), and the version of
        the data streams: runs with different settings must not be mixed in one results file."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in self.AXES}
        return {**values, "data": DATA_STREAMS}

    def configurations(self) -> Sequence[Configuration]:
        """Every configuration, in the grid's order."""
        raise NotImplementedError

    def task(self, configuration: Any) -> Any:
        """The task ``configuration`` trains on."""
        raise NotImplementedError

    def builder(self, configuration: Any, device: str) -> Callable[[], nn.Module]:
        """A function that builds one seed's model of ``configuration`` on ``device``."""
        raise NotImplementedError

    def rows(
        self, configuration: Any, seeds: tuple[int, ...], results: list[TrainResult], build: Callable[[], nn.Module]
    ) -> list[Row]:
        """One row per seed of ``configuration`` from its training ``results``: each seed's
        `row` (a grid whose rows need the model, e.g. for its initial errors, overrides this)."""
        return [self.row(configuration, seed, result) for seed, result in zip(seeds, results)]

    def row(self, configuration: Any, seed: int, result: TrainResult) -> Row:
        """The row of one seed's run of ``configuration``."""
        raise NotImplementedError

    def model_definition(self, model: str, operation: str) -> str | None:
        """How nalm defines ``model`` on ``operation`` now (what rows record), None for an unknown one."""
        raise NotImplementedError

    def engine_of(self, configuration: Any, engine: str, device: str = "cpu") -> str:
        """ "compiled" or "torch": the engine ``engine`` trains ``configuration`` with on ``device``
        ([`nalm.bench.engine.loop.resolve_engine`][nalm.bench.engine.loop.resolve_engine]; "compiled" where the kernels do not cover it
        is a ValueError)."""
        return resolve_engine(engine, self.task(configuration), self.builder(configuration, device))

    def seeds_independent(self, configuration: Any, engine: str) -> bool:
        """Whether a seed's numbers do not depend on the seeds beside it (so seeds may train in
        chunks): only where the compiled kernels train ``configuration`` (each seed on its own; the
        torch engine's batched float32 rounding depends on the stack)."""
        return self.engine_of(configuration, engine) == "compiled"

    @staticmethod
    def configuration_of(row: Row) -> Configuration:
        """The configuration a row of this task belongs to."""
        raise NotImplementedError

    ROW_KEYS: ClassVar[tuple[str, ...]] = ()
    """The fields every run's row has, that the readers rely on."""
    ROW_FIELDS: ClassVar[dict[str, FieldKind]] = {}
    """The kind of each field a row may have (those of `ROW_KEYS` and the others its rows
    carry), checked when a results file is read; a field not named here is not checked."""

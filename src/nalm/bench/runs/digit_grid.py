"""The digit sequence tasks' benchmark: which models and operations to train.

A [`SequenceBenchmark`][nalm.bench.runs.digit_grid.SequenceBenchmark] expands to [`SequenceConfiguration`][nalm.bench.runs.digit_grid.SequenceConfiguration] s, one per model x operation,
plus, for each operation, the baseline whose cell is fixed to the exact solution (``fixed_nau``
for count and sum, ``fixed_nmu`` for product): its runs set the success bound of the others
([`nalm.bench.analysis.statistics.success_bounds`][nalm.bench.analysis.statistics.success_bounds]). Each configuration trains seeds 0 .. S-1
side by side ([`nalm.bench.engine.stacking.SeedEnsemble`][nalm.bench.engine.stacking.SeedEnsemble]).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from torch import nn

from nalm.bench.engine.problem import TrainResult
from nalm.bench.models.digits import SEQUENCE_MODELS, build_sequence_model
from nalm.bench.runs.grid import FieldKind, Grid, Row
from nalm.bench.tasks.digits import MAX_LENGTH, SEQUENCE_OPERATIONS, DigitSequenceTask, check_memory, lengths
from nalm.validation import choice, positive_int

BASELINES = {"count": "fixed_nau", "sum": "fixed_nau", "product": "fixed_nmu"}
"""The exact-solution baseline of each operation."""

PUBLISHED_LENGTHS = {
    "count": (10, (1, 10, 100, 1000)),
    "sum": (10, (1, 10, 100, 1000)),
    "product": (2, tuple(range(1, 21))),
}
"""(training length, test lengths) of each operation as Madsen and Johansen ran them."""


@dataclass(frozen=True)
class SequenceConfiguration:
    """One model on one digit operation: the unit of training (S seeds side by side)."""

    model: str
    operation: str

    @property
    def key(self) -> tuple[str, str, str]:
        return ("digits", self.model, self.operation)

    @property
    def baseline(self) -> bool:
        return self.model == BASELINES[self.operation]

    def label(self, with_ranges: bool = False) -> str:
        return f"{self.model} {self.operation}"


@dataclass(frozen=True)
class SequenceBenchmark(Grid):
    """Every value of a digit sequence benchmark. ``train_length`` and ``test_lengths`` left as
    None take each operation's published ones ([`PUBLISHED_LENGTHS`][nalm.bench.runs.digit_grid.PUBLISHED_LENGTHS]); ``eval_size`` is the
    number of sequences of each evaluation set; ``images`` is "sklearn" or a folder of MNIST IDX
    files ([`nalm.bench.tasks.digits.load_images`][nalm.bench.tasks.digits.load_images])."""

    models: tuple[str, ...] = ("nau", "nmu", "lstm")
    operations: tuple[str, ...] = ("sum", "product")
    seeds: int = 4
    steps: int = 2_000
    eval_every: int = 500
    batch_size: int = 64
    learning_rate: float = 1e-3
    eval_size: int = 100
    images: str = "sklearn"
    train_length: int | None = None
    test_lengths: tuple[int, ...] | None = None

    TASK: ClassVar[str] = "digits"
    MODEL_NAMES: ClassVar[tuple[str, ...]] = tuple(SEQUENCE_MODELS)
    OPERATION_NAMES: ClassVar[tuple[str, ...]] = SEQUENCE_OPERATIONS
    MAX_SEEDS: ClassVar[int] = 10_000
    ROW_KEYS: ClassVar[tuple[str, ...]] = (
        "model",
        "operation",
        "seed",
        "settings",
        "test_lengths",
        "test_mse",
        "recurrence_error",
        "diverged",
    )
    ROW_FIELDS: ClassVar[dict[str, FieldKind]] = {
        "task": "task",
        "model": "model",
        "model_definition": "text",
        "operation": "operation",
        "seed": "seed",
        "settings": "settings",
        "train_length": "length",
        "test_lengths": "lengths",
        "selected_step": "step",
        "validation_mse": "error",
        "test_mse": "errors per length",
        "recurrence_error": "error or none",
        "final_step": "step",
        "final_test_mse": "errors per length",
        "diverged": "flag",
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.seeds < 2:
            raise ValueError(f"seeds must be at least 2: the success bound needs 2 baseline runs, got {self.seeds}")
        if self.train_length is not None:
            positive_int("train_length", self.train_length, at_most=MAX_LENGTH)
        if self.test_lengths is not None:
            object.__setattr__(self, "test_lengths", lengths("test_lengths", self.test_lengths))
        for operation in self.operations:
            task = self.operation_task(operation)  # checks the lengths and the image source's name
            check_memory(task, self.seeds, self.batch_size, self.eval_size)

    def configurations(self) -> list[SequenceConfiguration]:
        """Per operation, its baseline, then each model (model x operation, operation outermost)."""
        return [
            SequenceConfiguration(model, operation)
            for operation in self.operations
            for model in dict.fromkeys((BASELINES[operation], *self.models))
        ]

    def operation_task(self, operation: str) -> DigitSequenceTask:
        train, test = PUBLISHED_LENGTHS[choice("operation", operation, SEQUENCE_OPERATIONS)]
        return DigitSequenceTask(
            operation,
            train if self.train_length is None else self.train_length,
            test if self.test_lengths is None else self.test_lengths,
            self.images,
        )

    def task(self, configuration: SequenceConfiguration) -> DigitSequenceTask:
        return self.operation_task(configuration.operation)

    def settings(self) -> dict[str, object]:
        """The values every run shares (all but models, operations and seeds), the task's name and
        the data streams' version: runs with other settings must not be mixed in one results file."""
        settings = super().settings()
        if settings["test_lengths"] is not None:
            settings["test_lengths"] = list(settings["test_lengths"])
        return {"task": "digits", **settings}

    def builder(self, configuration: SequenceConfiguration, device: str) -> Callable[[], nn.Module]:
        task = self.task(configuration)

        def build() -> nn.Module:
            return build_sequence_model(configuration.model, task).to(device)

        return build

    def model_definition(self, model: str, operation: str) -> str | None:
        """A digit model's definition depends on the operation (R_z)."""
        if model not in SEQUENCE_MODELS or operation not in SEQUENCE_OPERATIONS:
            return None
        return SEQUENCE_MODELS[model].describe(operation)

    @staticmethod
    def configuration_of(row: Row) -> SequenceConfiguration:
        return SequenceConfiguration(row["model"], row["operation"])

    def row(self, configuration: SequenceConfiguration, seed: int, result: TrainResult) -> Row:
        """The line of one run: the test MSE at each length and the cell's recurrence error
        (max |W_h - I|, [`recurrence_error`][nalm.bench.models.digits.DigitSequenceModel.recurrence_error]) at the
        selected step (lowest validation MSE), and the test MSE at the last step. Success is not in
        the row: it needs the baseline's runs ([`nalm.bench.analysis.aggregate.summarize_sequences`][nalm.bench.analysis.aggregate.summarize_sequences])."""
        selected, final = result.best, result.final
        task = self.task(configuration)
        return {
            "task": "digits",
            "model": configuration.model,
            "model_definition": SEQUENCE_MODELS[configuration.model].describe(configuration.operation),
            "operation": configuration.operation,
            "seed": seed,
            "settings": self.settings(),
            "train_length": task.train_length,
            "test_lengths": list(task.test_lengths),
            "selected_step": selected.step,
            "validation_mse": selected.interpolation_mse,
            "test_mse": list(selected.test_mse),
            "recurrence_error": selected.sparsity_error,
            "final_step": final.step,
            "final_test_mse": list(final.test_mse),
            "diverged": result.diverged,
        }

"""The language-to-number task's benchmark: which models to train, and one row per run.

A [`LanguageBenchmark`][nalm.bench.runs.language_grid.LanguageBenchmark] expands to one
[`LanguageConfiguration`][nalm.bench.runs.language_grid.LanguageConfiguration] per model, on the one
operation "number" (words -> value). Each configuration trains seeds 0 .. S-1 side by side
([`nalm.bench.engine.stacking.SeedEnsemble`][nalm.bench.engine.stacking.SeedEnsemble]); seed s splits the
numbers ([`nalm.bench.tasks.language.split`][nalm.bench.tasks.language.split]) and initializes the model.
A run succeeds when every test number is predicted within 0.5 at the step of lowest validation MSE.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from torch import nn

from nalm.bench.engine.language_problem import CORRECT, TEST_MEASURES
from nalm.bench.engine.problem import TrainResult
from nalm.bench.models.language import EMBEDDING_SIZE, HIDDEN_SIZE, LANGUAGE_MODELS, build_language_model
from nalm.bench.runs.grid import FieldKind, Grid, Row
from nalm.bench.tasks.language import HUNDREDS, LanguageTask
from nalm.validation import positive_int

LANGUAGE_OPERATIONS = ("number",)
"""The task's one operation: a number's words -> its value."""


@dataclass(frozen=True)
class LanguageConfiguration:
    """One model on the language task: the unit of training (S seeds side by side)."""

    model: str
    operation: str = "number"

    @property
    def key(self) -> tuple[str, str, str]:
        return ("language", self.model, self.operation)

    def label(self, with_ranges: bool = False) -> str:
        return self.model


@dataclass(frozen=True)
class LanguageBenchmark(Grid):
    """Every value of a language-task benchmark: the models (cells), the seeds, how each trains,
    where the cell reads the LSTM (``readout``: "recurrent" or "final") and the sizes of the
    embedding and the LSTM's state (``lstm_size``). The defaults are Madsen and Johansen's reference settings: embedding
    and LSTM of 2, batches of 64, Adam at 1e-3, 30,000 steps (10,000 epochs of 169 numbers in
    batches of 64), validation every 150 steps (50 epochs)."""

    models: tuple[str, ...] = ("nau", "nmu", "nac", "nalu", "linear", "lstm")
    operations: tuple[str, ...] = LANGUAGE_OPERATIONS
    seeds: int = 10
    steps: int = 30_000
    eval_every: int = 150
    batch_size: int = 64
    learning_rate: float = 1e-3
    eval_size: int = 1
    readout: str = "recurrent"
    embedding_size: int = EMBEDDING_SIZE
    lstm_size: int = HIDDEN_SIZE

    TASK: ClassVar[str] = "language"
    MODEL_NAMES: ClassVar[tuple[str, ...]] = tuple(LANGUAGE_MODELS)
    OPERATION_NAMES: ClassVar[tuple[str, ...]] = LANGUAGE_OPERATIONS
    MAX_SEEDS: ClassVar[int] = 10_000
    ROW_KEYS: ClassVar[tuple[str, ...]] = (
        "model",
        "operation",
        "seed",
        "settings",
        "selected_step",
        "test_mse",
        "test_mae",
        "test_max_error",
        "test_correct",
        "test_mae_by_hundred",
        "diverged",
    )
    ROW_FIELDS: ClassVar[dict[str, FieldKind]] = {
        "task": "task",
        "model": "model",
        "model_definition": "text",
        "operation": "operation",
        "seed": "seed",
        "settings": "settings",
        "selected_step": "step",
        "validation_mse": "error",
        "test_mse": "error",
        "test_mae": "error",
        "test_max_error": "error",
        "test_correct": "fraction",
        "test_mae_by_hundred": "errors per hundred",
        "sparsity_error": "error or none",
        "final_step": "step",
        "final_test_mae": "error",
        "final_test_correct": "fraction",
        "diverged": "flag",
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        LanguageTask(self.readout)  # checks the readout
        if self.eval_size != 1:
            raise ValueError(
                f"eval_size is not an option of the language task (it evaluates every validation and test number), "
                f"got {self.eval_size}"
            )
        positive_int("embedding_size", self.embedding_size, at_most=4096)
        positive_int("lstm_size", self.lstm_size, at_most=4096)

    def configurations(self) -> list[LanguageConfiguration]:
        return [LanguageConfiguration(model) for model in self.models]

    def task(self, configuration: LanguageConfiguration) -> LanguageTask:
        return LanguageTask(self.readout)

    def settings(self) -> dict[str, object]:
        """The values every run shares and the task's name: runs with other settings must not be
        mixed in one results file."""
        return {"task": "language", **super().settings()}

    def builder(self, configuration: LanguageConfiguration, device: str) -> Callable[[], nn.Module]:
        task = self.task(configuration)

        def build() -> nn.Module:
            model = build_language_model(
                configuration.model, task, embedding_size=self.embedding_size, hidden_size=self.lstm_size
            )
            return model.to(device)

        return build

    def model_definition(self, model: str, operation: str) -> str | None:
        if model not in LANGUAGE_MODELS or operation not in LANGUAGE_OPERATIONS:
            return None
        return LANGUAGE_MODELS[model].describe(self.readout)

    @staticmethod
    def configuration_of(row: Row) -> LanguageConfiguration:
        return LanguageConfiguration(row["model"], row["operation"])

    def row(self, configuration: LanguageConfiguration, seed: int, result: TrainResult) -> Row:
        """The line of one run at its selected step (lowest validation MSE): the test MSE and
        [`TEST_MEASURES`][nalm.bench.engine.language_problem.TEST_MEASURES], the cell's sparsity
        error; and the test measures at the last step."""
        selected, final = result.best, result.final
        measures, final_measures = dict(zip(TEST_MEASURES, selected.test_mse)), dict(zip(TEST_MEASURES, final.test_mse))
        return {
            "task": "language",
            "model": configuration.model,
            "model_definition": LANGUAGE_MODELS[configuration.model].describe(self.readout),
            "operation": configuration.operation,
            "seed": seed,
            "settings": self.settings(),
            "selected_step": selected.step,
            "validation_mse": selected.interpolation_mse,
            "test_mse": selected.extrapolation_mse,
            "test_mae": measures["mean absolute error"],
            "test_max_error": measures["largest absolute error"],
            "test_correct": measures["fraction right"],
            "test_mae_by_hundred": [measures[f"mean absolute error {hundred}"] for hundred in HUNDREDS],
            "sparsity_error": selected.sparsity_error,
            "final_step": final.step,
            "final_test_mae": final_measures["mean absolute error"],
            "final_test_correct": final_measures["fraction right"],
            "diverged": result.diverged,
        }


def solved(row: Row) -> bool:
    """Whether a language run predicts every test number within 0.5 at its selected step."""
    error = row["test_max_error"]
    return error is not None and error < CORRECT

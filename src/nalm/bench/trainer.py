"""Train one model on the static arithmetic task and measure interpolation and extrapolation error.

Protocol (Madsen and Johansen 2020): Adam, a fresh batch every step, evaluation every
``eval_every`` steps on fixed interpolation and extrapolation sets of ``eval_size`` points.
The model's ``regularization_loss(step)`` is added to the loss and its ``apply_constraints()``
runs after every optimizer step, so every unit trains through the same loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from nalm.bench.digits import DigitSequenceTask
from nalm.bench.sequences import SeedEnsemble
from nalm.bench.tasks import StaticArithmeticTask
from nalm.validation import positive_float, positive_int

MAX_STEPS = 10**9
"""The most training steps a run may ask for (200 times the published budget)."""
MAX_ROWS = 10**7
"""The most rows a training batch or an evaluation set may have."""


@dataclass(frozen=True)
class TrainConfig:
    """How to train: steps, batch size, Adam's learning rate, evaluation schedule, seed."""

    steps: int = 10_000
    batch_size: int = 128
    learning_rate: float = 1e-3
    eval_every: int = 1_000
    eval_size: int = 10_000
    seed: int = 0

    def __post_init__(self) -> None:
        positive_int("steps", self.steps, at_most=MAX_STEPS)
        positive_int("batch_size", self.batch_size, at_most=MAX_ROWS)
        positive_float("learning_rate", self.learning_rate)
        positive_int("eval_every", self.eval_every)
        positive_int("eval_size", self.eval_size, at_most=MAX_ROWS)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")

    @classmethod
    def of(cls, settings: object) -> TrainConfig:
        """The training settings of ``settings`` (a benchmark): its steps, batch size, learning
        rate and evaluation schedule, checked here; the seed is each run's own."""
        return cls(**{name: getattr(settings, name)
                      for name in ("steps", "batch_size", "learning_rate", "eval_every", "eval_size")})


@dataclass(frozen=True)
class Evaluation:
    """Mean squared errors on both sets after ``step`` training steps, and the sparsity error of
    the weights then (None for a model whose layers have no ``weights()``).

    On the digit sequence tasks the interpolation set is the validation set, ``test_mse`` holds
    the test MSE at each of the task's test lengths, ``extrapolation_mse`` is its last (the
    longest), and ``sparsity_error`` holds the cell's recurrence error max |W_h - I|; on the
    static task ``test_mse`` is empty."""

    step: int
    interpolation_mse: float
    extrapolation_mse: float
    sparsity_error: float | None = None
    test_mse: tuple[float, ...] = ()


@dataclass
class TrainResult:
    """Every evaluation of a run, and whether it diverged (a non-finite loss stopped it)."""

    evaluations: list[Evaluation] = field(default_factory=list)
    diverged: bool = False

    @property
    def final(self) -> Evaluation:
        return self.evaluations[-1]

    @property
    def best(self) -> Evaluation:
        """The evaluation with the lowest interpolation MSE (the published model selection)."""
        return min(self.evaluations, key=lambda e: (math.isnan(e.interpolation_mse), e.interpolation_mse))


def mean_squared_error(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> float:
    """MSE of ``model`` on (x, target), without gradients."""
    with torch.no_grad():
        return torch.mean((model(x) - target) ** 2).item()


def train(
    model: nn.Module,
    task: StaticArithmeticTask | DigitSequenceTask,
    config: TrainConfig,
    *,
    on_step: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Train ``model`` on ``task`` and evaluate it every ``config.eval_every`` steps and at the end.

    The model is trained in place by the loop of :func:`nalm.bench.seeds.train_stacked`, as a
    stack of one seed (its parameters viewed with a leading seed axis of 1), so one seed alone
    trains exactly as it would beside others, on the compiled kernels where they know the model.
    On a digit sequence task (:class:`nalm.bench.digits.DigitSequenceTask`, with a
    :class:`nalm.bench.digit_models.DigitSequenceModel`) it trains as an ensemble of one.
    Data follows the model's first parameter's device and dtype; it comes from the streams of
    seed ``config.seed`` (see :mod:`nalm.bench.data`; the model's initialization is the caller's).
    ``on_step(step, loss)`` is called every 100 steps and at the last one, e.g. for a progress bar.
    """
    from nalm.bench.seeds import seed_axis_view, train_stacked  # seeds builds on this module

    if isinstance(task, DigitSequenceTask):
        return train_stacked(SeedEnsemble([model]), task, config, [config.seed], on_step=on_step)[0]
    with seed_axis_view(model):
        return train_stacked(model, task, config, [config.seed], on_step=on_step)[0]

"""The contract between the training loop and a task: [`Problem`][nalm.bench.engine.problem.Problem], and what a run records.

The loop ([`nalm.bench.engine.loop`][nalm.bench.engine.loop]) trains S seeds of one model side by side and knows a
task only through its Problem: the next batch's per-seed errors, the penalty, the evaluations,
the sparsity, the reset of diverged seeds, the resume of the data streams and, where the compiled
kernels cover the model, a [`Compiled`][nalm.bench.engine.problem.Compiled] run of them. Each task has one
implementation: [`StaticProblem`][nalm.bench.engine.static_problem.StaticProblem] (the static and recurrent
tasks) and [`DigitProblem`][nalm.bench.engine.digit_problem.DigitProblem] (the digit sequence tasks).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from nalm.bench.tasks.streams import SeedStreams


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
    """Every evaluation of a run, and whether it diverged (a non-finite loss stopped it, or one of
    its attempts, [`TrainConfig.attempts`][nalm.bench.engine.config.TrainConfig])."""

    evaluations: list[Evaluation] = field(default_factory=list)
    diverged: bool = False

    @property
    def final(self) -> Evaluation:
        return self.evaluations[-1]

    @property
    def best(self) -> Evaluation:
        """The evaluation with the lowest interpolation MSE (the published model selection)."""
        return min(self.evaluations, key=lambda e: (math.isnan(e.interpolation_mse), e.interpolation_mse))


class Scores(NamedTuple):
    """Each seed's errors at one evaluation: interpolation (or validation) MSE, extrapolation (or
    longest test) MSE, and the MSE at each test length (empty on the static task)."""

    interpolation: list[float]
    extrapolation: list[float]
    by_length: list[tuple[float, ...]]


@runtime_checkable
class Trainable(Protocol):
    """A model's training hooks, which the PyTorch engine calls every step: the units
    ([`nalm.torch.ArithmeticUnit`][nalm.torch.base.ArithmeticUnit]), their stacks, the digit models and
    [`SeedEnsemble`][nalm.bench.engine.stacking.SeedEnsemble] have them."""

    def regularization_loss(self, step: int) -> torch.Tensor:
        """The model's penalty at training step ``step``, added to the loss."""
        ...

    def apply_constraints(self) -> None:
        """Project the parameters back into their allowed range after an optimizer step."""
        ...


def trainable(model: nn.Module) -> Trainable:
    """``model``, with its training hooks ([`Trainable`][nalm.bench.engine.problem.Trainable]); TypeError for a model without them."""
    if not isinstance(model, Trainable):
        raise TypeError(
            f"{type(model).__name__} has no training hooks: the PyTorch engine needs regularization_loss(step) "
            "and apply_constraints()"
        )
    return model


class Compiled(Protocol):
    """Training steps and evaluations run whole by compiled kernels
    ([`nalm.bench.engine.compiled.CompiledRun`][nalm.bench.engine.compiled.CompiledRun]), on the state of the model and its optimizer."""

    def train(self, streams: SeedStreams, steps: range, batch: int, alive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Train the ``alive`` seeds through ``steps``: the losses (S, len(steps)) and each seed's
        diverged step (0 where it did not diverge); ``alive`` is updated in place."""
        ...

    def evaluate(self, rows: int) -> Scores:
        """Each seed's errors on its evaluation sets of ``rows`` points."""
        ...


class Problem(Protocol):
    """What the loop trains: S seeds of one task, held in one stacked ``model``.

    A class implementing it is built as ``Problem(model, task, seeds)`` for a model that
    `stack` made (or `alone` viewed) and is registered for its task's type in
    [`nalm.bench.engine.loop.PROBLEMS`][nalm.bench.engine.loop.PROBLEMS].
    """

    model: nn.Module
    task: Any
    """The task's settings: a frozen dataclass, recorded in the run's identity."""
    seeds: tuple[int, ...]
    streams: SeedStreams
    """The seeds' training streams, moved on by every batch."""

    @staticmethod
    def stack(build: Callable[[], nn.Module], seeds: Sequence[int], attempt: int = 0) -> nn.Module:
        """One ``build()`` per seed, after ``torch.manual_seed(init_seed(seed, attempt))``
        ([`init_seed`][nalm.bench.engine.stacking.init_seed]), held as one module."""
        ...

    @staticmethod
    def alone(model: nn.Module) -> AbstractContextManager[nn.Module]:
        """Within the block, one model held as a stack of one seed that trains it in place."""
        ...

    def threads(self, threads: int) -> AbstractContextManager[None]:
        """Within the block, the problem's data and kernels run on ``threads`` threads."""
        ...

    def resume(self, steps: int, batch_size: int) -> None:
        """Move the training streams past ``steps`` batches of ``batch_size`` rows."""
        ...

    def errors(self, batch_size: int) -> torch.Tensor:
        """(S,): each seed's MSE on its next training batch (differentiable)."""
        ...

    def penalty(self, step: int, alive: torch.Tensor) -> torch.Tensor:
        """The penalties at ``step`` of the seeds (S,) bool ``alive`` (or of all, where a dead seed's gives no gradient)."""
        ...

    def evaluate(self, rows: int) -> Scores:
        """Each seed's errors on its evaluation sets of ``rows`` points."""
        ...

    def sparsity(self) -> list[float | None]:
        """Each seed's sparsity error (the digit tasks: the cell's recurrence error), None without one."""
        ...

    def reset(self, optimizer: torch.optim.Optimizer, seeds: torch.Tensor) -> None:
        """Zero the parameters and Adam state of the seeds where the boolean (S,) ``seeds`` is True."""
        ...

    @staticmethod
    def compiles(model: nn.Module, task: Any) -> bool:
        """Whether the compiled kernels cover the stacked ``model`` on ``task``."""
        ...

    def compile(self, optimizer: torch.optim.Adam, gradient_clip: float | None = None) -> Compiled | None:
        """The compiled kernels' run of this problem (each seed's gradient clipped to an L2 norm of
        ``gradient_clip`` where given), or None where they do not cover it."""
        ...

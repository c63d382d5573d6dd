"""What the Problems of the sequence tasks share: S seeds held as a
[`SeedEnsemble`][nalm.bench.engine.stacking.SeedEnsemble], one model per seed, run one after another.

A subclass ([`DigitProblem`][nalm.bench.engine.digit_problem.DigitProblem],
[`LanguageProblem`][nalm.bench.engine.language_problem.LanguageProblem]) names its member type and
adds its task's batches, evaluations and sparsity; the compiled kernels cover none of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import torch
from torch import nn

from nalm.bench.engine.stacking import SeedEnsemble, ensemble_seeds
from nalm.validation import positive_int


class EnsembleProblem:
    """S seeds of a task, one member of a [`SeedEnsemble`][nalm.bench.engine.stacking.SeedEnsemble] each
    (of type ``MEMBER``), checked when the problem is made."""

    MEMBER: ClassVar[type[nn.Module]] = nn.Module
    """The type every member must have."""

    stack = staticmethod(ensemble_seeds)

    @staticmethod
    @contextmanager
    def alone(model: nn.Module) -> Iterator[nn.Module]:
        """One model as an ensemble of one (sharing its parameters)."""
        yield SeedEnsemble([model])

    def __init__(self, model: nn.Module, task: Any, seeds: Sequence[int]) -> None:
        if not isinstance(model, SeedEnsemble):
            raise ValueError(f"a {type(task).__name__} trains a SeedEnsemble, got {type(model).__name__}")
        if len(model.members) != len(seeds):
            raise ValueError(f"the ensemble has {len(model.members)} members for {len(seeds)} seeds")
        self.model, self.task, self.seeds = model, task, tuple(seeds)
        for member in model.members:  # checked before any training
            if not isinstance(member, self.MEMBER):
                raise ValueError(
                    f"a {type(task).__name__}'s ensemble holds {self.MEMBER.__name__}s, got a {type(member).__name__}"
                )
        self.like = next(model.parameters())

    @contextmanager
    def threads(self, threads: int) -> Iterator[None]:
        """Nothing changes: no compiled kernels run here (numba's threads are not started, as they
        would slow PyTorch's operations), and PyTorch's threads are the caller's to set."""
        positive_int("threads", threads)
        yield

    @staticmethod
    def compiles(model: nn.Module, task: Any) -> bool:
        """False: the compiled kernels do not cover these models."""
        return False

    def compile(self, optimizer: torch.optim.Adam, gradient_clip: float | None = None) -> None:
        """None: the compiled kernels do not cover these models."""
        return None

    def penalty(self, step: int, alive: torch.Tensor) -> torch.Tensor:
        """The sum of the ``alive`` members' penalties at ``step``: a diverged member, zeroed, gets
        no gradient."""
        return self.model.regularization_loss(step, alive)

    @torch.no_grad()
    def reset(self, optimizer: torch.optim.Optimizer, seeds: torch.Tensor) -> None:
        """Zero the parameters and Adam state of the members where the boolean (S,) ``seeds`` is True."""
        for i in seeds.nonzero().flatten().tolist():
            for parameter in self.model.members[i].parameters():
                parameter.zero_()
                for state in optimizer.state.get(parameter, {}).values():
                    if state.dim() > 0:
                        state.zero_()

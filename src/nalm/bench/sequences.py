"""The digit sequence tasks' seeds, trained side by side by the benchmark's one loop.

A :class:`SeedEnsemble` holds one :class:`~nalm.bench.digit_models.DigitSequenceModel` per seed;
one Adam updates them all, and :func:`nalm.bench.seeds.train_stacked` trains it as it trains a
static task's stacked seeds, through :class:`DigitBatches` (each seed's batches, evaluations,
sparsity and resets). On a CPU, running the members one after another measured faster than
folding the seeds into one batched call (``torch.func.vmap``: 1.7x slower; grouped convolutions:
1.6x slower, for 8 seeds of 64 sequences of 10 images).

Evaluation (Madsen and Johansen 2020): the validation MSE on sequences of the training length
from the validation images selects the step; the test MSE at each test length is the MSE of the
output after that many test images, read from the same sequences of the longest test length.
Success at a length: the test MSE there is below the upper 1% one-sided Student-t bound of the
test MSEs of baseline runs whose cell is fixed to the exact solution (:func:`success_bounds`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from nalm.bench.data import SeedStreams
from nalm.bench.digits import DigitSequenceTask

EVAL_CHUNK_IMAGES = 4096
"""Images the reader reads in one call at evaluation."""


class SeedEnsemble(nn.Module):
    """One model per seed, ``members[i]`` for seed i, trained together: the training hooks are the
    sums of the members' (each member's penalty is its own, so the sum gives each its own gradient)."""

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def regularization_loss(self, step: int, alive: torch.Tensor | None = None) -> torch.Tensor:
        """The sum of the members' penalties at ``step``, of those where the boolean (S,) ``alive``
        is True if given."""
        if alive is not None and alive.shape != (len(self.members),):
            raise ValueError(f"alive must have one entry per member ({len(self.members)}), got shape {tuple(alive.shape)}")
        living = [True] * len(self.members) if alive is None else alive.tolist()
        return sum((member.regularization_loss(step) for member, lives in zip(self.members, living) if lives),
                   next(self.parameters()).new_zeros(()))

    @torch.no_grad()
    def apply_constraints(self) -> None:
        for member in self.members:
            member.apply_constraints()


def ensemble_seeds(build: Callable[[], nn.Module], seeds: Sequence[int]) -> SeedEnsemble:
    """``build()`` once per seed after ``torch.manual_seed(seed)``, so each member starts exactly as
    that seed's model built alone."""
    from nalm.bench.seeds import check_seeds  # seeds builds on this module

    members = []
    for seed in check_seeds(seeds):
        torch.manual_seed(seed)
        members.append(build())
    return SeedEnsemble(members)


class DigitBatches:
    """The loop's view of a digit task (see :func:`nalm.bench.seeds._train`): each seed's training
    batches and evaluation sets from its own streams, run through its own member."""

    def __init__(self, model: SeedEnsemble, task: DigitSequenceTask, seeds: Sequence[int]) -> None:
        if not isinstance(task, DigitSequenceTask):
            raise ValueError(f"a SeedEnsemble trains on a DigitSequenceTask, got {type(task).__name__}")
        if len(model.members) != len(seeds):
            raise ValueError(f"the ensemble has {len(model.members)} members for {len(seeds)} seeds")
        self.model, self.task, self.seeds = model, task, tuple(seeds)
        self.streams = SeedStreams(seeds, "train")
        self.like = next(model.parameters())
        self.images = task.data().images.to(self.like.device, self.like.dtype)

    def resume(self, steps: int, batch_size: int) -> None:
        """Move the training streams past ``steps`` batches of ``batch_size`` sequences."""
        self.streams.advance(steps * batch_size, self.task.train_length)

    def errors(self, batch_size: int) -> torch.Tensor:
        """(S,): each seed's MSE over every time step and output of its next training batch."""
        positions, targets = self.task.sample(self.streams, batch_size, self.task.train_length, "train")
        images = self.images[self.task.pool("train").to(self.images.device)[positions.to(self.images.device)]]
        targets = targets.to(self.like.dtype).to(self.like.device)  # the dtype first: MPS has no float64
        return torch.stack([((member(images[i]) - targets[i]) ** 2).mean() for i, member in enumerate(self.model.members)])

    def penalty(self, step: int, alive: torch.Tensor) -> torch.Tensor:
        """The sum of the ``alive`` members' penalties at ``step``: a diverged member, zeroed, gets
        no gradient (R_z would move even its zero weights)."""
        return self.model.regularization_loss(step, alive)

    @torch.no_grad()
    def _test(self, stream: str, split: str, rows: int, lengths: Sequence[int]) -> list[list[float]]:
        """Each seed's MSE (float64) after each of ``lengths`` images, on ``rows`` sequences of
        the longest of them from ``split``, drawn from the seed's ``stream``."""
        pool = self.task.pool(split).to(self.images.device)
        positions, targets = self.task.sample(SeedStreams(self.seeds, stream), rows, max(lengths), split)
        at = torch.tensor(lengths) - 1
        errors = []
        for i, member in enumerate(self.model.members):
            training = member.training
            member.eval()
            z = torch.cat([member.read(self.images[pool[start:start + EVAL_CHUNK_IMAGES]])
                           for start in range(0, len(pool), EVAL_CHUNK_IMAGES)])
            outputs = member.fold(z[positions[i].to(z.device)])[:, at].cpu().double()  # MPS has no float64
            errors.append(((outputs - targets[i][:, at]) ** 2).mean(dim=(0, 2)).tolist())
            member.train(training)
        return errors

    def evaluate(self, rows: int) -> tuple[list[float], list[float], list[tuple[float, ...]]]:
        """Each seed's validation MSE (at the training length), test MSE at the longest test
        length, and test MSE at every test length, on ``rows`` sequences each."""
        validation = [e[0] for e in self._test("interpolation", "validation", rows, [self.task.train_length])]
        test = self._test("extrapolation", "test", rows, self.task.test_lengths)
        return validation, [t[-1] for t in test], [tuple(t) for t in test]

    def sparsity(self) -> list[float | None]:
        """Each seed's recurrence error, max |W_h - I| of its cell (None for an LSTM): in the
        evaluations' sparsity field, 0 where the cell's recurrence is exact."""
        return [member.recurrence_error() for member in self.model.members]

    @torch.no_grad()
    def reset(self, optimizer: torch.optim.Optimizer, seeds: torch.Tensor) -> None:
        """Zero the parameters and Adam state of the members where the boolean (S,) ``seeds`` is True."""
        for i in seeds.nonzero().flatten().tolist():
            for parameter in self.model.members[i].parameters():
                parameter.zero_()
                for state in optimizer.state.get(parameter, {}).values():
                    if state.dim() > 0:
                        state.zero_()


def student_t_quantile(probability: float, degrees: int) -> float:
    """The ``probability`` quantile of Student's t with ``degrees`` degrees of freedom (scipy)."""
    try:
        from scipy.stats import t
    except ImportError:
        raise ValueError("the success bound needs SciPy: pip install 'nalm[digits]'") from None
    return float(t.ppf(probability, degrees))


def success_bounds(baseline: Sequence[Sequence[float]], level: float = 0.01) -> list[float]:
    """The upper ``level`` one-sided Student-t confidence bound of the mean baseline MSE at each
    length: mean + t_{1 - level, n - 1} s / sqrt(n), over the n >= 2 baseline runs (rows of
    ``baseline``, one MSE per length). A model's MSE below it at a length is a success there."""
    errors = torch.tensor(baseline, dtype=torch.float64)
    if errors.dim() != 2 or len(errors) < 2:
        raise ValueError(f"the bound needs the MSEs of at least 2 baseline runs, got shape {tuple(errors.shape)}")
    if not torch.isfinite(errors).all():
        raise ValueError("a baseline run's MSE is not finite: the bound would be meaningless")
    n = len(errors)
    spread = errors.std(dim=0) / math.sqrt(n)
    return (errors.mean(dim=0) + student_t_quantile(1 - level, n - 1) * spread).tolist()

"""The digit sequence tasks as the loop's [`Problem`][nalm.bench.engine.problem.Problem].

A [`SeedEnsemble`][nalm.bench.engine.stacking.SeedEnsemble] holds one
[`DigitSequenceModel`][nalm.bench.models.digits.DigitSequenceModel] per seed; one Adam updates them all, and
the loop of [`nalm.bench.engine.loop`][nalm.bench.engine.loop] trains it as it trains a static task's stacked seeds,
through [`DigitProblem`][nalm.bench.engine.digit_problem.DigitProblem] (each seed's batches, evaluations, sparsity and resets). On a CPU, running the members one after another measured faster than
folding the seeds into one batched call (``torch.func.vmap``: 1.7x slower; grouped convolutions:
1.6x slower, for 8 seeds of 64 sequences of 10 images).

Evaluation (Madsen and Johansen 2020): the validation MSE on sequences of the training length
from the validation images selects the step; the test MSE at each test length is the MSE of the
output after that many test images, read from the same sequences of the longest test length.
Success at a length ([`nalm.bench.analysis.statistics.success_bounds`][nalm.bench.analysis.statistics.success_bounds]) is judged from the rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from nalm.bench.engine.ensemble_problem import EnsembleProblem
from nalm.bench.engine.problem import Scores
from nalm.bench.models.digits import DigitSequenceModel
from nalm.bench.tasks.digits import DigitSequenceTask
from nalm.bench.tasks.streams import SeedStreams

EVAL_CHUNK_IMAGES = 4096
"""Images the reader reads in one call at evaluation."""


class DigitProblem(EnsembleProblem):
    """S seeds of a [`DigitSequenceTask`][nalm.bench.tasks.digits.DigitSequenceTask], one member of a
    [`SeedEnsemble`][nalm.bench.engine.stacking.SeedEnsemble] each: each seed's training batches and
    evaluation sets from its own streams, run through its own member."""

    MEMBER = DigitSequenceModel

    def __init__(self, model: nn.Module, task: DigitSequenceTask, seeds: Sequence[int]) -> None:
        super().__init__(model, task, seeds)
        self.task: DigitSequenceTask = task
        self.members: list[DigitSequenceModel] = list(model.members)  # type: ignore[arg-type]
        self.streams = SeedStreams(seeds, "train")
        self.images = task.data().images.to(self.like.device, self.like.dtype)

    def resume(self, steps: int, batch_size: int) -> None:
        """Move the training streams past ``steps`` batches of ``batch_size`` sequences."""
        self.streams.advance(steps * batch_size, self.task.train_length)

    def errors(self, batch_size: int) -> torch.Tensor:
        """(S,): each seed's MSE over every time step and output of its next training batch."""
        positions, targets = self.task.sample(self.streams, batch_size, self.task.train_length, "train")
        images = self.images[self.task.pool("train").to(self.images.device)[positions.to(self.images.device)]]
        targets = targets.to(self.like.dtype).to(self.like.device)  # the dtype first: MPS has no float64
        return torch.stack(
            [((member(images[i]) - targets[i]) ** 2).mean() for i, member in enumerate(self.model.members)]
        )

    @torch.no_grad()
    def _test(self, stream: str, split: str, rows: int, lengths: Sequence[int]) -> list[list[float]]:
        """Each seed's MSE (float64) after each of ``lengths`` images, on ``rows`` sequences of
        the longest of them from ``split``, drawn from the seed's ``stream``."""
        pool = self.task.pool(split).to(self.images.device)
        positions, targets = self.task.sample(SeedStreams(self.seeds, stream), rows, max(lengths), split)
        at = torch.tensor(lengths) - 1
        errors = []
        for i, member in enumerate(self.members):  # in eval() mode: the loop evaluates so
            z = torch.cat(
                [
                    member.read(self.images[pool[start : start + EVAL_CHUNK_IMAGES]])
                    for start in range(0, len(pool), EVAL_CHUNK_IMAGES)
                ]
            )
            outputs = member.fold(z[positions[i].to(z.device)])[:, at].cpu().double()  # MPS has no float64
            errors.append(((outputs - targets[i][:, at]) ** 2).mean(dim=(0, 2)).tolist())
        return errors

    def evaluate(self, rows: int) -> Scores:
        """Each seed's validation MSE (at the training length), test MSE at the longest test
        length, and test MSE at every test length, on ``rows`` sequences each."""
        validation = [e[0] for e in self._test("interpolation", "validation", rows, [self.task.train_length])]
        test = self._test("extrapolation", "test", rows, self.task.test_lengths)
        return Scores(validation, [t[-1] for t in test], [tuple(t) for t in test])

    def sparsity(self) -> list[float | None]:
        """Each seed's recurrence error, max |W_h - I| of its cell (None for an LSTM): in the
        evaluations' sparsity field, 0 where the cell's recurrence is exact."""
        return [member.recurrence_error() for member in self.members]

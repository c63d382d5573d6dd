"""The language-to-number task as the loop's [`Problem`][nalm.bench.engine.problem.Problem]: one
[`NumberReader`][nalm.bench.models.language.NumberReader] per seed, each trained on its seed's split.

Evaluation: the validation MSE over the seed's 200 validation numbers selects the step; the test
numbers (630) give the test MSE and [`TEST_MEASURES`][nalm.bench.engine.language_problem.TEST_MEASURES], held in the
evaluation's ``test_mse`` field (the digit tasks hold their MSE per length there).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from nalm.bench.engine.ensemble_problem import EnsembleProblem
from nalm.bench.engine.problem import Scores
from nalm.bench.models.language import NumberReader
from nalm.bench.tasks.language import HUNDREDS, SPLITS, LanguageTask, all_token_ids
from nalm.bench.tasks.streams import SeedStreams

TEST_MEASURES = (
    "mean absolute error",
    "largest absolute error",
    "fraction right",
    *(f"mean absolute error {hundred}" for hundred in HUNDREDS),
)
"""What an evaluation measures on the test numbers, in order: the mean and the largest absolute
error, the fraction predicted within 0.5 (rounding to the right integer), and the mean absolute
error of the numbers in each hundred."""
CORRECT = 0.5
"""A prediction within this of the number rounds to it."""


class LanguageProblem(EnsembleProblem):
    """S seeds of a [`LanguageTask`][nalm.bench.tasks.language.LanguageTask], one
    [`NumberReader`][nalm.bench.models.language.NumberReader] each."""

    MEMBER = NumberReader

    def __init__(self, model: nn.Module, task: LanguageTask, seeds: Sequence[int]) -> None:
        super().__init__(model, task, seeds)
        self.task: LanguageTask = task
        self.members: list[NumberReader] = list(model.members)  # type: ignore[arg-type]
        self.streams = SeedStreams(seeds, "train")
        self.tokens = all_token_ids().to(self.like.device)
        self.splits = {name: [LanguageTask.numbers(seed, name) for seed in self.seeds] for name in SPLITS}

    def resume(self, steps: int, batch_size: int) -> None:
        """Move the training streams past ``steps`` batches of ``batch_size`` numbers."""
        self.streams.advance(steps * batch_size, 1)

    def errors(self, batch_size: int) -> torch.Tensor:
        """(S,): each seed's MSE on its next training batch of ``batch_size`` numbers."""
        numbers = LanguageTask.sample(self.streams, self.splits["train"], batch_size).to(self.like.device)
        targets = numbers.to(self.like.dtype)
        return torch.stack(
            [((member(self.tokens[numbers[i]]) - targets[i]) ** 2).mean() for i, member in enumerate(self.members)]
        )

    @torch.no_grad()
    def predictions(self, split: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Each seed's (numbers, predictions) on its ``split``, float64 on the CPU (the loop
        evaluates in ``eval()`` mode)."""
        return [
            (numbers, member(self.tokens[numbers.to(self.tokens.device)]).cpu().double())
            for numbers, member in zip(self.splits[split], self.members)
        ]

    def evaluate(self, rows: int) -> Scores:
        """Each seed's validation MSE, test MSE and [`TEST_MEASURES`][nalm.bench.engine.language_problem.TEST_MEASURES]
        on the whole of its splits (``rows`` is not used: the splits are fixed)."""
        validation = [((p - n.double()) ** 2).mean().item() for n, p in self.predictions("validation")]
        test, measures = [], []
        for numbers, predicted in self.predictions("test"):
            error = (predicted - numbers.double()).abs()
            test.append((error**2).mean().item())
            bins = numbers // 100
            by_hundred = [
                error[bins == b].mean().item() if (bins == b).any() else float("nan") for b in range(len(HUNDREDS))
            ]
            right = (error < CORRECT).double().mean().item()
            measures.append((error.mean().item(), error.max().item(), right, *by_hundred))
        return Scores(validation, test, measures)

    def sparsity(self) -> list[float | None]:
        """Each seed's cell's sparsity error (None for the baselines)."""
        return [member.sparsity_error() for member in self.members]

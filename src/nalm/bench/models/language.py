"""Models of the language-to-number task: an embedding and an LSTM read the tokens, an arithmetic
cell turns what they read into the number's value.

tokens (B, T) -> embedding (B, T, E) -> LSTM, states h_t (B, T, H) -> the cell -> value (B,).

With readout "recurrent" (the reference code's) the cell is a recurrent unit of one output that
reads [y_{t-1}, h_t] at every word, y_0 = 0 ([`nalm.functional.recur`][nalm.functional.recur], padding
skipped); with "final" (the paper's authors') it reads the LSTM's state after the last word once.
Padding follows the last word, so the value is the one after it. The baselines: ``linear`` (a linear layer with a bias in the cell's place) and
``lstm`` (the LSTM alone, a linear layer with a bias on its final state).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from nalm import functional
from nalm.bench.models.sparsity import sparsity_error
from nalm.bench.models.static import PUBLISHED_NAC_INIT, unit_options
from nalm.bench.tasks.language import TOKENS, LanguageTask
from nalm.torch import UNITS, ArithmeticUnit
from nalm.units import DEFINITIONS
from nalm.validation import choice, positive_int

LANGUAGE_SCHEDULE = functional.SparsitySchedule(0.1, 0, 100_000)
"""The cells' sparsity schedule: lambda 0.1 ramped linearly from step 0 to 1e5, the initial slope
of the reference's 0.1 (1 - exp(-1e-5 t)), in nalm's linear-ramp form."""

EMBEDDING_SIZE = 2
"""The reference code's embedding size (the paper's authors: about 256)."""
HIDDEN_SIZE = 2
"""The reference code's LSTM state size (the paper's authors: about 10)."""
BASELINES = ("linear", "lstm")
"""The cells that are not arithmetic units."""


@dataclass(frozen=True)
class LanguageModel:
    """A language-task model by its cell: a registered unit, ``linear`` or ``lstm``."""

    cell: str

    def describe(self, readout: str) -> str:
        """ "nau cell at every token, reading [y_{t-1}, h_t], sparsity 0.1 from step 0 to 100000 of
        min(|W|, |1 - |W||)", or "LSTM alone, a linear layer with a bias on its final state". With
        readout "final" the ``linear`` cell is the ``lstm`` baseline's model."""
        if self.cell == "lstm":
            return "LSTM alone, a linear layer with a bias on its final state"
        where = "at every token, reading [y_{t-1}, h_t]" if readout == "recurrent" else "on the final state"
        if self.cell == "linear":
            return f"linear cell with a bias {where}"
        text = f"{self.cell} cell {where}"
        options = language_cell_options(self.cell)
        if "lambda_sparse" in options:
            s = LANGUAGE_SCHEDULE
            text += f", sparsity {s.lambda_sparse:g} from step {s.lambda_start} to {s.lambda_end} of {functional.SPARSITY_PENALTY}"
        if "init" in options:
            text += f", init {options['init']}"
        return text


def language_cell_options(cell: str) -> dict:
    """A unit cell's options: [`LANGUAGE_SCHEDULE`][nalm.bench.models.language.LANGUAGE_SCHEDULE]
    and the published NAC weights' init, where the unit has them."""
    return unit_options(cell, LANGUAGE_SCHEDULE, PUBLISHED_NAC_INIT)


LANGUAGE_MODELS: dict[str, LanguageModel] = {
    # not the units that draw noise in training (the sNMU): PyTorch's one generator serves every
    # seed of an ensemble, so a seed's noise, and its numbers, would depend on the seeds beside it
    **{name: LanguageModel(name) for name in UNITS.names() if not DEFINITIONS[name].stochastic},
    **{name: LanguageModel(name) for name in BASELINES},
}
"""The language-task models by name: every registered unit whose training draws no noise as the
cell, and the two baselines."""


class NumberReader(nn.Module):
    """tokens (B, MAX_TOKENS) int64, 0-padded at the end -> the value (B,) after the last word.

    ``cell`` is a registered unit, "linear" or "lstm" (see the module's docstring); ``readout``
    "recurrent" or "final"; ``embedding_size`` and ``hidden_size`` size the embedding and the LSTM.
    """

    def __init__(
        self,
        cell: str,
        *,
        readout: str = "recurrent",
        embedding_size: int = EMBEDDING_SIZE,
        hidden_size: int = HIDDEN_SIZE,
    ) -> None:
        super().__init__()
        self.cell_name = choice("cell", cell, tuple(LANGUAGE_MODELS))
        self.readout = LanguageTask(readout).readout
        self.embedding = nn.Embedding(len(TOKENS), positive_int("embedding_size", embedding_size))
        # stepped over the (at most 5) tokens by forward
        self.lstm = nn.LSTMCell(embedding_size, positive_int("hidden_size", hidden_size))
        reads = hidden_size + (1 if self.readout == "recurrent" and cell != "lstm" else 0)
        self.cell: nn.Module = (
            nn.Linear(reads, 1) if cell in BASELINES else UNITS.get(cell)(reads, 1, **language_cell_options(cell))
        )

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.dim() != 2:
            raise ValueError(f"expected tokens of shape (B, T), got {tuple(tokens.shape)}")
        words = tokens != 0
        embedded = self.embedding(tokens)
        h = embedded.new_zeros(len(tokens), self.lstm.hidden_size)
        c, states = torch.zeros_like(h), []
        for t in range(tokens.shape[1]):  # padding comes after the last word: its states are never read
            h, c = self.lstm(embedded[:, t], (h, c))
            states.append(h)
        return self._value(torch.stack(states, dim=1), words)

    def _value(self, states: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
        """The cell's value (B,) from the LSTM's states (B, T, H) and where the words are (B, T)."""
        if self.readout == "recurrent" and self.cell_name != "lstm":
            return functional.recur(self.cell, states, 1, 0.0, ops=torch, mask=words)[:, 0]
        last = (words.sum(dim=1) - 1).clamp(min=0)
        return self.cell(states[torch.arange(len(states), device=states.device), last])[:, 0]

    def regularization_loss(self, step: int) -> torch.Tensor:
        """The unit cell's penalty at ``step`` (zero for the baselines)."""
        unit = self.unit
        return next(self.parameters()).new_zeros(()) if unit is None else unit.regularization_loss(step)

    @property
    def unit(self) -> ArithmeticUnit | None:
        """The cell if it is an arithmetic unit; None for a baseline's linear layer."""
        return self.cell if isinstance(self.cell, ArithmeticUnit) else None

    @torch.no_grad()
    def apply_constraints(self) -> None:
        if self.unit is not None:
            self.unit.apply_constraints()

    @torch.no_grad()
    def sparsity_error(self) -> float | None:
        """The unit cell's sparsity error (max min(|W|, |1 - |W||) over its effective weights);
        None for the baselines."""
        return None if self.unit is None else sparsity_error(self.unit.weights()).item()

    def extra_repr(self) -> str:
        return f"readout={self.readout!r}"


def build_language_model(
    name: str, task: LanguageTask, *, embedding_size: int = EMBEDDING_SIZE, hidden_size: int = HIDDEN_SIZE
) -> NumberReader:
    """The language-task model ``name`` (a key of [`LANGUAGE_MODELS`][nalm.bench.models.language.LANGUAGE_MODELS]) for ``task``."""
    cell = LANGUAGE_MODELS[choice("model", name, tuple(LANGUAGE_MODELS))].cell
    return NumberReader(cell, readout=task.readout, embedding_size=embedding_size, hidden_size=hidden_size)

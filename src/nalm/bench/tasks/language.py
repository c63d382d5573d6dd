"""The language-to-number task (Trask et al. 2018, section 4.3): a number from 1 to 999 written in
words, e.g. 235 = "two hundred and thirty five", is read token by token, and the model outputs
its value.

Tokens: padding (id 0), "and", "one" .. "nineteen", "twenty" .. "ninety", "hundred": 30 ids,
29 words. A number is at most 5 tokens ("nine hundred and ninety nine"), padded at the end.

Each seed splits the 999 numbers into 169 training, 200 validation and 630 test numbers
([`split`][nalm.bench.tasks.language.split]), as Madsen and Johansen's reference code does: 1 to
19 train, so does every number that holds a token the training numbers lack (in the order of a
shuffle of 20 .. 999 by the seed), and the rest of the shuffle fills test, then validation, then
training. Training batches draw training numbers with replacement from the seed's training stream.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from nalm.bench.tasks.streams import SeedStreams, indices, uniforms
from nalm.validation import choice

ONES = (
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen"
).split()
"""The words of 1 .. 19."""
TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
"""The words of 20, 30, .. 90."""
TOKENS = ("<pad>", "and", *ONES, *TENS, "hundred")
"""Every token by id; id 0 is padding."""
MAX_TOKENS = 5
"""The most tokens a number takes: "nine hundred and ninety nine"."""
NUMBERS = range(1, 1000)
"""The numbers of the task."""
SPLIT_SIZES = {"train": 169, "validation": 200, "test": 630}
"""How many numbers each split holds (the paper's 169 / 200 / 631 of 0 .. 1000; the reference code's of 1 .. 999)."""
SPLITS = tuple(SPLIT_SIZES)
"""The splits' names: train, validation, test."""
HUNDREDS = tuple(f"{max(100 * b, 1)}-{100 * b + 99}" for b in range(10))
"""The magnitude bins the test errors are measured in: 1-99, 100-199, .., 900-999."""


def words(number: int) -> tuple[str, ...]:
    """``number`` (1 .. 999) in words: 235 -> ("two", "hundred", "and", "thirty", "five"),
    100 -> ("one", "hundred"), 119 -> ("one", "hundred", "and", "nineteen")."""
    if isinstance(number, bool) or not isinstance(number, (int, np.integer)) or number not in NUMBERS:
        raise ValueError(f"number must be an integer from 1 to 999, got {number!r}")
    hundreds, rest = divmod(int(number), 100)
    said = [ONES[hundreds - 1], "hundred"] if hundreds else []
    if hundreds and rest:
        said.append("and")
    if rest >= 20:
        said.append(TENS[rest // 10 - 2])
        rest %= 10
    if rest:
        said.append(ONES[rest - 1])
    return tuple(said)


def token_ids(number: int) -> list[int]:
    """The token ids of ``number``, padded with 0 to [`MAX_TOKENS`][nalm.bench.tasks.language.MAX_TOKENS]."""
    ids = [TOKENS.index(word) for word in words(number)]
    return ids + [0] * (MAX_TOKENS - len(ids))


@functools.lru_cache(maxsize=1)
def all_token_ids() -> torch.Tensor:
    """(1000, MAX_TOKENS) int64: row n holds the tokens of n (row 0, unused, is padding)."""
    return torch.tensor([[0] * MAX_TOKENS] + [token_ids(n) for n in NUMBERS])


@functools.lru_cache(maxsize=256)
def split(seed: int) -> dict[str, tuple[int, ...]]:
    """The numbers of each split for ``seed``: disjoint, together 1 .. 999, every token of every
    number in some training number. 1 .. 19 train; 20 .. 999 in the order of a shuffle by the
    seed's "subsets" stream: a number holding a token the training numbers lack trains, the others
    fill test to 630, validation to 200 and training to 169."""
    rest = np.arange(20, 1000)[np.argsort(uniforms(seed, "subsets", 980), kind="stable")]
    train = list(range(1, 20))
    seen = {word for n in train for word in words(n)}
    others = []
    for number in rest.tolist():
        new = set(words(number)) - seen
        if new:
            train.append(number)
            seen |= new
        else:
            others.append(number)
    test = others[: SPLIT_SIZES["test"]]
    validation = others[len(test) : len(test) + SPLIT_SIZES["validation"]]
    train += others[len(test) + len(validation) :]
    return {"train": tuple(sorted(train)), "validation": tuple(sorted(validation)), "test": tuple(sorted(test))}


@dataclass(frozen=True)
class LanguageTask:
    """Numbers 1 .. 999 in words -> their value. ``readout`` says where the model's arithmetic
    cell reads the LSTM: "recurrent" (at every token, its own previous output beside the LSTM's
    state, as the reference code does) or "final" (once, on the LSTM's state after the last
    token, as the paper's authors describe)."""

    readout: str = "recurrent"

    def __post_init__(self) -> None:
        if self.readout not in READOUTS:
            raise ValueError(f"readout must be one of {', '.join(READOUTS)}, got {self.readout!r}")

    @staticmethod
    def numbers(seed: int, split_name: str) -> torch.Tensor:
        """The numbers of ``split_name`` (one of [`SPLITS`][nalm.bench.tasks.language.SPLITS]) for ``seed``, (N,) int64."""
        return torch.tensor(split(seed)[choice("split", split_name, SPLITS)])

    @staticmethod
    def sample(streams: SeedStreams, train: Sequence[torch.Tensor], rows: int) -> torch.Tensor:
        """The next ``rows`` training numbers of each seed, drawn with replacement from its training
        numbers ``train[i]`` (its [`numbers`][nalm.bench.tasks.language.LanguageTask.numbers] of "train")
        by its stream: (S, rows) int64."""
        positions = indices(streams, rows, 1, SPLIT_SIZES["train"])[..., 0]
        return torch.stack([numbers[positions[i]] for i, numbers in enumerate(train)])


READOUTS = ("recurrent", "final")
"""Where the arithmetic cell reads the LSTM ([`LanguageTask`][nalm.bench.tasks.language.LanguageTask])."""

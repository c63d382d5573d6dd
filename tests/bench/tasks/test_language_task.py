"""The language-to-number task's words, tokens and per-seed split."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nalm.bench.tasks.language import (
    MAX_TOKENS,
    NUMBERS,
    SPLIT_SIZES,
    TOKENS,
    LanguageTask,
    all_token_ids,
    split,
    token_ids,
    words,
)
from nalm.bench.tasks.streams import SeedStreams


@pytest.mark.parametrize(
    ("number", "said"),
    [
        (235, "two hundred and thirty five"),
        (100, "one hundred"),
        (119, "one hundred and nineteen"),
        (110, "one hundred and ten"),
        (101, "one hundred and one"),
        (20, "twenty"),
        (21, "twenty one"),
        (7, "seven"),
        (999, "nine hundred and ninety nine"),
        (540, "five hundred and forty"),
    ],
)
def test_numbers_in_words(number, said):
    assert " ".join(words(number)) == said


@pytest.mark.parametrize("bad", [0, 1000, -3, 2.0, True, "7"])
def test_only_the_numbers_1_to_999_have_words(bad):
    with pytest.raises(ValueError, match="number must be an integer from 1 to 999"):
        words(bad)


def test_tokens_are_29_words_and_padding_and_every_number_has_its_own():
    assert len(TOKENS) == 30 and TOKENS[0] == "<pad>" and len(set(TOKENS)) == 30
    assert {word for n in NUMBERS for word in words(n)} == set(TOKENS[1:])
    ids = all_token_ids()
    assert ids.shape == (1000, MAX_TOKENS)
    assert len({tuple(row) for row in ids[1:].tolist()}) == 999
    assert token_ids(235) == [TOKENS.index(w) for w in "two hundred and thirty five".split()]
    assert token_ids(100) == [TOKENS.index("one"), TOKENS.index("hundred"), 0, 0, 0]


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 3_000_000))
def test_a_seeds_split_is_disjoint_complete_and_trains_every_token(seed):
    parts = split(seed)
    assert {name: len(numbers) for name, numbers in parts.items()} == SPLIT_SIZES
    together = [n for numbers in parts.values() for n in numbers]
    assert sorted(together) == list(NUMBERS)
    assert set(range(1, 20)) <= set(parts["train"])
    assert {w for n in parts["train"] for w in words(n)} == set(TOKENS[1:])


def test_the_split_is_a_function_of_the_seed():
    assert split(3) == split.__wrapped__(3)
    assert split(3) != split(4)


def test_batches_draw_training_numbers_by_the_seeds_streams():
    train = [LanguageTask.numbers(seed, "train") for seed in (0, 1)]
    first = LanguageTask.sample(SeedStreams([0, 1], "train"), train, 64)
    again = LanguageTask.sample(SeedStreams([0, 1], "train"), train, 64)
    assert first.shape == (2, 64) and torch.equal(first, again)
    for i, seed in enumerate((0, 1)):
        assert set(first[i].tolist()) <= set(split(seed)["train"])
    streams = SeedStreams([0], "train")
    LanguageTask.sample(streams, train[:1], 64)
    assert not torch.equal(LanguageTask.sample(streams, train[:1], 64)[0], first[0])  # the stream moves on
    with pytest.raises(ValueError, match="unknown split 'training'"):
        LanguageTask.numbers(0, "training")


def test_seed_0s_split_is_fixed():
    """The split comes from seed 0's "subsets" stream: a change of the streams changes these numbers."""
    assert split(0)["train"][:28] == (*range(1, 21), 22, 28, 40, 47, 60, 62, 66, 70)
    assert split(0)["test"][:5] == (21, 23, 24, 26, 27)


def test_an_unknown_readout_is_refused():
    with pytest.raises(ValueError, match="readout must be one of recurrent, final"):
        LanguageTask("last")

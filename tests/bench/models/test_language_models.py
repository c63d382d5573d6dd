"""The language-task models: shapes, padding, the cell's exact solution, penalties and sparsity."""

from dataclasses import replace

import pytest
import torch

from nalm import functional
from nalm.bench.engine.config import TrainConfig
from nalm.bench.engine.language_problem import LanguageProblem
from nalm.bench.engine.loop import train_seeds
from nalm.bench.models.language import LANGUAGE_MODELS, LANGUAGE_SCHEDULE, NumberReader, build_language_model
from nalm.bench.tasks.language import TOKENS, LanguageTask, all_token_ids, words
from nalm.torch import UNITS

VALUES = {word: value for value, word in enumerate(TOKENS[2:21], start=1)} | {
    word: 10 * tens for tens, word in enumerate(TOKENS[21:29], start=2)
}


def test_every_unit_without_training_noise_and_both_baselines_are_models():
    seeded = {name for name in UNITS.names() if not UNITS.get(name).definition.stochastic}
    assert set(LANGUAGE_MODELS) == {*seeded, "linear", "lstm"} and "snmu" not in LANGUAGE_MODELS


@pytest.mark.parametrize("readout", ["recurrent", "final"])
@pytest.mark.parametrize("name", sorted(LANGUAGE_MODELS))
def test_a_model_reads_tokens_into_one_value_and_ignores_padding(name, readout):
    torch.manual_seed(0)
    model = build_language_model(name, LanguageTask(readout))
    tokens = all_token_ids()[[7, 21, 100, 235, 999]]
    value = model(tokens)
    # NRU (0 ** W at y_0 = 0 with W < 0) and MulMCFC (log of LSTM states below 0) are not finite here
    assert value.shape == (5,) and (name in ("nru", "mul_mcfc") or torch.isfinite(value).all())
    padded = torch.cat([tokens, torch.zeros(5, 3, dtype=torch.long)], dim=1)  # more padding after the words
    torch.testing.assert_close(model(padded), value, equal_nan=True)
    with torch.no_grad():
        model.embedding.weight[0].fill_(123.0)  # padding's embedding is never read
    torch.testing.assert_close(model(tokens), value, equal_nan=True)


def test_the_recurrent_nau_cell_at_its_exact_solution_adds_the_words_values():
    """y_t = y_{t-1} + z_t with W = (1, 1): fed each word's value, the cell's fold gives 1 .. 99."""
    model = NumberReader("nau", hidden_size=1)
    with torch.no_grad():
        model.cell.W.fill_(1.0)
    numbers = list(range(1, 100))
    z = torch.zeros(len(numbers), 5, 1)
    mask = torch.zeros(len(numbers), 5, dtype=torch.bool)
    for i, n in enumerate(numbers):
        for t, word in enumerate(words(n)):
            z[i, t, 0], mask[i, t] = VALUES[word], True
    y = functional.recur(model.cell, z, 1, 0.0, ops=torch, mask=mask)[:, 0]
    assert y.tolist() == [float(n) for n in numbers]


def test_bounded_cells_cannot_reach_large_numbers_at_the_reference_sizes():
    """An NAU cell reads LSTM states in (-1, 1) with weights in [-1, 1]: whatever its weights, its
    output grows by less than 2 per word (the reason the reference sizes bound what it can learn)."""
    torch.manual_seed(0)
    model = NumberReader("nau")
    with torch.no_grad():
        model.cell.W.fill_(1.0)
        model.lstm.bias_ih.fill_(20.0)  # saturate the gates: |h| near 1
    assert model(all_token_ids()[[999]]).abs().item() < 2 * 5


@pytest.mark.parametrize("readout", ["recurrent", "final"])
def test_an_nmu_cell_stays_within_1_whatever_its_weights(readout):
    """Factors W x + 1 - W of x in (-1, 1) and W in [0, 1] lie in (-1, 1], and y_0 = 0."""
    model = NumberReader("nmu", readout=readout)
    for seed in range(20):
        torch.manual_seed(seed)
        with torch.no_grad():
            model.cell.W.uniform_(0, 1)
            model.lstm.bias_ih.normal_(0, 10)
        assert model(all_token_ids()[1:]).abs().max().item() <= 1


def test_penalties_schedule_and_sparsity():
    model = build_language_model("nau", LanguageTask())
    assert model.cell.schedule == LANGUAGE_SCHEDULE
    assert model.regularization_loss(0).item() == 0.0 and model.regularization_loss(50_000).item() > 0
    assert 0 <= model.sparsity_error() <= 0.5
    for baseline in ("linear", "lstm"):
        model = build_language_model(baseline, LanguageTask())
        assert model.sparsity_error() is None and model.regularization_loss(10).item() == 0.0
    with torch.no_grad():
        model = build_language_model("nau", LanguageTask())
        model.cell.W.fill_(3.0)
    model.apply_constraints()
    assert model.cell.W.max().item() == 1.0


def test_definitions_name_the_cell_and_its_schedule():
    assert LANGUAGE_MODELS["nau"].describe("recurrent") == (
        "nau cell at every token, reading [y_{t-1}, h_t], sparsity 0.1 from step 0 to 100000 of "
        f"{functional.SPARSITY_PENALTY}"
    )
    assert LANGUAGE_MODELS["nalu"].describe("final") == "nalu cell on the final state, init glorot_w"
    assert LANGUAGE_MODELS["lstm"].describe("final") == "LSTM alone, a linear layer with a bias on its final state"


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="tokens of shape"):
        NumberReader("nau")(torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="cell"):
        NumberReader("gru")
    with pytest.raises(ValueError, match="embedding_size"):
        NumberReader("nau", embedding_size=0)


CONFIG = TrainConfig(steps=9, eval_every=3, batch_size=16, learning_rate=1e-2, eval_size=1)


def test_a_seed_trains_as_it_would_alone_and_a_resumed_run_as_the_uninterrupted_one(tmp_path, crash_before_saving):
    task = LanguageTask()
    build = lambda: build_language_model("nalu", task)
    together = train_seeds(build, task, CONFIG, [3, 8])
    assert together[1].evaluations == train_seeds(build, task, CONFIG, [8])[0].evaluations
    assert len(together[0].final.test_mse) == 13 and together[0].final.step == 9
    checkpoint = tmp_path / "run.pt"
    with crash_before_saving(6):
        train_seeds(build, task, CONFIG, [3, 8], checkpoint=checkpoint)
    resumed = train_seeds(build, task, CONFIG, [3, 8], checkpoint=checkpoint)
    assert [r.evaluations for r in resumed] == [r.evaluations for r in together]


def test_a_run_of_attempts_trains_each_from_its_own_start_on_the_later_data(monkeypatch):
    task = LanguageTask()
    build = lambda: build_language_model("nau", task)
    resumed_at, resume = [], LanguageProblem.resume
    monkeypatch.setattr(LanguageProblem, "resume", lambda self, *at: resumed_at.append(at) or resume(self, *at))
    both = train_seeds(build, task, replace(CONFIG, steps=12, attempts=2), [3, 8])
    assert resumed_at == [(6, CONFIG.batch_size)]  # the second attempt reads the numbers after the first's
    first = train_seeds(build, task, replace(CONFIG, steps=6), [3, 8])
    assert [[e.step for e in r.evaluations] for r in both] == [[3, 6, 9, 12]] * 2
    assert [r.evaluations[:2] for r in both] == [r.evaluations for r in first]
    continued = train_seeds(build, task, replace(CONFIG, steps=12), [3, 8])  # one model, no fresh start
    assert [r.evaluations[2:] for r in both] != [r.evaluations[2:] for r in continued]

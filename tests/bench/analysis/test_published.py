"""The published results as data, and our runs put beside them by the report."""

from dataclasses import replace

import pytest
import torch

from nalm.bench.analysis.published import (
    PUBLISHED,
    ZERO_CELL_STEPS,
    beta_fit,
    compare,
    matches,
    published_sparsity_estimate,
    published_table,
    steps_label,
)
from nalm.bench.analysis.report import published_section, published_table_text, write_published_table
from nalm.bench.models import MODELS
from nalm.bench.runs import PRESETS
from nalm.bench.tasks import OPERATIONS

MADSEN = PRESETS["madsen2020"]


def test_table_1_is_there_cell_by_cell():
    table_1 = {key: cell for key, cell in PUBLISHED.items() if cell.in_table_1}
    assert set(table_1) == {
        ("nac_mul", "mul"),
        ("nalu", "mul"),
        ("nmu", "mul"),
        *((model, op) for model in ("nac", "linear", "nalu", "nau") for op in ("add", "sub")),
    }
    nmu = PUBLISHED["nmu", "mul"]
    assert (nmu.success_rate, nmu.interval) == (0.98, (0.93, 0.99))
    assert (nmu.solved_at_median, nmu.solved_at_mean, nmu.sparsity_error) == (1.4e6, 1.5e6, 4.2e-7)
    nalu = PUBLISHED["nalu", "add"]
    assert (nalu.success_rate, nalu.interval, nalu.solved_at_median) == (0.14, (0.09, 0.22), 1.5e6)
    assert PUBLISHED["nalu", "mul"].solved_at_median is None  # no seed solved it


def test_every_published_cell_names_a_model_and_operation_of_ours():
    assert {model for model, _ in PUBLISHED} == set(MADSEN.models)
    assert {op for _, op in PUBLISHED} == set(OPERATIONS)
    assert len(PUBLISHED) == len(MADSEN.models) * len(OPERATIONS)
    for cell in PUBLISHED.values():
        low, high = cell.interval
        assert 0 <= low <= cell.success_rate <= high <= 1
        assert (cell.solved_at_median is None) == (cell.success_rate == 0) == (cell.sparsity_error is None)


def runs(model, op, successes, *, steps=200_000, seeds=100, sparsity=lambda seed: 1e-6, **settings):
    """Result rows as nalm bench writes them (the fields the comparison reads); ``sparsity(seed)``
    is each row's sparsity error."""
    benchmark = replace(MADSEN, steps=steps, **settings)
    return [
        {
            "model": model,
            "model_definition": MODELS[model].describe(),
            "operation": op,
            "interpolation_range": [1.0, 2.0],
            "extrapolation_range": [2.0, 6.0],
            "seed": seed,
            "settings": benchmark.settings(),
            "success": seed < successes,
            "solved_at": 1_000_000 + seed if seed < successes else None,
            "sparsity_error": sparsity(seed),
            "extrapolation_mse": 1.0,
            "diverged": False,
        }
        for seed in range(seeds)
    ]


@pytest.mark.parametrize(
    ("model", "op", "successes", "steps", "verdict"),
    [
        ("nau", "add", 100, 200_000, "agree (intervals overlap); 2e5 of 5e6 steps"),
        # agrees, but lower before twice the published solved-at median (2.8e6): a longer run could part them
        (
            "nmu",
            "mul",
            95,
            2_500_000,
            "agree (intervals overlap); lower, after fewer steps than needed; 2.5e6 of 5e6 steps",
        ),
        ("nmu", "mul", 95, 3_000_000, "agree (intervals overlap); 3e6 of 5e6 steps"),
        ("nmu", "mul", 100, 200_000, "agree (intervals overlap); 2e5 of 5e6 steps"),
        ("nmu", "mul", 0, 200_000, "lower, but our run is shorter: cannot refute; 2e5 of 5e6 steps"),
        ("nmu", "mul", 50, 5_000_000, "disagree (intervals apart)"),
        ("nalu", "mul", 50, 200_000, "disagree (intervals apart); 2e5 of 5e6 steps"),
        # NAC+ on +, solved at a median of 2.5e5 and a mean of 4.9e5: by step 1e6 at least 51 of the
        # published seeds had solved it, [41%, 61%]; 50 of ours reach that, 20 do not
        ("nac", "add", 50, 1_000_000, "lower, but our run is shorter: cannot refute; 1e6 of 5e6 steps"),
        ("nac", "add", 20, 1_000_000, "disagree (intervals apart); 1e6 of 5e6 steps"),
        ("nac", "add", 20, 200_000, "lower, but our run is shorter: cannot refute; 2e5 of 5e6 steps"),
    ],
)
def test_each_cell_says_whether_the_intervals_overlap_and_whether_our_run_was_shorter(
    model, op, successes, steps, verdict
):
    (comparison,) = compare(runs(model, op, successes, steps=steps))
    assert comparison.published is PUBLISHED[model, op]
    assert comparison.ours.successes == successes
    assert comparison.verdict() == verdict
    assert comparison.agrees == verdict.startswith("agree")
    assert comparison.lower == (successes / 100 < PUBLISHED[model, op].success_rate)


def test_the_budget_a_cell_needs_is_twice_its_median_and_at_least_its_mean_within_5e6():
    assert PUBLISHED["nac", "add"].needed_steps == 500_000  # 2 x 2.5e5 > 4.9e5
    assert PUBLISHED["nac", "sub"].needed_steps == 370_000  # the mean 3.7e5 > 2 x 9e3
    assert PUBLISHED["nac_mul", "sqrt"].needed_steps == 1_500_000  # the mean 1.5e6 > 2 x 4e5
    assert PUBLISHED["nac_mul", "mul"].needed_steps == 5_000_000  # 2 x 2.8e6, capped at the published 5e6
    assert PUBLISHED["nau", "div"].needed_steps == ZERO_CELL_STEPS  # no seed solved it


def test_the_published_seeds_certainly_solved_by_a_budget_follow_from_their_median_and_mean():
    nac_add = PUBLISHED["nac", "add"]  # 100 solved, median 2.5e5, mean 4.9e5
    assert nac_add.solved_by(200_000) == 0  # before the median, and the mean says nothing yet
    assert nac_add.solved_by(250_000) == 50  # half by the median
    assert nac_add.solved_by(980_000) == 50  # Markov: all but 4.9e5 / 9.8e5 = 1/2
    assert nac_add.solved_by(1_960_000) == 75  # all but 1/4
    assert nac_add.solved_by(5_000_000) == 100  # the published budget: all that solved it
    assert PUBLISHED["nac_mul", "sqrt"].solved_by(1_500_000) == 3  # half of 7, floored
    assert PUBLISHED["nau", "div"].solved_by(200_000) == 0


def test_a_cell_of_another_model_definition_says_so():
    kaiming = [{**row, "model_definition": "nalu -> nalu"} for row in runs("nalu", "add", 9, steps=2_000_000)]
    (comparison,) = compare(kaiming)
    assert comparison.verdict() == (
        "agree (intervals overlap); lower, after fewer steps than needed; 2e6 of 5e6 steps; "
        "not the published model: ran as nalu -> nalu"
    )
    (published,) = compare(runs("nalu", "add", 9, steps=2_000_000))
    assert published.other_definition is None


def test_only_runs_of_the_published_task_are_compared():
    assert matches(runs("nau", "add", 1, seeds=1)[0])
    assert not matches(runs("nau", "add", 1, seeds=1, input_size=10)[0])
    assert not matches(runs("nau", "add", 1, seeds=1, learning_rate=0.01)[0])
    assert not matches(runs("npu", "add", 1, seeds=1)[0])  # no published cell
    other_range = {**runs("nau", "add", 1, seeds=1)[0], "extrapolation_range": [2.0, 10.0]}
    assert not matches(other_range)
    assert compare(runs("nau", "add", 1, input_size=10)) == []
    assert published_section(runs("nau", "add", 1, input_size=10)) == ""


def test_the_report_section_puts_both_side_by_side():
    text = published_section(runs("nmu", "mul", 0) + runs("nau", "sub", 100))
    assert "Ours: 2e5 steps" in text
    assert "| nmu mul | 0/100 = 0% [0%, 4%] | 98% [93%, 99%] | lower, but our run is shorter" in text
    assert "| nau sub | 100/100 = 100% [96%, 100%] | 100% [96%, 100%] | agree" in text
    assert "| 2e5 / 2.8e6 | - / 1.4e6 |" in text  # nmu mul: steps, ours / needed (twice the median 1.4e6)
    assert "| 2e5 / 1.6e5 | 1e6 / 5e3 |" in text  # nau sub: needs its mean 1.6e5, more than twice its median


def test_the_whole_table_shows_each_cell_with_the_run_that_tests_it_best(tmp_path):
    short = runs("nmu", "mul", 40, steps=200_000) + runs("nau", "add", 100)
    long = runs("nmu", "mul", 90, steps=2_000_000)
    other = [{**row, "model_definition": "nau -> nmu, another"} for row in runs("nmu", "mul", 99, steps=5_000_000)]
    few = runs("nau", "add", 9, steps=400_000, seeds=10)
    cells = published_table({"short": short, "long": long, "other": other, "few": few})
    assert [(c.published.model, c.published.operation) for c in cells] == list(PUBLISHED)
    by_cell = {(c.published.model, c.published.operation): c for c in cells}
    assert by_cell["nmu", "mul"].source == "long"  # the published model, then the longest run
    assert by_cell["nmu", "mul"].comparison.ours.successes == 90
    assert by_cell["nau", "add"].source == "few"  # the longer run, though of fewer seeds
    assert by_cell["nalu", "mul"].comparison is None and by_cell["nalu", "mul"].source is None
    text = published_table_text(cells)
    assert "| mul | nmu | 90/100 = 90% [83%, 94%] | 98% [93%, 99%] |" in text and "| `long` |" in text
    assert "| mul | nalu | not run | 0% [0%, 4%] | - | - / 2e5 |" in text
    assert "| 2e6 / 2.8e6 |" in text  # nmu mul ran 2e6 steps; it needs twice its solved-at median 1.4e6
    path = write_published_table({"short": short}, tmp_path / "table")
    assert "2 of 48 cells have a run here, from 1 results files" in path.read_text()


def test_steps_labels():
    assert [steps_label(n) for n in (2_500_000, 5_000_000, 200_000, 6_000)] == ["2.5e6", "5e6", "2e5", "6e3"]


def _beta_log_likelihood(x, mu, v):
    """sum_i log Beta(x_i; 2 mu v, (1 - 2 mu) v), broadcast over mu and v."""
    a, b = (2 * mu * v)[..., None], ((1 - 2 * mu) * v)[..., None]
    log_beta = torch.lgamma(a) + torch.lgamma(b) - torch.lgamma(a + b)
    return ((a - 1) * x.log() + (b - 1) * torch.log1p(-x) - log_beta).sum(-1)


def _grid_maximum(errors):
    """The mu of the largest likelihood over a (mu, v) grid, steps 1e-3 in mu."""
    x = torch.tensor(errors, dtype=torch.float64).clamp(1e-16, 0.5 - 1e-16)
    mu_grid = torch.arange(0.005, 0.4995, 0.001, dtype=torch.float64)
    v_grid = torch.logspace(-2, 4, 1201, dtype=torch.float64)
    log_likelihood = _beta_log_likelihood(x, mu_grid[:, None], v_grid[None, :])
    return mu_grid[log_likelihood.max(dim=1).values.argmax()].item()


def test_the_beta_fit_recovers_the_distribution_it_samples():
    torch.manual_seed(0)
    beta = torch.distributions.Beta(torch.tensor(2.0, dtype=torch.float64), torch.tensor(12.0, dtype=torch.float64))
    x = beta.sample((20_000,))
    a, b = beta_fit(x)
    assert (a, b) == (pytest.approx(2.0, abs=0.1), pytest.approx(12.0, abs=0.6))  # about 3 standard errors
    assert beta_fit(torch.tensor([0.1, 0.1 + 1e-9], dtype=torch.float64)) is None  # no maximum to find


@pytest.mark.parametrize("errors", [[0.3, 0.42, 0.5, 0.47, 0.0, 0.39], [0.0, 0.5, 0.25], [0.2, 0.22, 0.35, 0.41]])
def test_the_published_sparsity_summary_is_the_maximum_of_the_beta_likelihood(errors):
    mu = published_sparsity_estimate(errors)
    assert mu == pytest.approx(_grid_maximum(errors), abs=1e-3)
    assert mu < sum(errors) / len(errors) / 2 + 0.01  # about half the plain mean or less


def test_the_published_sparsity_summary_falls_back_to_the_plain_mean_as_theirs():
    assert published_sparsity_estimate([]) is None
    assert published_sparsity_estimate([0.3]) == pytest.approx(0.3)
    assert published_sparsity_estimate([0.2, 0.2, 0.2]) == pytest.approx(0.2)  # no spread
    assert published_sparsity_estimate([0.1, 0.1 + 1e-9]) == pytest.approx(0.1)  # the fit finds no maximum
    tiny = [4e-7, 5e-7, 6e-7, 9e-7]  # below their optimizer's finite-difference step
    assert published_sparsity_estimate(tiny) == pytest.approx(sum(tiny) / 4)
    with pytest.raises(ValueError, match="finite"):
        published_sparsity_estimate([0.1, float("nan")])


def test_the_comparison_summarizes_our_sparsity_errors_as_the_published_ones():
    def sparsity(seed):
        return 0.05 + 0.004 * seed

    (comparison,) = compare(runs("nalu", "add", 20, steps=2_000_000, sparsity=sparsity))
    solved = [sparsity(seed) for seed in range(20)]
    assert comparison.sparsity_error == published_sparsity_estimate(solved)
    assert comparison.ours.sparsity_error == pytest.approx(sum(solved) / 20)  # the plain mean stays in ours
    text = published_section(runs("nalu", "add", 20, steps=2_000_000, sparsity=sparsity))
    assert f"| {comparison.sparsity_error:.2g} / 0.17 |" in text
    unmeasured = runs("nalu", "add", 20, steps=2_000_000, sparsity=lambda seed: None if seed < 10 else sparsity(seed))
    (partial,) = compare(unmeasured)
    assert partial.sparsity_error == published_sparsity_estimate(solved[10:])

"""The published rates pooled over range pairs (the division paper's averages, the MC-FC note's
rates per range pair) as data, and our pooled runs beside them."""

import pytest

from nalm.bench.analysis.published_averages import PUBLISHED_AVERAGES, averages_section, compare_averages
from nalm.bench.analysis.report import report_text
from nalm.bench.models import MODELS
from nalm.bench.runs import PRESETS

DIV10 = PRESETS["mistry2021-div10"]


def rows(model, successes_per_range, preset=DIV10, steps=None, definition=None, operation="div"):
    """Fake rows of ``model``: for range pair i, 25 seeds of which successes_per_range[i] succeed."""
    settings = {**preset.settings(), **({"steps": steps} if steps else {})}
    out = []
    for (interpolation, extrapolation), successes in zip(preset.ranges, successes_per_range):
        for seed in range(preset.seeds):
            out.append(
                {
                    "model": model,
                    "model_definition": definition or MODELS[model].at(preset.input_size).describe(),
                    "operation": operation,
                    "interpolation_range": interpolation,
                    "extrapolation_range": extrapolation,
                    "seed": seed,
                    "settings": settings,
                    "success": seed < successes,
                    "threshold": 1e-5,
                    "solved_at": 1_000 if seed < successes else None,
                    "extrapolation_mse": 1e-7 if seed < successes else 1.0,
                    "sparsity_error": 0.0,
                    "diverged": False,
                }
            )
    return out


def test_the_published_averages_are_the_abstracts_rates_as_counts_of_225():
    by_model = {p.model: p for p in PUBLISHED_AVERAGES if p.preset == "mistry2021-div10"}
    assert by_model["sign_nmru"].success_rate == pytest.approx(0.916, abs=5e-4)
    assert by_model["realnpu_mod"].success_rate == pytest.approx(0.853, abs=5e-4)
    assert by_model["realnpu_mod"].success_rate - by_model["realnpu_l1"].success_rate == pytest.approx(0.151, abs=1e-3)
    assert len(by_model) == 3
    assert all(p.runs == len(DIV10.ranges) * DIV10.seeds and p.operation == "div" for p in by_model.values())


def test_pooled_runs_agree_or_disagree_with_the_published_average():
    close = compare_averages(rows("sign_nmru", [23] * 9))  # 207/225 = 92%
    assert [(c.successes, c.runs, c.ranges) for c in close] == [(207, 225, 9)]
    assert close[0].verdict() == "agree (intervals overlap)"
    far = compare_averages(rows("sign_nmru", [10] * 9))
    assert far[0].verdict() == "disagree (intervals apart)"
    short = compare_averages(rows("sign_nmru", [10] * 9, steps=20_000))
    assert short[0].verdict() == "lower, but our run is shorter: cannot refute; 2e4 of 1e5 steps"


def test_a_partial_or_redefined_run_says_so():
    partial = compare_averages(rows("realnpu_mod", [25, 25, 25]))
    assert partial[0].verdict().endswith("only 3 of 9 range pairs ran")
    other = compare_averages(rows("realnpu_mod", [21] * 9, definition="realnpu -> realnpu"))
    assert "not the published model: ran as realnpu -> realnpu" in other[0].verdict()


def test_runs_of_another_protocol_or_model_are_not_compared():
    assert compare_averages(rows("sign_nmru", [25] * 9, preset=PRESETS["mistry2021-div2"])) == []
    assert compare_averages(rows("nru", [25] * 9)) == []  # no published average for the NRU
    assert averages_section(rows("nru", [25] * 9)) == ""


def test_the_report_puts_the_averages_beside_ours():
    text = report_text(rows("sign_nmru", [23] * 9) + rows("realnpu_l1", [20] * 9))
    assert "## Beside the published rates over range pairs" in text
    assert (
        "| sign_nmru div | all 9 range pairs | 207/225 = 92.0% [88%, 95%] | 206/225 = 91.6% [87%, 95%] | agree" in text
    )
    assert "| realnpu_l1 div | all 9 range pairs | 180/225 = 80.0%" in text
    assert "70.2% [64%, 76%] (85.3% - 15.1 points)" in text


PRIMER = PRESETS["primer2021"]


def test_the_mcfc_notes_rates_are_one_per_range_pair():
    note = [p for p in PUBLISHED_AVERAGES if p.preset == "primer2021"]
    assert {(p.model, p.operation) for p in note} == {
        ("mcfc", "add"),
        ("mul_mcfc", "mul"),
        ("mul_mcfc_inalu", "mul"),
        ("mul_mcfc_npu", "mul"),
        ("nmu_single", "mul"),
    }
    assert all(len(p.range_pairs) == 1 and p.runs == 25 for p in note)
    negative = [p for p in note if p.model == "mul_mcfc" and p.range_pairs[0][0][0] < 0]
    assert len(negative) == 5 and all(p.successes == 0 for p in negative)
    nmu = {p.range_pairs[0][0]: p.successes for p in note if p.model == "nmu_single"}
    assert (nmu[(-2.0, -1.0)], nmu[(-1.2, -1.1)], sum(nmu.values())) == (20, 17, 212)


def test_our_runs_are_compared_range_pair_by_range_pair():
    ours = rows("nmu_single", [25, 25, 10, 25, 25, 25, 25, 25, 25], preset=PRIMER, operation="mul")
    comparisons = compare_averages(ours)
    assert len(comparisons) == 9 and all(c.runs == 25 and c.ranges == 1 for c in comparisons)
    verdicts = {c.published.range_pairs[0][0]: c.verdict() for c in comparisons}
    assert verdicts[(-1.2, -1.1)] == "agree (intervals overlap)"  # 10/25 beside 17/25
    assert verdicts[(-2.0, -1.0)] == "agree (intervals overlap)"  # 25/25 beside 20/25
    assert compare_averages(rows("nmu_single", [25] * 9, preset=PRIMER, operation="add")) == []
    table = averages_section(ours)
    assert "| nmu_single mul | U[-1.2,-1.1] | 10/25 = 40.0% [23%, 59%] | 17/25 = 68.0% [48%, 83%] | agree" in table

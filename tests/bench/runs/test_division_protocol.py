"""The division paper's single-unit protocol: its models' own settings by input size, the constant
threshold, the model at step 0 in the selection, and the presets that hold them."""

import warnings
from dataclasses import replace

import pytest

from nalm.bench.engine import Evaluation, TrainResult
from nalm.bench.models import MODELS
from nalm.bench.runs import PRESETS, read_results, run_benchmark
from nalm.bench.runs.presets import SINGLE_RANGES
from nalm.bench.runs.results_file import ResultsFile

DIVISION = ("nru", "nmru", "sign_nmru", "realnpu_mod", "realnpu_l1", "nmu_single")


@pytest.mark.parametrize(("name", "size", "steps"), [("mistry2021-div2", 2, 50_000), ("mistry2021-div10", 10, 100_000)])
def test_the_division_presets_hold_the_papers_task(name, size, steps):
    benchmark = PRESETS[name]
    assert benchmark.models == DIVISION and benchmark.operations == ("div",)
    assert (benchmark.seeds, benchmark.steps, benchmark.eval_every, benchmark.batch_size) == (25, steps, 1_000, 128)
    assert benchmark.ranges == SINGLE_RANGES and benchmark.hidden_size == 0
    assert benchmark.threshold == 1e-5 and benchmark.select_initial
    task = benchmark.task(benchmark.configurations()[0])
    assert task.input_size == size and task.subset_size == 1 and task.overlap_size == 0
    offsets = {task.subsets(seed)[0].start for seed in range(200)}
    assert offsets == set(range(size - 1))  # a = x_k, b = x_(k+1), k drawn per seed
    assert all(task.subsets(seed)[1].start == task.subsets(seed)[0].start + 1 for seed in range(20))


@pytest.mark.parametrize(
    ("model", "size", "learning_rate", "clip", "ramp"),
    [
        ("nru", 2, 1.0, None, (20_000, 35_000)),
        ("nru", 10, 1e-3, None, (50_000, 75_000)),
        ("sign_nmru", 2, 1e-2, 1.0, (20_000, 35_000)),
        ("sign_nmru", 10, 1e-2, 1.0, (50_000, 75_000)),
        ("realnpu_mod", 2, 5e-3, None, (40_000, 50_000)),
        ("realnpu_mod", 10, 5e-3, None, (50_000, 75_000)),
        ("nmu_single", 2, 1e-3, None, (20_000, 35_000)),
    ],
)
def test_each_model_trains_with_its_papers_settings_at_each_input_size(model, size, learning_rate, clip, ramp):
    benchmark = PRESETS[f"mistry2021-div{size}"]
    configuration = next(c for c in benchmark.configurations() if c.model == model)
    config = benchmark.train_config(configuration)
    assert (config.learning_rate, config.gradient_clip) == (learning_rate, clip)
    schedule = MODELS[model].at(size).schedule
    assert (schedule.lambda_start, schedule.lambda_end) == ramp
    definition = benchmark.model_definition(model, "div")
    assert f"from step {ramp[0]} to {ramp[1]}" in definition
    assert ("gradient norm clipped to 1" in definition) == (clip is not None)
    network = benchmark.builder(configuration, "cpu")()
    assert network[0].schedule.lambda_start == ramp[0]  # the unit trains on the model's ramp


def test_the_real_npu_models_differ_as_the_paper_says():
    base, modified = MODELS["realnpu_l1"].at(2), MODELS["realnpu_mod"].at(2)
    assert base.schedule is None and dict(base.unit_options)["l1_growth"] == 10_000
    options = dict(modified.unit_options)
    assert options["weight_init"] == "nau_uniform" and options["weight_range"] == (-1.0, 1.0)
    assert "|1 - |W|| + min(|g|, |1 - g|)" in modified.describe()


def test_the_division_models_train_on_the_engine_that_covers_them():
    benchmark = PRESETS["mistry2021-div2"]
    configurations = {c.model: c for c in benchmark.configurations()}
    for model in ("sign_nmru", "nmru", "nmu_single"):  # the NMRUs with their gradient clipping
        assert benchmark.engine_of(configurations[model], "auto") == "compiled"
    assert benchmark.engine_of(configurations["nru"], "auto") == "torch"
    with pytest.raises(ValueError, match="does not cover"):
        benchmark.engine_of(configurations["realnpu_mod"], "compiled")


def test_only_set_protocol_values_enter_the_settings():
    assert "threshold" not in PRESETS["madsen2020"].settings()
    assert "select_initial" not in PRESETS["primer2021"].settings()
    settings = PRESETS["mistry2021-div2"].settings()
    assert settings["threshold"] == 1e-5 and settings["select_initial"] is True


@pytest.mark.parametrize(
    ("change", "message"), [({"threshold": 0.0}, "threshold"), ({"select_initial": 1}, "select_initial")]
)
def test_bad_protocol_values_are_clear_errors(change, message):
    with pytest.raises(ValueError, match=message):
        replace(PRESETS["mistry2021-div2"], **change)


def _result(*evaluations):
    return TrainResult([Evaluation(step, i, e, 0.1) for step, i, e in evaluations])


def test_the_model_at_step_0_competes_in_the_selection():
    benchmark = PRESETS["mistry2021-div2"]
    configuration = benchmark.configurations()[0]
    later = _result((1_000, 0.5, 2e-6), (2_000, 0.3, 1e-3))
    row = benchmark._row(
        configuration, 0, later, 1e-5, Evaluation(0, 0.2, 4.0, 0.25)
    )  # the start fits best: it is selected
    assert (row["selected_step"], row["success"], row["extrapolation_mse"], row["solved_at"]) == (0, False, 4.0, None)
    assert row["sparsity_error"] == 0.25
    row = benchmark._row(configuration, 0, later, 1e-5, Evaluation(0, 0.9, 4.0, 0.25))
    assert (row["selected_step"], row["success"], row["solved_at"]) == (2_000, False, None)
    solved = _result((1_000, 0.5, 2e-6), (2_000, 0.1, 3e-6))
    row = benchmark._row(configuration, 0, solved, 1e-5, Evaluation(0, 0.9, 4.0, 0.25))
    assert (row["selected_step"], row["success"], row["solved_at"], row["threshold"]) == (2_000, True, 1_000, 1e-5)
    plain = replace(benchmark, select_initial=False)
    assert plain._row(configuration, 0, later, 1e-5, Evaluation(0, 0.2, 4.0, 0.25))["selected_step"] == 2_000


def test_a_short_division_run_writes_rows_with_the_constant_threshold_and_the_models_settings(tmp_path):
    benchmark = replace(
        PRESETS["mistry2021-div2"], models=("sign_nmru", "nmu_single"), seeds=2, steps=40, eval_every=20, eval_size=50
    )
    benchmark = replace(benchmark, ranges=benchmark.ranges[6:7])
    results = ResultsFile(tmp_path / "div.jsonl", benchmark)
    rows = run_benchmark(results, workers=1)
    assert len(rows) == 4 and rows == read_results(tmp_path / "div.jsonl")
    for row in rows:
        assert row["threshold"] == 1e-5 and row["settings"]["threshold"] == 1e-5
        assert row["model_definition"] == MODELS[row["model"]].at(2).describe()
        assert row["ran_with"]["engine"] == "compiled"


def test_the_command_line_sets_the_threshold_and_the_selection():
    from nalm.cli import benchmark_from_args, build_parser

    parse = build_parser().parse_args
    args = parse(["bench", "--preset", "mistry2021-div2", "--threshold", "1e-4", "--no-select-initial"])
    benchmark = benchmark_from_args(args)
    assert (benchmark.threshold, benchmark.select_initial) == (1e-4, False)
    assert benchmark_from_args(parse(["bench", "--preset", "madsen2020", "--select-initial"])).select_initial
    assert benchmark_from_args(parse(["bench", "--preset", "madsen2020"])).threshold is None


def test_the_division_model_of_nalm_trains_the_sign_nmru_in_attempts_at_ten_inputs():
    model = MODELS["sign_nmru_attempts"]
    at_ten, sign_nmru = model.at(10), MODELS["sign_nmru"].at(10)
    assert (at_ten.first, at_ten.second, at_ten.learning_rate, at_ten.gradient_clip) == (
        sign_nmru.first,
        sign_nmru.second,
        sign_nmru.learning_rate,
        sign_nmru.gradient_clip,
    )
    assert at_ten.attempts == 5 and at_ten.schedule.lambda_sparse == 10.0
    assert at_ten.schedule.lambda_end <= PRESETS["mistry2021-div10"].steps // 5  # the ramp fits in an attempt
    assert "5 attempts of steps / 5, each from a fresh start" in at_ten.describe()
    at_two, sign_nmru_at_two = (replace(m.at(2), by_input_size=()) for m in (model, MODELS["sign_nmru"]))
    assert at_two == sign_nmru_at_two  # the sign NMRU's own settings at two inputs
    for size, attempts in ((10, 5), (2, 1)):
        benchmark = replace(PRESETS[f"mistry2021-div{size}"], models=("sign_nmru_attempts",))
        assert benchmark.train_config(benchmark.configurations()[0]).attempts == attempts


@pytest.mark.filterwarnings("ignore:model 'sign_nmru_attempts'")
def test_a_sweep_of_attempts_keeps_no_checkpoint_of_a_configuration_it_saved(tmp_path, monkeypatch):
    from nalm.bench.engine import loop

    benchmark = replace(
        PRESETS["mistry2021-div10"], models=("sign_nmru_attempts",), seeds=2, steps=50, eval_every=5, eval_size=50
    )
    benchmark = replace(benchmark, ranges=benchmark.ranges[6:8])
    path = tmp_path / "div.jsonl"
    save, first_range = loop.save_state, list(benchmark.ranges[0][0])

    def crash_in_the_second_configuration(where, run, *args):
        if run["task"]["interpolation_range"] != first_range:
            raise KeyboardInterrupt
        save(where, run, *args)

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(loop, "save_state", crash_in_the_second_configuration)
        run_benchmark(ResultsFile(path, benchmark), workers=1)
    assert len(read_results(path)) == 2  # the first configuration, saved
    folder = tmp_path / "div.jsonl.checkpoints"
    assert [p.name for p in folder.iterdir() if not p.name.endswith(".partial")] == []  # its 5 attempts' removed
    rows = run_benchmark(ResultsFile(path, benchmark), workers=1)
    assert len(rows) == 4 and all("5 attempts" in row["model_definition"] for row in rows)
    assert not folder.exists()


def test_a_benchmark_refuses_a_models_attempts_longer_than_its_steps_before_any_training():
    with pytest.raises(ValueError, match=r"model 'sign_nmru_attempts': attempts must be at most steps \(4\)"):
        replace(PRESETS["mistry2021-div10"], models=("sign_nmru_attempts",), steps=4)


def test_a_benchmark_warns_where_a_models_ramp_outlasts_each_of_its_attempts():
    with pytest.warns(
        UserWarning, match=r"ends at step 20,000 of each attempt, after the 10,000 steps of each of its 5"
    ):
        replace(PRESETS["mistry2021-div10"], models=("sign_nmru_attempts",), steps=50_000)
    roots = replace(PRESETS["madsen2020"], models=("nau_nac_mul",), operations=("sqrt",), hidden_size=1)
    with pytest.warns(UserWarning, match=r"the penalty starts in none of them \(lambda 0.01\)"):
        replace(roots, steps=100_000)  # attempts of 5,000 steps, the ramp from step 5,000
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        replace(PRESETS["mistry2021-div10"], models=("sign_nmru_attempts",), steps=100_000)  # 20,000 each: fits
        replace(PRESETS["madsen2020"], models=("nmu",), steps=200_000)  # one attempt: a short run is the user's
        replace(roots, steps=1_000_000)
        with pytest.warns(UserWarning, match="meant for 1 hidden unit"):  # NAC* alone: no penalty to warn of
            replace(roots, steps=100_000, hidden_size=0)


def test_a_benchmark_warns_where_a_model_runs_at_another_hidden_size_than_its_own():
    with pytest.warns(
        UserWarning, match=r"'nau_nac_mul' is meant for 1 hidden unit \(--hidden-size 1\); this benchmark has 2"
    ):
        replace(PRESETS["madsen2020"], models=("nau_nac_mul",), operations=("sqrt",), steps=1_000_000)

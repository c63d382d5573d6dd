"""The benchmark pipeline: grid -> results (resumable) -> aggregates -> report, and its commands."""

import io
import json
import math
import re
import sys
from dataclasses import replace

import pytest
import torch

from nalm.bench.analysis import summarize, wilson_interval
from nalm.bench.engine import loop as loop_module
from nalm.bench.models import MODELS, build_published_model
from nalm.bench.runs import (
    PRESETS,
    Benchmark,
    Configuration,
    ResultsFile,
    configuration_of,
    preset,
    read_results,
    run_benchmark,
)
from nalm.bench.runs import ray_executor as ray_module
from nalm.bench.runs import rows as rows_module
from nalm.bench.runs import runner as runner_module
from nalm.bench.runs import static_grid as static_grid_module
from nalm.cli import main

TINY = Benchmark(
    models=("nau", "linear"),
    operations=("add", "mul"),
    seeds=2,
    steps=30,
    eval_every=10,
    eval_size=64,
    input_size=10,
    threshold_samples=1_000,
)


def test_a_results_file_of_other_model_definitions_is_refused(tiny_results, tmp_path):
    path, rows = tiny_results
    assert rows[0]["model_definition"] == MODELS[rows[0]["model"]].describe()
    older = tmp_path / "older.jsonl"
    older.write_text(json.dumps({**rows[0], "model_definition": "nau -> nau"}) + "\n")
    with pytest.raises(ValueError, match="model 'nau' as defined when they ran \\(nau -> nau\\)"):
        ResultsFile(older, TINY)
    older.write_text(json.dumps({key: value for key, value in rows[0].items() if key != "model_definition"}) + "\n")
    with pytest.raises(ValueError, match="not recorded"):
        ResultsFile(older, TINY)


def test_a_benchmark_expands_to_model_x_operation_x_ranges():
    configurations = TINY.configurations()
    assert [(c.model, c.operation) for c in configurations] == [
        ("nau", "add"),
        ("nau", "mul"),
        ("linear", "add"),
        ("linear", "mul"),
    ]
    assert TINY.seed_list() == (0, 1)
    assert TINY.task(configurations[1]).operation == "mul"
    assert TINY.train_config().steps == 30


def test_a_benchmark_narrows_to_an_interpolation_range_or_names_the_ones_it_has():
    grid = PRESETS["primer2021"]
    narrowed = grid.on_interpolation_range(-2, 2)
    assert narrowed.ranges == tuple(pair for pair in grid.ranges if pair[0] == (-2.0, 2.0)) != ()
    assert {c.interpolation_range for c in narrowed.configurations()} == {(-2.0, 2.0)}
    with pytest.raises(ValueError, match=r"no range pair starts with U\[5,7\]; the interpolation ranges: .*U\[-2,2\]"):
        grid.on_interpolation_range(5, 7)


def test_presets_hold_the_published_settings():
    madsen = preset("madsen2020")
    assert (madsen.steps, madsen.seeds, madsen.eval_every) == (5_000_000, 100, 1_000)
    assert madsen.models == ("linear", "relu", "relu6", "nac", "nac_mul", "nalu", "nau", "nmu")
    primer = preset("primer2021")
    assert (primer.input_size, primer.hidden_size, primer.seeds, primer.steps) == (2, 0, 25, 50_000)
    assert primer.operations == ("add", "sub", "mul", "div")
    assert len(primer.configurations()) == len(primer.models) * 4 * len(primer.ranges)
    single = primer.task(primer.configurations()[0])
    assert single.subsets(0) == (slice(0, 1), slice(1, 2))  # a = x0, b = x1
    assert set(PRESETS) == {
        "quick",
        "madsen2020",
        "primer2021",
        "trask2018-recurrent",
        "mistry2021-div2",
        "mistry2021-div10",
        "mistry2022-snmu",
    }
    recurrent = preset("trask2018-recurrent")
    assert (recurrent.time_steps, recurrent.hidden_size, recurrent.input_size) == (10, 2, 100)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"models": ("lstm",)}, "unknown model 'lstm'"),
        ({"operations": ("pow",)}, "unknown operation 'pow'"),
        ({"models": ()}, "models must name at least one"),
        ({"seeds": 0}, "seeds must be a positive integer"),
        ({"ranges": (((2.0, 1.0), (2.0, 6.0)),)}, "interpolation_range must have low < high"),
        ({"steps": 0}, "steps must be a positive integer"),
    ],
)
def test_a_bad_benchmark_is_a_clear_error(change, message):
    with pytest.raises(ValueError, match=message):
        replace(TINY, **change)


def test_an_unknown_preset_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown preset 'paper'; choose from 'quick', 'madsen2020'"):
        preset("paper")


@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "tiny.jsonl"
    rows = run_benchmark(ResultsFile(path, TINY), workers=1)
    return path, rows


def test_each_run_is_one_line_with_its_measures(tiny_results):
    path, rows = tiny_results
    assert read_results(path) == rows
    assert len(rows) == len(TINY.configurations()) * TINY.seeds
    row = rows[0]
    assert (row["model"], row["operation"], row["seed"]) == ("nau", "add", 0)
    assert row["settings"] == TINY.settings()
    selected = row["selected_step"]
    assert row["success"] == (row["extrapolation_mse"] < row["threshold"])
    assert selected in (10, 20, 30) and row["final_step"] == 30
    assert row["normalized_extrapolation_error"] == pytest.approx(
        100 * row["final_extrapolation_mse"] / row["initial_extrapolation_mse"]
    )
    assert 0 <= row["sparsity_error"] <= 1


def test_a_rerun_trains_nothing_and_leaves_the_file_as_it_was(tiny_results, monkeypatch):
    path, rows = tiny_results
    before = path.read_bytes()
    monkeypatch.setattr(runner_module, "run_configuration", lambda *args: pytest.fail("retrained"))
    assert run_benchmark(ResultsFile(path, TINY), workers=2) == rows
    assert path.read_bytes() == before


def test_a_killed_sweep_resumes_where_it_stopped(tiny_results, tmp_path):
    path, rows = tiny_results
    partial = tmp_path / "partial.jsonl"
    first = rows[: TINY.seeds]  # the first configuration finished, then a kill cut the next line
    partial.write_text("".join(json.dumps(row) + "\n" for row in first) + json.dumps(rows[2])[:40])
    trained = []
    resumed = run_benchmark(ResultsFile(partial, TINY), workers=1, on_done=lambda c, r: trained.append(c))
    assert trained == TINY.configurations()[1:]
    assert resumed == rows  # the same numbers as the uninterrupted sweep
    assert read_results(partial) == rows


def test_a_sweep_killed_mid_configuration_resumes_from_its_checkpoint(tiny_results, tmp_path, monkeypatch):
    path, rows = tiny_results
    partial = tmp_path / "partial.jsonl"
    evaluations = []
    real_save = loop_module.save_state

    def save_then_crash(*args):
        real_save(*args)
        evaluations.append(args[2])
        if len(evaluations) == 2:  # the first configuration's second evaluation: step 20
            raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(loop_module, "save_state", save_then_crash)
        with pytest.raises(KeyboardInterrupt):
            run_benchmark(ResultsFile(partial, TINY), workers=1)
    folder = tmp_path / "partial.jsonl.checkpoints"
    (checkpoint,) = folder.iterdir()
    header, _, payload = checkpoint.read_bytes().partition(b"\n")
    assert header.startswith(b"nalm-checkpoint-1 ") and torch.load(io.BytesIO(payload))["step"] == 20
    resumed = []
    assert run_benchmark(ResultsFile(partial, TINY), workers=1, on_resume=lambda c, s: resumed.append((c, s))) == rows
    assert resumed == [(TINY.configurations()[0], 20)]  # told before it trains
    assert not folder.exists()  # removed when the sweep is done


def test_a_sweep_keeps_the_checkpoint_of_another_grid_on_the_same_file(tiny_results, tmp_path, monkeypatch):
    """One file, two commands (one model each, as benchmarks/published_table.sh runs them): the
    one that ends does not delete the other's checkpoint, which resumes from where it was."""
    path, rows = tiny_results
    shared = tmp_path / "shared.jsonl"
    nau, linear = replace(TINY, models=("nau",)), replace(TINY, models=("linear",))
    with monkeypatch.context() as patch:  # the linear grid stops at its first checkpoint
        real_save = loop_module.save_state

        def save_then_stop(*args):
            real_save(*args)
            raise KeyboardInterrupt

        patch.setattr(loop_module, "save_state", save_then_stop)
        with pytest.raises(KeyboardInterrupt):
            run_benchmark(ResultsFile(shared, linear), workers=1)
    folder = tmp_path / "shared.jsonl.checkpoints"
    (kept,) = folder.iterdir()
    (folder / "nau-add-0000000000000000.pt.x.partial").write_bytes(b"")  # another grid's, cut off
    before = kept.read_bytes()
    stale = ResultsFile(shared, nau).checkpoint(nau.configurations()[0], nau.seed_list())
    stale.with_name(stale.name + ".1234.partial").write_bytes(b"")  # this grid's, cut off: removed
    run_benchmark(ResultsFile(shared, nau), workers=1)
    assert sorted(p.name for p in folder.iterdir()) == sorted([kept.name, "nau-add-0000000000000000.pt.x.partial"])
    assert kept.read_bytes() == before
    resumed_at = []
    real_restore = loop_module.restore_state

    def restore(*args):
        resumed_at.append(real_restore(*args))
        return resumed_at[-1]

    monkeypatch.setattr(loop_module, "restore_state", restore)
    run_benchmark(ResultsFile(shared, linear), workers=1)
    assert resumed_at[0] == 10  # its first evaluation's checkpoint, kept
    assert sorted(map(json.dumps, read_results(shared))) == sorted(map(json.dumps, rows))
    (folder / "nau-add-0000000000000000.pt.x.partial").unlink()
    run_benchmark(ResultsFile(shared, TINY), workers=1)  # nothing left to train: an empty folder goes
    assert not folder.exists()


def test_a_grid_removes_its_checkpoints_in_every_form_and_no_other_grid_s(tmp_path):
    nau, linear = replace(TINY, models=("nau",)), replace(TINY, models=("linear",))
    results = ResultsFile(tmp_path / "shared.jsonl", nau)
    folder = tmp_path / "shared.jsonl.checkpoints"
    folder.mkdir()

    def names(benchmark):
        stems = [
            ResultsFile(results.path, benchmark).checkpoint(c, benchmark.seed_list()).stem
            for c in benchmark.configurations()
        ]
        forms = (".pt", "-0.pt", "-1.attempt-2.pt", ".attempt-1.pt", ".pt.k3j9.partial", "-3.pt.x1.partial")
        return {stem + form for stem in stems for form in forms}

    for name in names(nau) | names(linear):
        (folder / name).write_bytes(b"")
    results.remove_checkpoints()
    assert {p.name for p in folder.iterdir()} == names(linear)
    ResultsFile(results.path, linear).remove_checkpoints()
    assert not folder.exists()


def test_more_seeds_train_the_whole_stack_and_append_only_the_new_ones(tiny_results, tmp_path):
    path, rows = tiny_results
    grown = tmp_path / "grown.jsonl"
    grown.write_bytes(path.read_bytes())
    more = replace(TINY, models=("nau",), operations=("add",), seeds=3)
    assert ResultsFile(grown, more).pending() == [(more.configurations()[0], (0, 1, 2))]
    fresh = run_benchmark(ResultsFile(tmp_path / "fresh.jsonl", more), workers=1)
    run_benchmark(ResultsFile(grown, more), workers=1)
    added = read_results(grown)[len(rows) :]
    assert added == [row for row in fresh if row["seed"] == 2]  # as a sweep of 3 seeds from the start


def test_other_seeds_from_first_seed_join_the_file_and_train_as_in_a_sweep_from_0(tiny_results, tmp_path):
    path, rows = tiny_results  # seeds 0 and 1
    nau = replace(TINY, models=("nau",), operations=("add",))
    later = replace(nau, first_seed=1, seeds=2)
    assert later.seed_list() == (1, 2) and "first_seed" not in later.settings()
    grown = tmp_path / "grown.jsonl"
    grown.write_bytes(path.read_bytes())
    assert ResultsFile(grown, later).pending() == [(later.configurations()[0], (1, 2))]
    added = run_benchmark(ResultsFile(grown, later), workers=1)
    assert [row["seed"] for row in added] == [1, 2]
    kept = [row for row in rows if row["model"] == "nau" and row["operation"] == "add"]
    assert added[0] == kept[1]  # seed 1 was in the file: its row is kept, not trained again
    sweep = run_benchmark(ResultsFile(tmp_path / "sweep.jsonl", replace(nau, seeds=3)), workers=1)
    assert added[1] == sweep[2]  # nau trains on the kernels: a seed's row does not depend on its stack


@pytest.mark.parametrize(("first_seed", "message"), [(-1, "non-negative"), (1.5, "non-negative"), (2**64, "at most")])
def test_a_bad_first_seed_is_refused(first_seed, message):
    with pytest.raises(ValueError, match=f"first_seed must be .*{message}"):
        replace(TINY, first_seed=first_seed)


@pytest.mark.parametrize("cut_after", [1, 3])
def test_a_configuration_cut_off_mid_write_is_retrained_as_its_whole_stack(tmp_path, cut_after):
    """A PyTorch-loop model (NPU), whose float32 rounding depends on the stack: the rerun's rows are
    bit for bit those of the uninterrupted sweep."""
    npu = replace(TINY, models=("npu",), operations=("mul",), seeds=4)
    whole = tmp_path / "whole.jsonl"
    uninterrupted = run_benchmark(ResultsFile(whole, npu), workers=1)
    lines = whole.read_bytes().split(b"\n")
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(b"\n".join(lines[:cut_after]) + b"\n" + lines[cut_after][:10])  # a kill mid-write
    assert run_benchmark(ResultsFile(cut, npu), workers=1) == uninterrupted
    assert cut.read_bytes() == whole.read_bytes()


def test_a_results_file_of_other_settings_is_refused(tiny_results):
    path, _ = tiny_results
    with pytest.raises(ValueError, match="written by another benchmark \\(steps 30 there, 40 here\\)"):
        ResultsFile(path, replace(TINY, steps=40))


def test_a_results_file_of_other_data_streams_is_refused(tiny_results, tmp_path):
    path, rows = tiny_results
    older = tmp_path / "older.jsonl"
    settings = {key: value for key, value in rows[0]["settings"].items() if key != "data"}
    older.write_text(json.dumps({**rows[0], "settings": settings}) + "\n")
    with pytest.raises(ValueError, match="data None there, 'splitmix64-v1' here"):
        ResultsFile(older, TINY)


def test_summaries_count_successes_per_configuration(tiny_results):
    _, rows = tiny_results
    summaries = summarize(rows)
    assert [s.configuration for s in summaries] == TINY.configurations()
    for summary in summaries:
        assert summary.runs == 2
        assert summary.interval == wilson_interval(summary.successes, 2)


def test_the_median_extrapolation_error_counts_nan_as_unbounded(tiny_results):
    _, rows = tiny_results
    one = [row for row in rows if configuration_of(row) == configuration_of(rows[0])]
    errors = [(1.0, math.nan), (math.nan, math.nan)]  # NaN above every finite error, not dropped
    medians = [
        summarize([{**one[0], "extrapolation_mse": a}, {**one[1], "extrapolation_mse": b}])[0].extrapolation_mse_median
        for a, b in errors
    ]
    assert medians == [math.inf, math.inf]
    three = [{**one[0], "extrapolation_mse": e} for e in (math.nan, 2.0, 1.0)]
    assert summarize(three)[0].extrapolation_mse_median == 2.0


def test_bench_and_report_commands_end_to_end(tmp_path, capsys):
    results = tmp_path / "runs.jsonl"
    args = [
        "bench",
        "--models",
        "nau",
        "nmu",
        "--ops",
        "add",
        "--seeds",
        "2",
        "--steps",
        "20",
        "--eval-every",
        "10",
        "--eval-size",
        "64",
        "--input-size",
        "10",
        "--threshold-samples",
        "1000",
        "--range",
        "1,2:2,6",
        "--results",
        str(results),
        "--workers",
        "2",
        "--no-progress",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "success rate" in out and "nmu" in out
    assert re.search(r"[012]/2 = \d+%", out)
    assert len(read_results(results)) == 4
    assert main(["report", str(results), "--out", str(tmp_path / "report")]) == 0
    written = {p.name for p in (tmp_path / "report").iterdir()}
    assert written == {"report.md", "success_rate.png", "extrapolation_error.png"}
    table = (tmp_path / "report" / "report.md").read_text()
    assert "| nau add |" in table and "| nmu add |" in table
    assert "- nmu: nau -> nmu, sparsity 10 from step 1000000 to 2000000 of min(|W|, |1 - |W||)" in table


@pytest.mark.parametrize(
    "args, message",
    [
        (["bench", "--preset", "paper"], "invalid choice: 'paper'"),
        (
            ["bench", "--models", "lstm"],
            "unknown model 'lstm'; choose from 'nac'",
        ),  # a digit-task cell, not a layer pair
        (["bench", "--models", "gru"], "invalid choice: 'gru'"),
        (
            ["bench", "--preset", "digits-quick", "--input-size", "4"],
            "--input-size is not an option of preset digits-quick",
        ),
        (["bench", "--ops", "pow"], "invalid choice: 'pow'"),
        (["bench", "--range", "2,1:2,6"], "interpolation_range must have low < high, got (2, 1)"),
        (["bench", "--range", "1,2"], "expected LOW,HIGH:LOW,HIGH"),
        (["bench", "--seeds", "0"], "seeds must be a positive integer, got 0"),
        (["bench", "--workers", "0", "--steps", "1"], "workers must be a positive integer, got 0"),
        (["report", "no/such/file.jsonl"], "no results file no/such/file.jsonl"),
    ],
)
def test_bad_bench_arguments_exit_2_with_a_message(args, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main([*args, *(["--results", str(tmp_path / "r.jsonl")] if args[0] == "bench" else [])])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_bench_refuses_a_results_file_of_another_config(tiny_results, capsys):
    path, _ = tiny_results
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--models", "nau", "--steps", "5", "--results", str(path), "--no-progress"])
    assert exit_info.value.code == 2
    assert "was written by another benchmark" in capsys.readouterr().err


def test_configuration_labels_name_the_ranges_only_when_asked():
    c = Configuration("nmu", "mul", (1.0, 2.0), (2.0, 6.0))
    assert c.label(False) == "nmu mul"
    assert c.label(True) == "nmu mul U[1,2] -> U[2,6]"


def test_report_without_matplotlib_says_how_to_install_it(tiny_results, tmp_path, monkeypatch, capsys):
    path, _ = tiny_results
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes "import matplotlib" fail
    with pytest.raises(SystemExit) as exit_info:
        main(["report", str(path), "--out", str(tmp_path)])
    assert exit_info.value.code == 1
    assert "pip install 'nalm[report]'" in capsys.readouterr().err


def test_the_union_range_pair_runs_and_round_trips_through_the_results_file(tmp_path):
    from nalm.bench.runs import SINGLE_RANGES
    from nalm.cli import _range_pair

    union = ((-2.0, 2.0), ((-6.0, -2.0), (2.0, 6.0)))
    assert union in SINGLE_RANGES and len(SINGLE_RANGES) == 9
    assert _range_pair("-2,2:-6,-2u2,6") == union
    results = tmp_path / "r.jsonl"
    args = [
        "bench",
        "--preset",
        "primer2021",
        "--models",
        "nau",
        "--operations",
        "add",
        "--seeds",
        "2",
        "--steps",
        "20",
        "--eval-every",
        "10",
        "--eval-size",
        "50",
        "--threshold-samples",
        "1000",
        "--range=-2,2:-6,-2u2,6",
        "--results",
        str(results),
        "--workers",
        "1",
        "--no-progress",
    ]
    assert main(args) == 0
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(rows) == 2 and rows[0]["extrapolation_range"] == [[-6.0, -2.0], [2.0, 6.0]]
    assert rows[0]["threshold"] > 0
    assert main(args) == 0  # the rerun finds both seeds done
    assert len(results.read_text().splitlines()) == 2


def test_rows_are_strict_json_and_non_finite_numbers_come_back(tiny_results, tmp_path):
    row = {**tiny_results[1][0], "extrapolation_mse": float("nan"), "interpolation_mse": float("inf")}
    line = rows_module.to_json(row)

    def strict(constant):
        raise ValueError(f"not strict JSON: {constant}")

    parsed = json.loads(line, parse_constant=strict)  # what JSON.parse and other strict readers accept
    assert parsed["extrapolation_mse"] is None and parsed["non_finite"] == {
        "extrapolation_mse": "nan",
        "interpolation_mse": "inf",
    }
    back = rows_module.from_json(line)
    assert back.keys() == row.keys() and math.isnan(back["extrapolation_mse"]) and back["interpolation_mse"] == math.inf
    listed = {**row, "test_mse": [1.5, float("inf"), float("nan")]}  # the digit tasks' MSE per length
    parsed = json.loads(rows_module.to_json(listed), parse_constant=strict)
    assert parsed["test_mse"] == [1.5, None, None] and parsed["non_finite"]["test_mse"] == [None, "inf", "nan"]
    back = rows_module.from_json(rows_module.to_json(listed))["test_mse"]
    assert back[:2] == [1.5, math.inf] and math.isnan(back[2])
    older = tmp_path / "older.jsonl"  # written before rows were strict: bare NaN
    older.write_text(json.dumps(row) + "\n")
    assert math.isnan(read_results(older)[0]["extrapolation_mse"])


def test_a_bad_line_is_reported_by_its_number(tiny_results, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(
        "".join(json.dumps({**tiny_results[1][0], "seed": seed}) + "\n" for seed in range(49)) + "not json\n"
    )
    with pytest.raises(ValueError, match="bad.jsonl is not a results file: line 50"):
        read_results(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[1, 2, 3]\n", "line 1 is not a run"),
        ('{"a": 1}\n', "line 1 is not a run (it lacks model, operation"),
        ('"hello"\n', "line 1 is not a run"),
        ("null\n", "line 1 is not a run"),
        (None, "not UTF-8 text"),
    ],
)
def test_a_file_that_is_not_results_is_one_clear_error(tmp_path, content, message):
    path = tmp_path / "other.jsonl"
    if content is None:
        path.write_bytes(b"\xff\xfe\x00 not text\n")
    else:
        path.write_text(content)
    with pytest.raises(ValueError, match=re.escape(message)):
        read_results(path)


def test_a_row_whose_seed_is_not_an_integer_is_refused(tiny_results, tmp_path):
    _, rows = tiny_results
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({**rows[0], "seed": "zero"}) + "\n")
    with pytest.raises(ValueError, match="line 1 is not a run \\(its seed is 'zero'\\)"):
        read_results(path)


def test_a_second_sweep_on_the_same_file_is_refused_at_once(tiny_results, tmp_path):
    path, rows = tiny_results
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(path.read_bytes())
    results = ResultsFile(copy, TINY)
    with results.locked():  # as a running sweep holds it
        with pytest.raises(
            ValueError,
            match=f"results file {re.escape(str(copy))} is being written by another nalm bench \\(process \\d+ on ",
        ):
            run_benchmark(ResultsFile(copy, TINY), workers=1)
    assert run_benchmark(ResultsFile(copy, TINY), workers=1) == rows  # free again once released


def test_a_run_written_twice_is_counted_once_with_a_warning(tiny_results, tmp_path):
    path, rows = tiny_results
    doubled = tmp_path / "doubled.jsonl"
    doubled.write_bytes(path.read_bytes() + path.read_bytes().split(b"\n", 1)[0] + b"\n")
    with pytest.warns(UserWarning, match="holds 1 runs more than once"):
        assert read_results(doubled) == rows


def test_the_ray_executor_writes_the_rows_of_the_local_one(tiny_results, tmp_path):
    pytest.importorskip("ray")
    _, rows = tiny_results
    on_ray = tmp_path / "ray.jsonl"
    assert run_benchmark(ResultsFile(on_ray, TINY), executor="ray") == rows  # a local Ray instance
    assert not (tmp_path / "ray.jsonl.checkpoints").exists()


def test_on_ray_large_seed_counts_of_compiled_models_train_in_chunks_with_the_same_rows(tmp_path, monkeypatch):
    pytest.importorskip("ray")
    monkeypatch.setattr(ray_module, "RAY_CHUNK", 2)
    five = replace(TINY, models=("nau", "npu"), operations=("add",), seeds=5)
    nau, npu = five.configurations()
    assert ray_module.seed_chunks(five, nau, five.seed_list(), "auto") == [(0, 1), (2, 3), (4,)]
    assert ray_module.seed_chunks(five, npu, five.seed_list(), "auto") == [five.seed_list()]  # stack-dependent rounding
    local = run_benchmark(ResultsFile(tmp_path / "local.jsonl", five), workers=1)
    assert run_benchmark(ResultsFile(tmp_path / "ray.jsonl", five), executor="ray") == local


def test_without_ray_the_ray_executor_says_how_to_get_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # makes "import ray" fail
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--executor", "ray", "--steps", "5", "--results", str(tmp_path / "r.jsonl"), "--no-progress"])
    assert exit_info.value.code == 1
    assert "pip install 'nalm[ray]'" in capsys.readouterr().err
    assert not (tmp_path / "r.jsonl.checkpoints").exists()


def test_initial_errors_are_measured_on_the_models_device(monkeypatch):
    # A GPU model must get its evaluation data on the GPU ("meta" stands in: it holds no values,
    # so the draw is stopped once its device is seen).
    seen = []

    def sample(self, rows, bounds, subsets, streams, dtype=torch.float32, device="cpu"):
        seen.append(torch.device(device))
        raise LookupError("stop")

    monkeypatch.setattr(static_grid_module.StaticArithmeticTask, "sample", sample)
    build = lambda: build_published_model("nau", TINY.input_size).to("meta")
    with pytest.raises(LookupError, match="stop"):
        static_grid_module.initial_errors(build, TINY.task(TINY.configurations()[0]), TINY.train_config(), 0)
    assert seen == [torch.device("meta")]


def test_the_ray_executor_refuses_a_gpu_before_training(tmp_path):
    with pytest.raises(ValueError, match="the Ray executor trains on its nodes' CPUs"):
        run_benchmark(ResultsFile(tmp_path / "r.jsonl", TINY), executor="ray", device="cuda")
    assert not (tmp_path / "r.jsonl.checkpoints").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_sweep_on_a_gpu_gives_the_cpus_results_up_to_rounding(tiny_results, tmp_path):
    _, rows = tiny_results
    on_gpu = run_benchmark(ResultsFile(tmp_path / "gpu.jsonl", TINY), workers=1, device="cuda")
    assert [(r["model"], r["operation"], r["seed"]) for r in on_gpu] == [
        (r["model"], r["operation"], r["seed"]) for r in rows
    ]
    for gpu, cpu in zip(on_gpu, rows):
        assert gpu["interpolation_mse"] == pytest.approx(cpu["interpolation_mse"], rel=1e-2, abs=1e-6)


def test_a_complete_last_row_without_its_newline_is_kept(tiny_results, tmp_path):
    path, rows = tiny_results
    no_newline = tmp_path / "no_newline.jsonl"
    no_newline.write_bytes(path.read_bytes().rstrip(b"\n"))  # e.g. a hand-edited file
    assert run_benchmark(ResultsFile(no_newline, TINY), workers=1) == rows  # nothing retrained or lost
    assert no_newline.read_bytes() == path.read_bytes()


def test_a_digit_preset_runs_its_baselines_and_reports_success_per_length(tmp_path, capsys):
    pytest.importorskip("sklearn")
    results = tmp_path / "digits.jsonl"
    args = [
        "bench",
        "--preset",
        "digits-quick",
        "--models",
        "nau",
        "--ops",
        "sum",
        "--seeds",
        "2",
        "--steps",
        "4",
        "--eval-every",
        "2",
        "--eval-size",
        "5",
        "--test-lengths",
        "1",
        "3",
        "--results",
        str(results),
        "--workers",
        "1",
        "--no-progress",
    ]
    assert main(args) == 0
    rows = read_results(results)
    assert sorted((row["model"], row["seed"]) for row in rows) == [
        ("fixed_nau", 0),
        ("fixed_nau", 1),
        ("nau", 0),
        ("nau", 1),
    ]
    assert all(row["test_lengths"] == [1, 3] and len(row["test_mse"]) == 2 for row in rows)
    assert "successes per test length" in capsys.readouterr().out
    assert main(args) == 0 and len(read_results(results)) == 4  # nothing left to train
    assert main(["report", str(results), "--out", str(tmp_path / "report")]) == 0
    report = (tmp_path / "report" / "report.md").read_text()
    assert "| nau sum | 3 |" in report and "Student-t" in report
    assert (tmp_path / "report" / "sequence_success.png").stat().st_size > 0


def test_the_recurrent_preset_trains_recurrent_cells(tmp_path):
    results = tmp_path / "recurrent.jsonl"
    assert (
        main(
            [
                "bench",
                "--preset",
                "trask2018-recurrent",
                "--models",
                "nau",
                "--ops",
                "add",
                "--seeds",
                "2",
                "--steps",
                "4",
                "--eval-every",
                "2",
                "--eval-size",
                "10",
                "--threshold-samples",
                "100",
                "--results",
                str(results),
                "--workers",
                "1",
                "--no-progress",
            ]
        )
        == 0
    )
    rows = read_results(results)
    assert len(rows) == 2 and rows[0]["settings"]["time_steps"] == 10


def test_the_torch_and_the_compiled_engine_write_the_same_rows_of_a_sweep(tmp_path):
    """`nalm bench --engine torch` and `--engine compiled` on one sweep: the same rows up to float32
    rounding (the compiled kernels' sums run in another order than PyTorch's batched matmuls)."""
    sweep = [
        "bench",
        "--models",
        "nau",
        "nmu",
        "nac",
        "--operations",
        "add",
        "mul",
        "--seeds",
        "3",
        "--steps",
        "40",
        "--eval-every",
        "20",
        "--eval-size",
        "200",
        "--input-size",
        "10",
        "--threshold-samples",
        "1000",
        "--workers",
        "1",
        "--no-progress",
    ]
    rows = {}
    for engine in ("torch", "compiled"):
        path = tmp_path / f"{engine}.jsonl"
        assert main([*sweep, "--engine", engine, "--results", str(path)]) == 0
        rows[engine] = read_results(path)
    assert len(rows["torch"]) == len(rows["compiled"]) == 3 * 2 * 3
    for torch_row, compiled_row in zip(rows["torch"], rows["compiled"]):
        assert torch_row.pop("ran_with")["engine"] == "torch" and compiled_row.pop("ran_with")["engine"] == "compiled"
        assert {k: v for k, v in torch_row.items() if not isinstance(v, float)} == {
            k: v for k, v in compiled_row.items() if not isinstance(v, float)
        }
        for key, value in torch_row.items():
            if isinstance(value, float) and math.isfinite(value):
                assert compiled_row[key] == pytest.approx(value, rel=1e-3, abs=1e-9), key


def test_the_compiled_engine_on_a_model_it_does_not_cover_is_one_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(
            [
                "bench",
                "--models",
                "npu",
                "--engine",
                "compiled",
                "--steps",
                "5",
                "--seeds",
                "2",
                "--workers",
                "1",
                "--results",
                str(tmp_path / "r.jsonl"),
                "--no-progress",
            ]
        )
    assert stopped.value.code == 2
    assert "the compiled engine does not cover this model" in capsys.readouterr().err
    assert not (tmp_path / "r.jsonl").exists()  # refused before any file is made


def test_report_of_several_files_writes_the_whole_published_table(tiny_results, tmp_path, capsys):
    path, _ = tiny_results
    with pytest.raises(SystemExit) as exit_info:
        main(["report", str(path), str(path)])
    assert exit_info.value.code == 2 and "give its folder with --out" in capsys.readouterr().err
    assert main(["report", str(path), str(path), "--out", str(tmp_path / "table")]) == 0
    text = (tmp_path / "table" / "report.md").read_text()
    assert "0 of 48 cells have a run here" in text  # the tiny task is not the published one
    assert text.count("| not run |") == 48

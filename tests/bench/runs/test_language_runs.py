"""The language task end to end: nalm bench writes its rows, they are checked on read, and nalm
report writes its tables and the figure of error against the number's value."""

import json

import pytest

from nalm.bench.analysis.aggregate import summarize_language
from nalm.bench.analysis.report import report_text
from nalm.bench.engine.language_problem import TEST_MEASURES
from nalm.bench.runs import LANGUAGE_PRESETS, LanguageBenchmark, ResultsFile, read_results, run_benchmark
from nalm.bench.runs.language_grid import solved
from nalm.cli import main

SMALL = LanguageBenchmark(models=("nau", "linear", "lstm"), seeds=2, steps=30, eval_every=10)


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    path = tmp_path_factory.mktemp("language") / "language.jsonl"
    run_benchmark(ResultsFile(path, SMALL), workers=1)
    return path, read_results(path)


def test_each_run_is_one_row_with_its_test_measures(rows):
    _, found = rows
    assert [(row["model"], row["seed"]) for row in found] == [(m, s) for m in SMALL.models for s in (0, 1)]
    for row in found:
        assert row["task"] == "language" and row["operation"] == "number"
        assert row["selected_step"] in (10, 20, 30) and row["final_step"] == 30
        assert len(row["test_mae_by_hundred"]) == 10 and 0 <= row["test_correct"] <= 1
        assert row["test_max_error"] >= row["test_mae"] >= 0
        assert (row["sparsity_error"] is None) == (row["model"] in ("linear", "lstm"))
        assert not solved(row)  # 30 steps read no number right
    assert len(TEST_MEASURES) == 13


def test_rows_out_of_their_kinds_are_refused(rows, tmp_path):
    path, _ = rows
    row = json.loads(path.read_text().splitlines()[0])
    for field, bad in (("test_correct", 1.5), ("test_mae_by_hundred", [1.0] * 9), ("operation", "sum")):
        broken = tmp_path / f"{field}.jsonl"
        broken.write_text(json.dumps({**row, field: bad}) + "\n")
        with pytest.raises(ValueError, match=field):
            read_results(broken)


def test_the_report_has_success_errors_by_hundred_and_the_models(rows):
    _, found = rows
    text = report_text(found)
    assert text.startswith("# Benchmark results: language to number\n\n6 runs.")
    assert "| nau | 0/2 = 0% [0%, 66%] |" in text and "| model | 1-99 | 100-199 |" in text
    assert "- lstm: LSTM alone, a linear layer with a bias on its final state" in text
    summary = summarize_language(found)
    assert [s.configuration.model for s in summary] == list(SMALL.models) and all(s.runs == 2 for s in summary)


def test_nalm_bench_and_report_run_the_language_preset(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    results = tmp_path / "q.jsonl"
    args = ["bench", "--preset", "language-quick", "--models", "nau", "lstm", "--seeds", "2", "--steps", "20"]
    main([*args, "--eval-every", "10", "--readout", "final", "--lstm-size", "3", "--results", str(results)])
    main(
        ["bench", *args[1:], "--eval-every", "10", "--readout", "final", "--lstm-size", "3", "--results", str(results)]
    )
    out = capsys.readouterr().out
    assert "language to number, 4 runs" in out
    found = read_results(results)
    assert len(found) == 4 and found[0]["settings"]["readout"] == "final" and found[0]["settings"]["lstm_size"] == 3
    main(["report", str(results)])
    assert (tmp_path / "q" / "language_error.png").stat().st_size > 0
    assert "test MAE" in (tmp_path / "q" / "report.md").read_text()


def test_options_of_other_tasks_are_refused(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["bench", "--preset", "language-quick", "--input-size", "5"])
    assert stopped.value.code == 2
    assert "--input-size is not an option of preset language-quick (the language task's)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "--preset", "quick", "--readout", "final"])
    assert "not an option of preset quick" in capsys.readouterr().err


def test_the_presets_are_the_reference_settings():
    full = LANGUAGE_PRESETS["language"]
    assert (full.seeds, full.steps, full.batch_size, full.embedding_size, full.lstm_size) == (10, 30_000, 64, 2, 2)
    assert set(full.models) == {"nau", "nmu", "nac", "nalu", "linear", "lstm"} and full.readout == "recurrent"


def test_a_diverged_run_and_a_solved_one_read_back_and_report(rows, tmp_path):
    pytest.importorskip("matplotlib")
    from nalm.bench.analysis.report import write_report
    from nalm.bench.runs.rows import to_json

    path, found = rows
    nan = float("nan")
    diverged = {**found[0], "seed": 2, "diverged": True, "test_mse": nan, "test_mae": nan, "test_max_error": nan}
    diverged["test_mae_by_hundred"] = [nan] * 10
    right = {**found[0], "seed": 3, "test_max_error": 0.3, "test_mae": 0.1, "test_correct": 1.0}
    lines = path.read_text() + to_json(diverged) + "\n" + to_json(right) + "\n"
    (tmp_path / "more.jsonl").write_text(lines)
    back = read_results(tmp_path / "more.jsonl")
    assert [solved(row) for row in back[-2:]] == [False, True]
    nau = summarize_language(back)[0]
    assert (nau.runs, nau.successes, nau.diverged) == (4, 1, 1)
    written = write_report(back, tmp_path / "report")
    assert {p.name for p in written} == {"report.md", "language_error.png"}
    assert "| nau | 1/4 = 25% [" in (tmp_path / "report" / "report.md").read_text()

"""A run's rows are a function of its settings and seeds only: never of the thread count, the
worker layout, the executor or the point a sweep resumed from."""

import json
import subprocess
import sys

import pytest
import torch

from nalm.bench.engine.compiled import ARITHMETIC
from nalm.bench.runs import (
    Benchmark,
    LanguageBenchmark,
    ResultsFile,
    SequenceBenchmark,
    read_results,
    run_benchmark,
)
from nalm.bench.runs.static_grid import _threshold

STATIC = Benchmark(
    models=("nau", "npu"),  # the compiled engine, and the PyTorch loop (stack-dependent rounding)
    operations=("add", "mul"),
    seeds=2,
    steps=40,
    eval_every=20,
    eval_size=64,
    input_size=10,
    threshold_samples=2_000,
)
DIGITS = SequenceBenchmark(
    models=("nau", "nmu"), operations=("product",), seeds=2, steps=60, eval_every=30, eval_size=20
)
LANGUAGE = LanguageBenchmark(models=("nau", "lstm"), seeds=2, steps=40, eval_every=20)
BENCHMARKS = {"static": STATIC, "digits": DIGITS, "language": LANGUAGE}


@pytest.fixture(scope="module", params=list(BENCHMARKS))
def reference(request, tmp_path_factory):
    """The rows of a sweep in 2 spawned workers of one thread each."""
    benchmark = BENCHMARKS[request.param]
    path = tmp_path_factory.mktemp(request.param) / "reference.jsonl"
    run_benchmark(ResultsFile(path, benchmark), workers=2)
    return benchmark, path


@pytest.fixture
def two_threads():
    """This process on two PyTorch threads, as a user's session may be."""
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


def lines(path):
    return sorted(path.read_text().splitlines())


def test_a_sweep_in_this_process_on_two_threads_writes_the_rows_of_the_workers(reference, tmp_path, two_threads):
    benchmark, path = reference
    run_benchmark(ResultsFile(tmp_path / "here.jsonl", benchmark), workers=1)
    assert lines(tmp_path / "here.jsonl") == lines(path)


def test_a_resume_with_one_configuration_left_writes_the_reference_rows(reference, tmp_path, two_threads):
    benchmark, path = reference
    rows = path.read_text().splitlines()
    last = json.loads(rows[-1])
    kept = [
        line
        for line in rows
        if (json.loads(line)["model"], json.loads(line)["operation"]) != (last["model"], last["operation"])
    ]
    assert len(kept) < len(rows)
    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(line + "\n" for line in kept))
    run_benchmark(ResultsFile(cut, benchmark), workers=2)  # one configuration left: trains in this process
    assert lines(cut) == lines(path)


def test_the_ray_executor_in_another_process_writes_the_rows_of_the_local_one(reference, tmp_path):
    pytest.importorskip("ray")
    benchmark, path = reference
    out = tmp_path / "ray.jsonl"
    script = (
        "import sys, torch\n"
        "from nalm.bench.runs import ResultsFile, run_benchmark\n"
        f"from {__name__} import BENCHMARKS\n"
        "torch.set_num_threads(2)\n"
        f"run_benchmark(ResultsFile(sys.argv[1], BENCHMARKS[{next(k for k, v in BENCHMARKS.items() if v is benchmark)!r}]), "
        "executor='ray')\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(out)],
        check=True,
        cwd=str(tmp_path.parent),
        env={**__import__("os").environ, "PYTHONPATH": str(__import__("pathlib").Path(__file__).parent)},
    )
    assert lines(out) == lines(path)


def test_the_success_threshold_in_a_row_does_not_depend_on_the_thread_count(tmp_path, two_threads):
    benchmark = Benchmark(
        models=("nau",), operations=("mul",), seeds=1, steps=2, eval_every=2, eval_size=8, threshold_samples=200_000
    )  # 100 inputs: the threshold's matmul splits over threads
    _threshold.cache_clear()  # computed once per process: compute it again for each run
    run_benchmark(ResultsFile(tmp_path / "two.jsonl", benchmark), workers=1)
    torch.set_num_threads(1)
    _threshold.cache_clear()
    run_benchmark(ResultsFile(tmp_path / "one.jsonl", benchmark), workers=1)
    assert read_results(tmp_path / "two.jsonl")[0]["threshold"] == read_results(tmp_path / "one.jsonl")[0]["threshold"]


def test_an_unreachable_ray_address_fails_at_once_with_one_line_and_frees_the_file(tmp_path, capsys):
    pytest.importorskip("ray")
    import time

    from nalm.cli import main

    path = tmp_path / "r.jsonl"
    start = time.monotonic()
    with pytest.raises(SystemExit) as stopped:
        main(["bench", "--executor", "ray", "--address", "127.0.0.1:1", "--results", str(path), "--no-progress"])
    assert stopped.value.code == 2 and time.monotonic() - start < 30
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot reach the Ray cluster at 127.0.0.1:1 (connection refused)" in err
    results = ResultsFile(path, STATIC)
    with pytest.raises(ValueError, match="cannot reach the Ray cluster"):  # the API, past the lock
        run_benchmark(results, executor="ray", address="127.0.0.1:1")
    with results.locked():  # released
        pass


def test_each_row_records_what_ran_it(reference):
    import nalm

    benchmark, path = reference
    for row in read_results(path):
        engine = (
            "compiled" if benchmark is STATIC and row["model"] == "nau" else "torch"
        )  # npu, digits, language: torch
        assert row["ran_with"] == {
            "nalm": nalm.__version__,
            "torch": torch.__version__,
            "device": "cpu",
            "engine": engine,
            **({"arithmetic": ARITHMETIC} if engine == "compiled" else {}),
        }

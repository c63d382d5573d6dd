"""The nalm command line, run as a user runs it."""

import re
import subprocess
import sys

import pytest

from nalm.bench.models import MODELS
from nalm.cli import main
from nalm.torch import UNITS


def test_train_prints_interpolation_and_extrapolation_error(capsys):
    assert (
        main(
            [
                "train",
                "--unit",
                "nac",
                "--op",
                "sub",
                "--input-size",
                "10",
                "--steps",
                "300",
                "--eval-every",
                "100",
                "--no-progress",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "nac on sub" in out
    assert "interpolation" in out and "extrapolation" in out
    assert "final" in out and "300" in out


def test_train_is_deterministic(capsys):
    args = ["train", "--unit", "nalu", "--op", "mul", "--input-size", "10", "--steps", "200", "--no-progress"]
    main(args)
    first = capsys.readouterr().out
    main(args)
    assert capsys.readouterr().out == first


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--unit", "gru"], "invalid choice: 'gru'"),
        (["train", "--unit", "lstm"], "unknown unit 'lstm'"),  # a digit task's cell, not a unit
        (["train", "--task", "digits", "--op", "add"], "unknown operation 'add'; choose from 'count'"),
        (["train", "--task", "digits", "--test-lengths", "10", "5"], "test_lengths must be increasing"),
        (["train", "--time-steps", "0"], "time_steps must be a positive integer, got 0"),
        (
            ["train", "--task", "digits", "--input-size", "5", "--time-steps", "2"],
            "--input-size, --time-steps is not an option of --task digits",
        ),
        (["train", "--images", "sklearn"], "--images is not an option of --task static"),
        (["train", "--op", "pow"], "invalid choice: 'pow'"),
        (["train", "--steps", "0"], "steps must be a positive integer, got 0"),
        (["train", "--steps", "many"], "invalid int value: 'many'"),
        (["train", "--interpolation-range", "2,1"], "interpolation_range must have low < high"),
        (["train", "--extrapolation-range", "2"], "expected LOW,HIGH"),
        (["train", "--hidden-size", "0"], "hidden_size must be a positive integer, got 0"),
        (["train", "--device", "nodevice"], "device 'nodevice'"),
        (["train", "--device", "mps", "--steps", "1"], "device 'mps' is not available"),
        ([], "the following arguments are required: command"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_the_installed_command_reports_errors_without_a_traceback():
    result = subprocess.run(
        [sys.executable, "-m", "nalm.cli", "train", "--steps", "-5"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert "nalm train: error: steps must be a positive integer, got -5" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_help_lists_the_registered_units(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--help"])
    assert exit_info.value.code == 0
    assert (
        "{" + ",".join(UNITS.names()) + ",lstm,fixed_nau,fixed_nmu}" in capsys.readouterr().out
    )  # then the digit cells


def test_bench_help_shows_each_models_definition(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    out = capsys.readouterr().out
    for name, model in MODELS.items():
        assert f"  {name}: {model.describe()}\n" in out
    assert "  nmu: nau -> nmu, sparsity 10 from step 1000000 to 2000000 of min(|W|, |1 - |W||)\n" in out
    assert "  nalu: nalu -> nalu, init glorot_w\n" in out


def bad_inputs(tmp_path):
    """(arguments, what the one line of error says): every bad input is refused before training."""
    folder = tmp_path / "folder"
    folder.mkdir()
    not_results = tmp_path / "list.jsonl"
    not_results.write_text("[1, 2, 3]\n")
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe\x00\n")
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    bench = ["bench", "--steps", "5", "--no-progress", "--results"]
    return [
        ([*bench, ""], "the results file needs a name"),
        ([*bench, str(folder)], "is a folder"),
        ([*bench, "/dev/null"], "is not a regular file"),
        ([*bench, "/proc/nalm/runs.jsonl"], "cannot write results file /proc/nalm/runs.jsonl"),
        ([*bench, str(tmp_path / "r.jsonl"), "--batch-size", "10000000000"], "batch_size must be at most 10,000,000"),
        ([*bench, str(tmp_path / "r.jsonl"), "--input-size", "100000000"], "values in one training batch"),
        ([*bench, str(tmp_path / "r.jsonl"), "--seeds", "10000000"], "seeds must be at most 100,000"),
        ([*bench, str(tmp_path / "r.jsonl"), "--steps", "100000000000"], "steps must be at most 1,000,000,000"),
        (["bench", "--steps", "1e23"], "invalid int value: '1e23'"),
        (["train", "--device", "meta"], "device 'meta' is not available"),
        (["train", "--device", "cpu:99"], "device 'cpu:99' is not available"),
        ([*bench, str(tmp_path / "r.jsonl"), "--device", "meta"], "device 'meta' is not available"),
        ([*bench, str(tmp_path / "r.jsonl"), "--device", "nodevice"], "device 'nodevice'"),
        (["report", str(not_results), "--out", str(tmp_path / "out")], "line 1 is not a run"),
        (["report", str(binary), "--out", str(tmp_path / "out")], "not UTF-8 text"),
    ]


@pytest.mark.parametrize("case", range(15))
def test_every_bad_input_is_one_line_and_exit_2_before_any_training(case, tmp_path, capsys):
    args, message = bad_inputs(tmp_path)[case]
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 or err.startswith("usage:")  # argparse's own errors add a usage line
    assert not (tmp_path / "r.jsonl.checkpoints").exists()


def test_report_into_a_file_is_refused(tmp_path, capsys):
    results = tmp_path / "runs.jsonl"
    assert (
        main(
            [
                "bench",
                "--models",
                "nau",
                "--ops",
                "add",
                "--seeds",
                "1",
                "--steps",
                "10",
                "--eval-every",
                "10",
                "--eval-size",
                "16",
                "--input-size",
                "4",
                "--threshold-samples",
                "100",
                "--results",
                str(results),
                "--no-progress",
            ]
        )
        == 0
    )
    assert "1 configuration x 1 seed," in capsys.readouterr().out
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    with pytest.raises(SystemExit) as exit_info:
        main(["report", str(results), "--out", str(a_file)])
    assert exit_info.value.code == 2 and "is a file" in capsys.readouterr().err


def test_help_shows_defaults_and_percent_signs_once(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "training steps (default: 10000)" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    out = capsys.readouterr().out
    assert re.search(r"95%\s+Wilson", out) and "%%" not in out


def test_train_on_the_recurrent_task_names_its_time_steps(capsys):
    assert (
        main(
            [
                "train",
                "--unit",
                "nau",
                "--op",
                "add",
                "--input-size",
                "10",
                "--time-steps",
                "3",
                "--steps",
                "20",
                "--eval-every",
                "10",
                "--no-progress",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "10 inputs over 3 time steps" in out and "extrapolation" in out


def test_train_on_a_digit_task_prints_the_test_error_per_length(capsys):
    assert (
        main(
            [
                "train",
                "--task",
                "digits",
                "--op",
                "product",
                "--unit",
                "nmu",
                "--steps",
                "4",
                "--eval-every",
                "2",
                "--test-lengths",
                "1",
                "3",
                "--no-progress",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "nmu cell on digit product" in out and "trained on sequences of 2" in out
    assert re.search(r"\b3 .* \d", out)


def test_ctrl_c_while_the_command_starts_is_one_line(tmp_path):
    """SIGINT while PyTorch and the benchmark load: exit 130 with one line, no traceback."""
    import signal
    import subprocess
    import sys
    import time

    process = subprocess.Popen(
        [sys.executable, "-m", "nalm", "bench", "--results", str(tmp_path / "r.jsonl")],
        preexec_fn=lambda: signal.signal(
            signal.SIGINT, signal.SIG_DFL
        ),  # as a terminal starts it, whatever runs the tests
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.3)  # still importing torch
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err and err.strip().count("\n") == 0, err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--task", "digits", "--batch-size", "10000000"], "values to train one batch, more than"),
        (["train", "--input-size", "1000000", "--hidden-size", "1000"], "weights in one layer, more than"),
        (["bench", "--hidden-size", "1000000"], "weights in one layer, more than"),
        (["train", "--seed", "18446744073709551616"], "seed must be an integer in [0, 3355442]"),
        (["bench", "--range", "1,2:1e308,1.7e308"], "beyond float32's"),
        (["bench", "--preset", "digits-quick", "--eval-size", "10000000"], "values to evaluate, more than"),
    ],
)
def test_sizes_the_machine_cannot_hold_are_one_line_before_training(args, message, tmp_path, capsys):
    extra = ["--results", str(tmp_path / "r.jsonl")] if args[0] == "bench" else []
    with pytest.raises(SystemExit) as stopped:
        main([*args, *extra, "--no-progress"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "r.jsonl").exists() or not (tmp_path / "r.jsonl").read_text()


def test_names_are_read_whatever_their_case(tmp_path):
    """As the PyTorch implementation spelled them: NAC, NALU."""
    import torch

    from nalm.bench.runs import Benchmark
    from nalm.torch import NAC, Recurrent, build_head

    assert UNITS.get("NAC") is NAC and UNITS.get("Nalu") is UNITS.get("nalu")
    assert Recurrent("NAU", 1).recurrence.unit == "nau"
    assert Benchmark(models=("NAU", "nau", "NMU"), operations=("ADD",)).models == ("nau", "nmu")
    head = build_head(
        torch.nn.Conv2d(1, 2, 3), channels=2, hidden_dims=[2], task="regression", num_outputs=1, unit="NALU"
    )
    assert isinstance(head.network[0], UNITS.get("nalu"))
    args = [
        "bench",
        "--models",
        "NAU",
        "--operations",
        "ADD",
        "--preset",
        "Quick",
        "--seeds",
        "1",
        "--steps",
        "2",
        "--eval-every",
        "2",
        "--eval-size",
        "8",
        "--input-size",
        "4",
        "--threshold-samples",
        "100",
        "--workers",
        "1",
        "--engine",
        "TORCH",
        "--results",
        str(tmp_path / "r.jsonl"),
        "--no-progress",
    ]
    assert main(args) == 0

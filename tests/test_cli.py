"""The nalm command line, run as a user runs it."""

import subprocess
import sys

import pytest

from nalm.cli import main
from nalm.torch import UNITS


def test_train_prints_interpolation_and_extrapolation_error(capsys):
    assert main(["train", "--unit", "nac", "--op", "sub", "--input-size", "10", "--steps", "300",
                 "--eval-every", "100", "--no-progress"]) == 0
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
        (["train", "--unit", "lstm"], "invalid choice: 'lstm'"),
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
    assert "{" + ",".join(UNITS.names()) + "}" in capsys.readouterr().out

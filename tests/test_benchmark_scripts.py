"""The scripts in benchmarks/ import (their names from nalm exist) and print their options."""

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).parents[1] / "benchmarks").glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_each_benchmark_script_runs_its_help(script):
    done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout


def test_the_published_table_script_runs_each_cell_at_a_budget_that_tests_it():
    import shlex

    from nalm.bench.analysis.published import PUBLISHED
    from nalm.cli import benchmark_from_args, build_parser

    script = Path(__file__).parents[1] / "benchmarks" / "published_table.sh"
    done = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = [shlex.split(line, comments=True) for line in script.read_text().splitlines() if line.startswith("bench ")]
    assert lines
    for _, stem, steps, *options in lines:
        args = build_parser().parse_args(["bench", "--preset", "madsen2020", *options, "--steps", steps])
        for configuration in benchmark_from_args(args).configurations():
            cell = PUBLISHED[configuration.model, configuration.operation]
            needed = cell.refuting_steps if cell.success_rate > 0 else 200_000
            assert int(steps) >= needed, (stem, configuration.model, configuration.operation)
            assert stem.startswith("madsen2020-")

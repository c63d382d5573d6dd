"""The scripts in benchmarks/ import (their names from nalm exist) and print their options;
published_table.sh runs its cells at their budgets, in two lanes that stop as it says."""

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).parents[1] / "benchmarks").glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_each_benchmark_script_runs_its_help(script):
    done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout


def _published_table_script() -> tuple[str, list[tuple[str, str, int, object]]]:
    """The script's text and its runs: (lane, results stem, steps, the grid its options give)."""
    from nalm.cli import benchmark_from_args, build_parser

    script = Path(__file__).parents[1] / "benchmarks" / "published_table.sh"
    text = script.read_text()
    runs, lane = [], ""
    for line in text.splitlines():
        if re.match(r"lane_\w+\(\) \{", line):
            lane = line.split("(")[0]
        elif line == "}":
            lane = ""
        elif line.strip().startswith("bench "):
            _, stem, steps, *options = shlex.split(line, comments=True)
            args = build_parser().parse_args(["bench", "--preset", "madsen2020", *options, "--steps", steps])
            runs.append((lane, stem, int(steps), benchmark_from_args(args)))
    return text, runs


def test_the_published_table_script_runs_each_cell_at_the_budget_it_needs():
    from nalm.bench.analysis.published import PUBLISHED

    text, runs = _published_table_script()
    done = subprocess.run(["bash", "-n", "-c", text], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert 'nalm bench --preset madsen2020 --no-progress "$@" --steps "$steps"' in text
    assert runs
    for _, stem, steps, benchmark in runs:
        assert stem.startswith("madsen2020-") and benchmark.configurations(), stem
        for configuration in benchmark.configurations():
            assert steps >= PUBLISHED[configuration.model, configuration.operation].needed_steps, (stem, configuration)


def test_every_published_cell_is_tested_by_a_committed_run_or_the_script():
    """A cell is done where its best committed run is of the published model and ran the budget it
    needs, or agrees without being lower; every other cell is in the script."""
    from nalm.bench.analysis.published import published_table
    from nalm.bench.runs.results_file import read_results

    results = Path(__file__).parents[1] / "benchmarks" / "results"
    files = {path.name: read_results(path) for path in sorted(results.glob("madsen2020-*.jsonl"))}
    scripted = {
        (c.model, c.operation) for *_, benchmark in _published_table_script()[1] for c in benchmark.configurations()
    }
    for cell in published_table(files):
        c, key = cell.comparison, (cell.published.model, cell.published.operation)
        done = c is not None and c.other_definition is None
        done = done and (c.steps >= cell.published.needed_steps or (c.agrees and not c.lower))
        assert done or key in scripted, key


def test_the_published_table_scripts_lanes_run_side_by_side_on_files_of_their_own():
    """A results file takes one sweep at a time (its lock): a file of both lanes would stop one."""
    text, runs = _published_table_script()
    lanes = {lane for lane, *_ in runs}
    assert lanes == {"lane_one", "lane_two"}  # every run in a lane
    files = {lane: {stem for other, stem, *_ in runs if other == lane} for lane in lanes}
    assert not files["lane_one"] & files["lane_two"]


_FAKE_NALM = """#!/usr/bin/env bash
trap 'echo "interrupted $*" >> "$FAKE_LOG"; exit 130' INT
echo "start $*" >> "$FAKE_LOG"
case "$*" in *"--results benchmarks/results/$FAKE_FAIL.jsonl"*) exit 3;; esac
sleep "$FAKE_SLEEP" &
wait $!
"""


def _run_script(tmp_path, fail="", sleep=0):
    """The script, copied into tmp_path (it writes beside its results), started with a fake nalm
    that logs each command to tmp_path/log (and fails on the results file stem ``fail``)."""
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    script = Path(__file__).parents[1] / "benchmarks" / "published_table.sh"
    (tmp_path / "benchmarks" / "published_table.sh").write_text(script.read_text())
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "nalm").write_text(_FAKE_NALM)
    (tmp_path / "bin" / "nalm").chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
        "FAKE_LOG": str(tmp_path / "log"),
        "FAKE_FAIL": fail,
        "FAKE_SLEEP": str(sleep),
    }
    return subprocess.Popen(
        ["bash", str(tmp_path / "benchmarks" / "published_table.sh")],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )


def _commands(tmp_path, word="start"):
    log = tmp_path / "log"
    return [line for line in log.read_text().splitlines() if line.startswith(word)] if log.exists() else []


def test_the_published_table_script_runs_both_lanes_to_the_end(tmp_path):
    _, runs = _published_table_script()
    process = _run_script(tmp_path)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0
    assert len(_commands(tmp_path)) == len(runs)
    assert "lane one stopped (status 0)" in stderr and "lane two stopped (status 0)" in stderr


def test_a_failed_run_stops_its_lane_not_the_other_and_the_script_fails(tmp_path):
    _, runs = _published_table_script()
    first_of_two = next(stem for lane, stem, *_ in runs if lane == "lane_two")
    process = _run_script(tmp_path, fail=first_of_two)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 3
    assert len(_commands(tmp_path)) == sum(lane == "lane_one" for lane, *_ in runs) + 1
    assert "lane two stopped (status 3)" in stderr and "lane one stopped (status 0)" in stderr


def test_stopping_the_script_interrupts_both_lanes_runs_and_starts_no_other(tmp_path):
    process = _run_script(tmp_path, sleep=60)
    deadline = time.monotonic() + 30
    while len(_commands(tmp_path)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(_commands(tmp_path)) == 2  # one run of each lane, running
    process.terminate()  # SIGTERM to the script alone, as `kill PID` sends it
    _, stderr = process.communicate(timeout=30)
    assert process.returncode != 0
    assert len(_commands(tmp_path, "interrupted")) == 2  # each run got the interrupt and ended
    assert len(_commands(tmp_path)) == 2  # and no lane went on to its next run
    assert "lane one stopped (status 130)" in stderr and "lane two stopped (status 130)" in stderr

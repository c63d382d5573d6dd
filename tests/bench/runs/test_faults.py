"""Sweeps that survive faults: a killed parent, Ctrl-C, a second sweep on the same file.

These start real ``nalm bench`` processes (Linux: they read /proc for the workers), so they take
a few seconds each.
"""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nalm.bench.runs import read_results

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds worker processes through /proc")

SWEEP = [
    "-m",
    "nalm.cli",
    "bench",
    "--models",
    "nau",
    "nmu",
    "--ops",
    "add",
    "sub",
    "--seeds",
    "2",
    "--steps",
    "400000",
    "--eval-every",
    "1000",
    "--eval-size",
    "64",
    "--input-size",
    "10",
    "--threshold-samples",
    "1000",
    "--workers",
    "2",
    "--no-progress",
]
"""Four configurations on two worker processes, far too long to finish during a test."""


def children(pid):
    """The process ids whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == str(pid):
            found.append(int(entry.name))
    return found


def alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _default_ctrl_c():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(results, **options):
    """The sweep as a terminal starts it: with Ctrl-C's default action, even where the tests run
    with SIGINT ignored (a background job of a shell script inherits that)."""
    return subprocess.Popen(
        [sys.executable, *SWEEP, "--results", str(results)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_ctrl_c,
        **options,
    )


def wait_for_checkpoints(results, process, timeout=120):
    """Until every worker has written a checkpoint (so the workers are training)."""
    folder = results.with_name(results.name + ".checkpoints")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if folder.is_dir() and len([p for p in folder.iterdir() if p.suffix == ".pt"]) >= 2:
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    pytest.fail("the workers wrote no checkpoints")


def test_workers_exit_when_their_parent_is_killed(tmp_path):
    results = tmp_path / "runs.jsonl"
    process = start(results)
    wait_for_checkpoints(results, process)
    workers = [pid for pid in children(process.pid) if alive(pid)]
    assert len(workers) >= 2
    os.kill(process.pid, signal.SIGKILL)  # the parent only, not its process group
    process.wait()
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(alive(pid) for pid in workers)


def test_ctrl_c_stops_the_sweep_at_once_with_one_line(tmp_path):
    results = tmp_path / "runs.jsonl"
    process = start(results, start_new_session=True)
    wait_for_checkpoints(results, process)
    workers = [pid for pid in children(process.pid) if alive(pid)]
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole group
    began = time.monotonic()
    _, err = process.communicate(timeout=30)
    assert time.monotonic() - began < 5
    assert process.returncode == 130
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert "nalm bench: interrupted; what finished is saved" in err
    deadline = time.monotonic() + 3  # the workers were sent SIGTERM: they are gone within moments
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in workers)
    assert list(results.with_name(results.name + ".checkpoints").glob("*.pt"))  # kept for the rerun
    again = start(results, start_new_session=True)  # says where each configuration resumes, first
    stop = threading.Timer(60, os.killpg, (again.pid, signal.SIGINT))  # should the line never come
    stop.start()
    try:
        said = ""
        while "resumes from its checkpoint, at step " not in said and again.poll() is None:
            said = again.stdout.readline()
    finally:
        stop.cancel()
        with contextlib.suppress(ProcessLookupError):  # gone already
            os.killpg(again.pid, signal.SIGINT)
        again.communicate(timeout=30)
    assert "resumes from its checkpoint, at step " in said


def test_a_second_sweep_on_the_same_file_exits_at_once(tmp_path):
    results = tmp_path / "runs.jsonl"
    first = start(results)
    try:
        wait_for_checkpoints(results, first)
        second = subprocess.run(
            [sys.executable, *SWEEP, "--results", str(results)], capture_output=True, text=True, timeout=60
        )
        assert second.returncode == 2
        assert f"results file {results} is being written by another nalm bench (process {first.pid} on" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        first.kill()
        first.wait()
    assert not results.exists() or read_results(results) == []


SHORT = [
    "-m",
    "nalm.cli",
    "bench",
    "--models",
    "nau",
    "nac",
    "--ops",
    "add",
    "--seeds",
    "2",
    "--steps",
    "12000",
    "--eval-every",
    "1000",
    "--eval-size",
    "64",
    "--input-size",
    "10",
    "--threshold-samples",
    "1000",
    "--workers",
    "2",
    "--no-progress",
]
"""Two configurations on two workers, a few seconds each."""


def sweep(results, **options):
    return subprocess.Popen(
        [sys.executable, *SHORT, "--results", str(results)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **options,
    )


def finished(results):
    process = sweep(results)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert "cannot be used" not in err  # resumed from its checkpoints, not trained again from scratch
    return sorted(read_results(results), key=lambda row: (row["model"], row["seed"]))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    return finished(tmp_path_factory.mktemp("whole") / "runs.jsonl")


@pytest.mark.parametrize("moment", ["first checkpoint", "first configuration saved"])
@pytest.mark.parametrize("target", ["parent", "group"])
def test_a_sweep_killed_at_any_moment_ends_as_the_uninterrupted_one(tmp_path, uninterrupted, moment, target):
    results = tmp_path / "runs.jsonl"
    process = sweep(results, start_new_session=True)
    folder = results.with_name(results.name + ".checkpoints")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if moment == "first checkpoint" and folder.is_dir() and any(p.suffix == ".pt" for p in folder.iterdir()):
            break
        if moment == "first configuration saved" and results.exists() and results.read_bytes().count(b"\n") >= 2:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the sweep ended before the kill"
    workers = children(process.pid)
    if target == "parent":
        os.kill(process.pid, signal.SIGKILL)
    else:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert finished(results) == uninterrupted


def test_on_ray_a_task_whose_worker_dies_runs_again_with_the_same_rows(tmp_path):
    pytest.importorskip("ray")
    import threading
    from dataclasses import replace

    from nalm.bench.runs import Benchmark, ResultsFile, run_benchmark

    bench = Benchmark(
        models=("nau",),
        operations=("add",),
        seeds=2,
        steps=60_000,
        eval_every=1000,
        eval_size=64,
        input_size=10,
        threshold_samples=1000,
    )
    local = run_benchmark(ResultsFile(tmp_path / "local.jsonl", bench), workers=1)
    killed = []

    def kill_the_first_task():
        deadline = time.monotonic() + 120
        while not killed and time.monotonic() < deadline:
            for entry in Path("/proc").iterdir():
                try:
                    command = (entry / "cmdline").read_bytes()
                except OSError:
                    continue
                if b"ray::run_configuration" in command:
                    time.sleep(0.5)  # let it start training
                    os.kill(int(entry.name), signal.SIGKILL)
                    killed.append(int(entry.name))
                    return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_the_first_task)
    killer.start()
    on_ray = run_benchmark(ResultsFile(tmp_path / "ray.jsonl", replace(bench)), executor="ray")
    killer.join()
    assert killed, "no Ray task was seen to kill"
    assert on_ray == local

"""The results file: its lock and checkpoints follow its real path, every row is checked against its
grid's schema when read, and a file system that refuses a write (full, read-only) is one line."""

import json
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from nalm.bench.engine.checkpoint import set_aside_folder, write_checkpoint
from nalm.bench.runs import Benchmark, ResultsFile, read_results, run_benchmark
from nalm.bench.runs.rows import GRIDS, to_json
from nalm.cli import main

TINY = Benchmark(
    models=("nau",),
    operations=("add",),
    seeds=2,
    steps=20,
    eval_every=10,
    eval_size=64,
    input_size=10,
    threshold_samples=1_000,
)
"""The sweep of TINY_ARGS."""

TINY_ARGS = [
    "bench",
    "--preset",
    "quick",
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
    "64",
    "--input-size",
    "10",
    "--threshold-samples",
    "1000",
    "--workers",
    "1",
    "--no-progress",
]

COMMITTED = sorted((Path(__file__).parents[3] / "benchmarks" / "results").glob("*.jsonl"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A results file of TINY and its rows."""
    path = tmp_path_factory.mktemp("tiny") / "tiny.jsonl"
    return path, run_benchmark(ResultsFile(path, TINY), workers=1)


def one_line_error(capsys, argv: list[str]) -> str:
    """Run the command line, which must exit 2 with one line on stderr; return that line."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


# The lock and the checkpoints follow the file's real path.


def test_a_symlink_to_a_locked_results_file_is_refused_at_once(tmp_path):
    real = tmp_path / "r.jsonl"
    link = tmp_path / "s.jsonl"
    link.symlink_to("r.jsonl")
    first, second = ResultsFile(real, TINY), ResultsFile(link, TINY)
    with first.locked():  # as a sweep on r.jsonl holds it
        with pytest.raises(
            ValueError,
            match=f"results file {re.escape(str(link))} is being written by another nalm bench \\(process \\d+ on ",
        ):
            with second.locked():
                pass
    with second.locked():  # free again once released
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.jsonl", "r.jsonl.lock", "s.jsonl"]
    configuration, seeds = first.pending()[0]
    checkpoint = second.checkpoint(configuration, seeds)
    assert checkpoint == first.checkpoint(configuration, seeds)
    assert checkpoint.parent == tmp_path / "r.jsonl.checkpoints"
    assert set_aside_folder(checkpoint) == tmp_path / "r.jsonl.set-aside"


# Every row is checked against its grid's schema when read.


@pytest.mark.parametrize("path", COMMITTED, ids=[path.stem for path in COMMITTED])
def test_every_committed_results_file_loads(path):
    rows = read_results(path)  # a sweep still under way may not have saved a configuration yet
    assert len({json.dumps(row["settings"], sort_keys=True) for row in rows}) == (1 if rows else 0)


def test_every_field_kind_of_every_grid_has_a_check():
    from nalm.bench.runs.rows import KINDS

    for grid in GRIDS.values():
        assert set(grid.ROW_KEYS) <= set(grid.ROW_FIELDS)
        assert set(grid.ROW_FIELDS.values()) <= set(KINDS)


def _digit_row():
    """A row of the digit tasks (a baseline's, as the grid writes it)."""
    return {
        "task": "digits",
        "model": "fixed_nau",
        "model_definition": "fixed",
        "operation": "sum",
        "seed": 0,
        "settings": {"task": "digits", "steps": 20},
        "train_length": 10,
        "test_lengths": [1, 10],
        "selected_step": 10,
        "validation_mse": 1.5,
        "test_mse": [1.0, float("inf")],
        "recurrence_error": None,
        "final_step": 20,
        "final_test_mse": [1.0, float("nan")],
        "diverged": False,
    }


STATIC_CASES = [
    ("success", "yes"),
    ("extrapolation_mse", "big"),
    ("extrapolation_mse", -1.0),
    ("extrapolation_mse", None),
    ("settings", [1, 2]),
    ("settings", {"seeds": 2}),
    ("solved_at", "soon"),
    ("threshold", None),
    ("threshold", 0.0),
    ("seed", -1),
    ("seed", 1.5),
    ("seed", True),
    ("model", "lstm"),
    ("operation", "sum"),
    ("interpolation_range", [2.0, 1.0]),
    ("extrapolation_range", "U[2,6]"),
    ("sparsity_error", "small"),
    ("diverged", 0),
    ("model_definition", 3),
    ("task", "nonsense"),
]
DIGIT_CASES = [
    ("model", "relu"),
    ("operation", "add"),
    ("test_lengths", [10, 1]),
    ("test_mse", [1.0]),
    ("test_mse", [1.0, "inf"]),
    ("recurrence_error", -0.5),
    ("train_length", 0),
    ("final_step", -1),
]


@pytest.mark.parametrize(
    ("task", "field", "value"), [("static", *c) for c in STATIC_CASES] + [("digits", *c) for c in DIGIT_CASES]
)
def test_a_row_whose_field_is_not_of_its_kind_is_refused_naming_the_file_and_the_line(
    tiny, tmp_path, task, field, value
):
    good = tiny[1][0] if task == "static" else _digit_row()
    path = tmp_path / "bad.jsonl"
    path.write_text(
        "".join(to_json({**good, "seed": seed}) + "\n" for seed in (0, 1)) + json.dumps({**good, field: value}) + "\n"
    )
    with pytest.raises(
        ValueError,
        match=f"^{re.escape(str(path))} is not a results file of nalm bench: line 3 is not a run \\(its {field} is ",
    ):
        read_results(path)


@pytest.mark.parametrize(
    "marks", [{"extrapolation_mse": "big"}, ["extrapolation_mse"], {"test_mse": ["nan"]}, {"no_such_field": "nan"}]
)
def test_a_row_whose_non_finite_field_is_not_as_written_is_refused_by_its_line(tiny, tmp_path, marks):
    path = tmp_path / "bad.jsonl"
    path.write_text(to_json(tiny[1][0]) + "\n" + json.dumps({**tiny[1][1], "non_finite": marks}) + "\n")
    with pytest.raises(ValueError, match="line 2 is not a run \\(its non_finite is "):
        read_results(path)


@pytest.mark.parametrize(
    ("field", "value"), [("success", "yes"), ("extrapolation_mse", "big"), ("interpolation_range", [2, 1])]
)
def test_nalm_report_on_a_bad_row_is_one_line(tiny, tmp_path, capsys, field, value):
    path = tmp_path / "bad.jsonl"
    path.write_text(to_json(tiny[1][0]) + "\n" + json.dumps({**tiny[1][1], field: value}) + "\n")
    err = one_line_error(capsys, ["report", str(path), "--out", str(tmp_path / "report")])
    assert f"{path} is not a results file of nalm bench: line 2 is not a run (its {field} is " in err
    assert not (tmp_path / "report").exists()


def test_a_row_of_other_settings_is_refused_even_where_it_repeats_a_run(tiny, tmp_path, capsys):
    path, rows = tiny
    mixed = tmp_path / "mixed.jsonl"
    other = replace(TINY, steps=30).settings()
    mixed.write_bytes(
        path.read_bytes() + (to_json({**rows[0], "settings": other}) + "\n").encode()
    )  # same model, operation, seed
    message = f"{mixed} mixes runs of different settings: line 3 was written by another benchmark than line 1 (steps 30 on line 3, 20 on line 1)"
    with pytest.raises(ValueError, match=re.escape(message)):
        read_results(mixed)
    with pytest.raises(ValueError, match=re.escape(message)):
        ResultsFile(mixed, TINY)
    assert message in one_line_error(capsys, ["report", str(mixed), "--out", str(tmp_path / "report")])


def test_read_results_keeps_a_complete_last_row_without_its_newline(tiny, tmp_path):
    path, rows = tiny
    no_newline = tmp_path / "no_newline.jsonl"
    no_newline.write_bytes(path.read_bytes().rstrip(b"\n"))
    assert read_results(no_newline) == rows
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(path.read_bytes().rstrip(b"\n")[:-5])  # a last line cut off by a kill is left out
    assert read_results(cut) == rows[:-1]


# A file system that refuses a write is one line naming the path, with nothing half-written.


def _partials(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".partial")]


@pytest.mark.parametrize("refuses", ["lock", "checkpoint"])
def test_nalm_bench_on_a_full_disk_is_one_line_naming_the_path(disks, tmp_path, capsys, refuses):
    with disks.mounted(tmp_path / "disk") as disk:
        results = disk / "r.jsonl"
        if refuses == "checkpoint":  # a lock written by an earlier sweep: its page is rewritten, not added
            (disk / "r.jsonl.lock").write_text("process 1 on a machine that ran this before")
        disks.fill(disk)
        err = one_line_error(capsys, [*TINY_ARGS, "--results", str(results)])
        if refuses == "lock":
            assert f"cannot write the lock file {disk / 'r.jsonl.lock'}: No space left on device; free space" in err
        else:
            assert f"cannot write checkpoint {disk / 'r.jsonl.checkpoints'}/nau-add-" in err
            assert "No space left on device; free space on its disk or choose another --results folder" in err
        assert _partials(disk) == [] and results.read_bytes() == b""


def test_rows_appended_to_a_full_disk_leave_the_file_as_it_was(disks, tiny, tmp_path):
    _, rows = tiny
    with disks.mounted(tmp_path / "disk") as disk:
        results = disk / "r.jsonl"
        results.write_text(to_json(rows[0]) + "\n")
        before = results.read_bytes()
        file = ResultsFile(results, TINY)
        disks.fill(disk)  # the file's page has room for a part of the rows, not all
        with pytest.raises(
            ValueError,
            match=f"cannot write results file {re.escape(str(results))}: No space left on device; free space",
        ):
            file.append(rows * 3)
        assert results.read_bytes() == before
        assert file.missing_seeds(TINY.configurations()[0]) == (1,)


def test_a_checkpoint_that_does_not_fit_is_one_error_and_no_temporary(disks, tmp_path):
    with disks.mounted(tmp_path / "disk") as disk:
        disks.fill(disk)
        path = disk / "r.jsonl.checkpoints" / "nau-add-0.pt"
        with pytest.raises(
            ValueError,
            match=f"cannot write checkpoint {re.escape(str(path))}: No space left on device; free space on its disk or choose another --results folder",
        ):
            write_checkpoint(path, {"step": 1, "weights": list(range(10_000))})
        assert list(path.parent.iterdir()) == []


def test_a_results_folder_that_is_not_writable_is_refused_before_training(disks, tmp_path, capsys):
    """The results file and its lock can be written (here: bind-mounted from a writable disk), its
    folder cannot: the checkpoints could not be written, which is said before any training."""
    writable = tmp_path / "writable"
    writable.mkdir()
    with disks.mounted(tmp_path / "results") as folder:
        for name in ("r.jsonl", "r.jsonl.lock"):
            (writable / name).touch()
            (folder / name).touch()
            subprocess.run(["mount", "--bind", str(writable / name), str(folder / name)], check=True)
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        message = f"cannot create files in the results folder {folder} (Read-only file system)"
        with pytest.raises(ValueError, match=re.escape(message)):
            ResultsFile(folder / "r.jsonl", TINY)
        err = one_line_error(capsys, [*TINY_ARGS, "--results", str(folder / "r.jsonl")])
        assert message in err and "choose another --results path" in err
        assert sorted(p.name for p in folder.iterdir()) == ["r.jsonl", "r.jsonl.lock"]
        assert (writable / "r.jsonl").read_bytes() == b""

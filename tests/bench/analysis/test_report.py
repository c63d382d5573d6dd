"""nalm report: every complete row counted, and a report folder that cannot take the report (a full
disk) is one line, leaving nothing half-written: no report.md, no PNG, no temporary file."""

import pytest

from nalm.bench.runs import Benchmark, ResultsFile, run_benchmark
from nalm.cli import main

TWO = Benchmark(
    models=("nau", "nmu"),
    operations=("add",),
    seeds=2,
    steps=20,
    eval_every=10,
    eval_size=64,
    input_size=10,
    threshold_samples=1_000,
)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A results file of TWO: 4 runs."""
    path = tmp_path_factory.mktemp("results") / "runs.jsonl"
    run_benchmark(ResultsFile(path, TWO), workers=1)
    return path


def test_a_complete_last_row_without_its_newline_is_reported(results, tmp_path):
    no_newline = tmp_path / "no_newline.jsonl"
    no_newline.write_bytes(results.read_bytes().rstrip(b"\n"))  # e.g. a hand-edited file
    assert main(["report", str(no_newline), "--out", str(tmp_path / "report")]) == 0
    table = (tmp_path / "report" / "report.md").read_text()
    assert table.startswith("# Benchmark results\n\n4 runs.\n\n")  # not 3: the last row is kept
    assert "| nau add | " in table and "| nmu add | " in table
    assert len(no_newline.read_text().splitlines()) == 4  # the file is left as it was


def test_a_report_is_written_whole_and_replaces_the_old_one(results, tmp_path):
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.md").write_text("an older report\n")
    assert main(["report", str(results), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["extrapolation_error.png", "report.md", "success_rate.png"]
    assert (out / "report.md").read_text().startswith("# Benchmark results\n\n4 runs.\n\n")
    assert all(
        (out / name).read_bytes().startswith(b"\x89PNG") for name in ("success_rate.png", "extrapolation_error.png")
    )


@pytest.mark.parametrize(
    ("leave_pages", "old_report"),
    [(0, False), (1, False), (1, True)],
    ids=["report.md does not fit", "only report.md fits", "over an older report"],
)
def test_nalm_report_on_a_full_disk_is_one_line_and_leaves_nothing_half_written(
    disks, results, tmp_path, capsys, leave_pages, old_report
):
    with disks.mounted(tmp_path / "disk") as disk:
        out = disk / "report"
        if old_report:
            out.mkdir()
            (out / "report.md").write_text("an older report\n")
        disks.fill(disk, leave_pages)
        with pytest.raises(SystemExit) as exit_info:
            main(["report", str(results), "--out", str(out)])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, err
        name = "report.md" if leave_pages == 0 else "success_rate.png"
        assert f"cannot write the report's file {out / name}: No space left on device; free space on its disk" in err
        left = sorted(p.name for p in disk.rglob("*") if p.name != "filler")
        assert left == (["report", "report.md"] if old_report else [])  # no new report.md, no PNG, no *.partial
        if old_report:
            assert (out / "report.md").read_text() == "an older report\n"

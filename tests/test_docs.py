"""The README and the docs site say what the code does now: their generated tables and quoted
outputs are what `docs/generate.py` writes today, every committed report is what `nalm report`
writes, and the API reference covers every unit in both frameworks."""

import importlib.util
import re
from pathlib import Path

import pytest

from nalm.bench.analysis.report import report_text
from nalm.bench.runs.results_file import read_results

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _generator():
    spec = importlib.util.spec_from_file_location("generate", ROOT / "docs" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_is_short_and_opens_with_the_two_commands():
    assert len(README.splitlines()) <= 200
    commands = re.search(r"```bash\n(.*?)```", README, flags=re.DOTALL).group(1).strip().splitlines()
    assert len(commands) == 2
    assert "pip install" in commands[0] and "nalm train" in commands[0]
    assert "pytest" in commands[1] and "mkdocs build --strict" in commands[1]
    assert "KERAS_BACKEND=jax" in commands[1] and "KERAS_BACKEND=tensorflow" in commands[1]


def test_generated_parts_are_current():
    """Run `python docs/generate.py` when this fails: a results file, a report or a command's
    output changed, and the pages must show it."""
    stale = _generator().stale_pages()
    assert not stale, f"not current: {sorted(str(p.relative_to(ROOT)) for p in stale)}"


def test_generator_refuses_unknown_directives_naming_the_page():
    generator = _generator()
    with pytest.raises(ValueError, match="unknown directive"):
        generator.render("tabel benchmarks/results/quick.jsonl")
    with pytest.raises(ValueError, match="unknown report part"):
        generator.render("report benchmarks/results/quick.jsonl everything")
    page = "x\n<!-- generated: units tall -->\n<!-- end generated -->\n"
    with pytest.raises(ValueError, match=r"^p\.md: <!-- generated: units tall --> failed: unknown directive"):
        generator.regenerate(page, "p.md")
    with pytest.raises(ValueError, match="p.md: 1 .* markers and 0 .* markers do not pair up"):
        generator.regenerate("<!-- generated: units full -->\n", "p.md")
    assert generator.regenerate("<!-- generated: units full -->\nold\n<!-- end generated -->\n").count("| `nau` |") == 1


def test_generated_parts_are_the_reports_tables():
    """A generated block holds what its directive writes, e.g. the units table the definitions give."""
    generator = _generator()
    from nalm.torch import UNITS
    from nalm.units import DEFINITIONS

    table = generator.render("units short")
    assert re.findall(r"^\| `(\w+)` \|", table, flags=re.MULTILINE) == list(UNITS.names())
    assert all(unit.formula_text in table for unit in DEFINITIONS.values())
    summary = generator.render("report benchmarks/results/quick.jsonl summary")
    assert summary in report_text(read_results(ROOT / "benchmarks/results/quick.jsonl"))


def test_the_runs_table_has_a_row_per_file_and_refuses_a_file_of_several_runs():
    generator = _generator()
    search = "benchmarks/results/division-search"
    files = [
        f"{search}/static-sqrt-nau_nac_mul-dev.jsonl",
        f"{search}/static-sqrt-nau_nac_mul-hidden1-20x50k-dev.jsonl",
    ]
    table = generator.render("runs " + " ".join(files)).splitlines()
    assert len(table) == 4 and "10 attempts" in table[2] and "| 2 | 2e6 | 0.001 | 16/25 = 64% [45%, 80%] |" in table[2]
    assert "20 attempts" in table[3] and "| 1 | 1e6 | 0.001 |" in table[3]
    assert "min(\\|W\\|" in table[2]  # a model's | would split the Markdown cell
    with pytest.raises(ValueError, match="a row of this table is one of each"):
        generator.render(f"runs {search}/probe-noise.jsonl")  # two ranges


def test_published_cells_are_the_published_tables_rows_of_those_operations():
    generator = _generator()
    cells = generator.render("published-cells div,sqrt benchmarks/results/madsen2020-200k.jsonl").splitlines()[2:]
    assert len(cells) == 16 and {line.split(" | ")[0] for line in cells} == {"| div", "| sqrt"}
    with pytest.raises(ValueError, match=r"unknown operations \['dvi'\]"):
        generator.render("published-cells dvi benchmarks/results/madsen2020-200k.jsonl")


REPORTS = sorted(p.parent for p in (ROOT / "benchmarks" / "results").glob("*/report.md"))


@pytest.mark.parametrize("folder", REPORTS, ids=[p.name for p in REPORTS])
def test_committed_report_is_what_nalm_report_writes(folder):
    rows = read_results(folder.with_suffix(".jsonl"))
    assert (folder / "report.md").read_text(encoding="utf-8") == report_text(rows)


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_api_reference_covers_every_unit(framework):
    """docs/api/torch.md and keras.md render the module of every registered unit and of Recurrent
    (and of build_head): a new unit's module must be added there."""
    if framework == "torch":
        from nalm.torch import UNITS, Recurrent, build_head

        modules = {Recurrent.__module__, build_head.__module__}
    else:
        pytest.importorskip("keras")
        from nalm.keras import UNITS, Recurrent

        modules = {Recurrent.__module__}
    page = (ROOT / "docs" / "api" / f"{framework}.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^::: (\S+)", page, flags=re.MULTILINE))
    assert modules | {UNITS.get(name).__module__ for name in UNITS.names()} <= documented

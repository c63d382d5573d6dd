"""README.md never lies: its Python examples run, and its unit table matches the registry."""

import re
from pathlib import Path

import pytest

from nalm.torch import UNITS

README = (Path(__file__).parents[1] / "README.md").read_text()
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)


def test_readme_has_examples():
    assert len(PYTHON_BLOCKS) >= 2


@pytest.mark.parametrize("code", PYTHON_BLOCKS, ids=[f"block{i}" for i in range(len(PYTHON_BLOCKS))])
def test_python_example_runs(code, tmp_path, monkeypatch):
    if "keras" in code:
        pytest.importorskip("keras")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {"__name__": "readme_example"})


def test_unit_table_lists_every_registered_unit():
    table = README.split("## Units", 1)[1].split("\n\n")[1]
    names = re.findall(r"^\| `(\w+)` \|", table, flags=re.MULTILINE)
    assert tuple(names) == UNITS.names()


def test_unit_table_is_the_units_definitions():
    """Each row: the registry name, the constructor with every option's default, the formula."""
    from nalm.units import DEFINITIONS

    table = README.split("## Units", 1)[1].split("\n\n")[1]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    expected = [
        f"| `{name}` | `nalm.torch.{UNITS.get(name).__name__}({unit.signature('torch')})` | {unit.formula_text} "
        "| (..., in) → (..., out) |"
        for name, unit in DEFINITIONS.items()
    ]
    assert rows == expected


def test_first_block_holds_the_install_and_test_commands():
    commands = re.search(r"```bash\n(.*?)```", README, flags=re.DOTALL).group(1).strip().splitlines()
    assert len(commands) == 2
    assert "pip install" in commands[0] and "nalm train" in commands[0]
    assert "pytest" in commands[1]

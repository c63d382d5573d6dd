"""README.md and the docs never lie: every Python example in them runs, and every `nalm` command
they show parses."""

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _blocks(language: str) -> list[tuple[str, str]]:
    """(page:index, code) of every fenced block of ``language`` in the README and the docs."""
    found = []
    for page in PAGES:
        blocks = re.findall(rf"^```{language}\n(.*?)^```", page.read_text(encoding="utf-8"), re.DOTALL | re.MULTILINE)
        found += [(f"{page.relative_to(ROOT)}:{i}", code) for i, code in enumerate(blocks)]
    return found


PYTHON = _blocks("python")
COMMANDS = [
    (name, line)
    for name, code in _blocks("bash")
    for line in code.replace("\\\n", " ").splitlines()
    if line.startswith("nalm ")
]


def test_pages_have_examples():
    assert len(PYTHON) >= 8 and len(COMMANDS) >= 20


@pytest.mark.parametrize("code", [code for _, code in PYTHON], ids=[name for name, _ in PYTHON])
def test_python_example_runs(code, tmp_path, monkeypatch):
    if "keras" in code:
        pytest.importorskip("keras")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "example", "exec"), {"__name__": "example"})


@pytest.mark.parametrize("line", [line for _, line in COMMANDS], ids=[name for name, _ in COMMANDS])
def test_nalm_command_parses(line):
    """Each `nalm ...` line of a bash block is a valid command line (parsed, not run)."""
    from nalm.cli import build_parser

    words = shlex.split(line.split("#")[0])[1:]
    build_parser().parse_args(words)

"""What an install of nalm holds: the units without the benchmark's packages, the one version, the
citation file, and the sdist and wheel that ``python -m build`` makes (installed in a fresh venv)."""

import ast
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

import nalm

ROOT = Path(__file__).resolve().parent.parent
BENCH_EXTRA = ("numba", "rich")
"""The ``bench`` extra: what the command line needs beyond the units' torch and numpy."""


def _python(code: str, *, blocked: tuple[str, ...], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a new interpreter in which importing any of ``blocked`` fails, as if not installed."""
    prelude = f"import sys\nfor name in {blocked!r}:\n    sys.modules[name] = None  # import fails: not installed\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, **env},
    )


def _bench_imports(path: str) -> set[str]:
    """Which of the bench extra's packages a source file imports, wherever in it (functions included)."""
    names = set()
    for node in ast.walk(ast.parse(Path(path).read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.partition(".")[0])
    return names & set(BENCH_EXTRA)


# --- the units without the bench extra ------------------------------------------------------------

UNITS_RUN = """
import json
import nalm, nalm.torch, torch
y = nalm.torch.NAU(3, 2)(torch.ones(4, 3))
assert y.shape == (4, 2) and bool(torch.isfinite(y).all())
loaded = {name: sys.modules.get(name) is not None for name in ("numba", "rich")}
files = sorted(m.__file__ for name, m in sys.modules.items() if name.startswith("nalm") and m is not None)
print(json.dumps({"loaded": loaded, "files": files}))
"""


def test_nalm_and_its_torch_units_import_and_run_without_numba_or_rich(tmp_path):
    result = _python(UNITS_RUN, blocked=BENCH_EXTRA, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["loaded"] == {"numba": False, "rich": False}
    assert {path: _bench_imports(path) for path in report["files"] if _bench_imports(path)} == {}


def test_nalm_keras_imports_and_runs_without_numba(tmp_path):
    """rich is Keras's own dependency, so only numba is blocked; no module of nalm that
    ``import nalm.keras`` loads names numba or rich in any import (functions included)."""
    pytest.importorskip("keras")
    code = """
    import json
    import nalm, nalm.keras, numpy as np
    y = nalm.keras.NAU(2)(np.ones((4, 3), dtype="float32"))
    assert tuple(y.shape) == (4, 2)
    files = sorted(m.__file__ for name, m in sys.modules.items() if name.startswith("nalm") and m is not None)
    print(json.dumps({"numba": sys.modules.get("numba") is not None, "files": files}))
    """
    result = _python(code, blocked=("numba",), cwd=tmp_path, KERAS_BACKEND="torch")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["numba"] is False
    assert any(path.endswith(os.path.join("keras", "nau.py")) for path in report["files"])
    assert {path: _bench_imports(path) for path in report["files"] if _bench_imports(path)} == {}


# --- the command line without the bench extra -------------------------------------------------------


def _console_script() -> Path | None:
    script = Path(sys.executable).with_name("nalm")
    return script if script.is_file() else None


@pytest.mark.parametrize(
    ("blocked", "missing"),
    [(("numba",), "numba is not installed"), (BENCH_EXTRA, "numba and rich are not installed")],
)
@pytest.mark.parametrize(
    "args",
    [["bench", "--results", "r.jsonl"], ["train"], ["report", "r.jsonl"], ["--help"]],
    ids=lambda args: args[0],
)
def test_the_command_line_without_the_bench_extra_is_one_line_and_exit_2(args, blocked, missing, tmp_path):
    """Through ``python -m nalm`` (the console script runs the same ``nalm.__main__.main``)."""
    code = f"""
    import runpy
    sys.argv = ["nalm", *{args!r}]
    runpy.run_module("nalm", run_name="__main__")
    """
    result = _python(code, blocked=blocked, cwd=tmp_path)
    command = "nalm" if args[0].startswith("-") else f"nalm {args[0]}"
    assert result.returncode == 2
    assert result.stderr == (
        f"{command} needs the benchmark's dependencies ({missing}): pip install 'nalm[bench]'\n"
    ), result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "r.jsonl").exists()


def test_the_console_script_without_numba_is_one_line_and_exit_2(tmp_path):
    """The installed ``nalm`` command, numba hidden by a sitecustomize on PYTHONPATH."""
    script = _console_script()
    if script is None:
        pytest.skip("no nalm console script beside this Python")
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['numba'] = None\n")
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    result = subprocess.run(
        [str(script), "bench", "--results", str(tmp_path / "r.jsonl")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": path},
    )
    assert result.returncode == 2
    assert result.stderr == (
        "nalm bench needs the benchmark's dependencies (numba is not installed): pip install 'nalm[bench]'\n"
    )


def test_an_installed_but_broken_dependency_is_named_on_the_one_line(monkeypatch):
    from nalm.bench import require_dependencies
    from nalm.validation import MissingDependencyError

    real_import = importlib.import_module

    def import_module(name, *args, **kwargs):
        if name == "numba":
            raise ImportError("Numba needs NumPy 2.2 or less.\nGot NumPy 2.4.")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", import_module)
    with pytest.raises(MissingDependencyError) as error:
        require_dependencies("nalm bench")
    assert str(error.value) == (
        "nalm bench needs the benchmark's dependencies (numba does not import: Numba needs NumPy 2.2 or "
        "less. Got NumPy 2.4.): pip install 'nalm[bench]'"
    )


def test_the_bench_extra_is_what_the_command_line_checks():
    from nalm.bench import DEPENDENCIES

    extras = _pyproject()["project"]["optional-dependencies"]
    assert sorted(_name(requirement) for requirement in extras["bench"]) == sorted(DEPENDENCIES)
    assert sorted(DEPENDENCIES) == sorted(BENCH_EXTRA)


# --- one version -------------------------------------------------------------------------------------


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 on
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[(]", requirement.strip(), maxsplit=1)[0].lower()


def test_the_version_is_pyprojects_as_installed():
    """pyproject.toml holds the one version; nalm.__version__ reads the installed distribution's
    (an editable install made before a version change needs reinstalling: pip install -e .)."""
    assert nalm.__version__ == importlib.metadata.version("nalm")
    assert nalm.__version__ == _pyproject()["project"]["version"], "reinstall: pip install -e ."


def test_rows_record_the_one_version():
    pytest.importorskip("numba")
    from nalm.bench.runs.runner import provenance

    assert provenance("cpu")["nalm"] == importlib.metadata.version("nalm")


# --- the citation file -------------------------------------------------------------------------------


def test_the_citation_file_is_cff_1_2_of_this_version_citing_the_units_papers():
    yaml = pytest.importorskip("yaml")
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert citation["cff-version"] == "1.2.0"
    assert citation["title"] == "nalm" and citation["type"] == "software"
    assert citation["authors"] == [{"name": "nalm developers"}]
    assert str(citation["version"]) == nalm.__version__
    assert citation["license"] == _pyproject()["project"]["license"] == "MIT"
    for field in ("message", "references"):
        assert citation[field]
    arxiv = {
        identifier["value"]
        for reference in citation["references"]
        for identifier in reference.get("identifiers", ())
        if identifier["type"] == "other"
    }
    assert arxiv == {f"arXiv:{n}" for n in ("1808.00508", "2001.05016", "2003.07629", "2006.01681", "2101.09530")}
    for reference in citation["references"]:
        assert reference["title"] and isinstance(reference["year"], int) and reference["authors"]
        assert all(author["family-names"] and author["given-names"] for author in reference["authors"])
        assert reference["url"] == "https://arxiv.org/abs/" + next(iter(_arxiv_ids(reference)))


def _arxiv_ids(reference: dict) -> set[str]:
    return {i["value"].removeprefix("arXiv:") for i in reference.get("identifiers", ()) if i["type"] == "other"}


# --- the sdist and wheel, installed in a fresh venv -------------------------------------------------


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)
    assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _not_sources(folder: str, names: list[str]) -> set[str]:
    """What a fresh clone lacks (environments, caches, build outputs) and the benchmark's results."""
    left_out = {
        ".git",
        "build",
        "dist",
        "site",
        "__pycache__",
        ".pytest_cache",
        ".hypothesis",
        ".mypy_cache",
        ".ruff_cache",
    }
    if Path(folder).name == "benchmarks":
        left_out.add("results")
    return {
        name
        for name in names
        if name in left_out or name.startswith(".venv") or name.endswith((".egg-info", ".checkpoints", ".lock"))
    }


def _package_files(root: Path) -> set[str]:
    return {path.relative_to(root).as_posix() for path in root.rglob("*.py") if "__pycache__" not in path.parts}


@pytest.mark.slow
def test_the_sdist_and_wheel_install_the_units_alone_in_a_fresh_venv(tmp_path):
    """``python -m build`` makes the sdist, then the wheel from it (so the sdist builds); the wheel
    installs in a venv without this one's packages, where pip brings torch and numpy alone, the
    units run, and the command line asks for the bench extra. Without isolation the build reuses
    this environment's setuptools instead of downloading one; torch comes from a wheel on this
    machine's disk (pip's configured find-links), never from the network (skipped otherwise)."""
    pytest.importorskip("build")
    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("python -m build --no-isolation needs setuptools in this environment")
    import torch

    started = time.monotonic()
    tree, dist = tmp_path / "tree", tmp_path / "dist"
    shutil.copytree(ROOT, tree, ignore=_not_sources)  # as a fresh clone has it; the build writes nothing here
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(tree)], cwd=tmp_path)
    version = nalm.__version__
    sdist, wheel = dist / f"nalm-{version}.tar.gz", dist / f"nalm-{version}-py3-none-any.whl"
    assert sorted(dist.iterdir()) == sorted([sdist, wheel])
    sources = _package_files(ROOT / "src" / "nalm")

    with tarfile.open(sdist) as archive:
        names = {name.removeprefix(f"nalm-{version}/") for name in archive.getnames()}
    assert {f"src/nalm/{name}" for name in sources} | {"src/nalm/py.typed"} <= names
    assert {"LICENSE", "README.md", "pyproject.toml", "CHANGELOG.md", "CITATION.cff"} <= names
    assert not any(name.startswith("tests/") for name in names)

    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"nalm-{version}.dist-info/METADATA").decode()
        entry_points = archive.read(f"nalm-{version}.dist-info/entry_points.txt").decode()
    assert {f"nalm/{name}" for name in sources} | {"nalm/py.typed"} <= names
    assert not any(name.startswith("tests/") for name in names)
    requires = re.findall(r"^Requires-Dist: (.*)$", metadata, flags=re.MULTILINE)
    assert sorted(_name(r) for r in requires if "extra ==" not in r) == ["numpy", "torch"]
    bench = [r for r in requires if re.search(r"""extra == ['"]bench['"]""", r)]
    assert sorted(_name(r) for r in bench) == sorted(BENCH_EXTRA)
    assert "nalm = nalm.__main__:main" in entry_points
    built = time.monotonic()

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])  # no --system-site-packages: nothing of ours leaks in
    python = venv / "bin" / "python"
    pip = [str(python), "-m", "pip", "--disable-pip-version-check", "--retries", "1", "--timeout", "30"]
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    local_torch = subprocess.run(
        [*pip, "install", "--no-index", "--no-deps", f"torch=={torch.__version__.partition('+')[0]}"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    if local_torch.returncode != 0:
        pytest.skip(f"no torch {torch.__version__} wheel on this machine's disk: it would be downloaded")
    _run([*pip, "install", str(wheel)], env=env)  # its dependencies as pip resolves them: torch's, numpy
    _run([*pip, "check"], env=env)
    installed = {
        package["name"].lower() for package in json.loads(_run([*pip, "list", "--format=json"], env=env).stdout)
    }
    assert "nalm" in installed and {"torch", "numpy"} <= installed
    assert not installed & {"numba", "rich", "keras", "llvmlite"}, installed
    installed_at = time.monotonic()

    smoke = """
    import sys
    import nalm, nalm.torch, torch
    assert nalm.__file__.startswith(sys.prefix), nalm.__file__
    y = nalm.torch.NAU(3, 2)(torch.ones(4, 3))
    assert y.shape == (4, 2) and bool(torch.isfinite(y).all())
    print(nalm.__version__)
    """
    result = _run([str(python), "-c", textwrap.dedent(smoke)], cwd=tmp_path, env=env)
    assert result.stdout.strip() == version
    result = subprocess.run(
        [str(venv / "bin" / "nalm"), "bench"], capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env
    )
    assert result.returncode == 2
    assert result.stderr == (
        "nalm bench needs the benchmark's dependencies (numba and rich are not installed): pip install 'nalm[bench]'\n"
    )
    print(
        f"build {built - started:.1f} s, fresh venv and install {installed_at - built:.1f} s, "
        f"smoke test {time.monotonic() - installed_at:.1f} s"
    )

"""The arithmetic benchmark as a pipeline, each stage importing only those before it:

tasks (data streams, tasks, thresholds) -> models (published and digit models) -> engine (stacked
seeds, the Problem of each task, the one training loop, compiled kernels, run state) -> runs
(grids, presets, rows, results files, runner, executors) -> analysis (statistics, summaries,
published comparison, report).
"""

import importlib

from nalm.validation import MissingDependencyError

DEPENDENCIES = ("numba", "rich")
"""What the benchmark and the command line need beyond the units' torch and numpy: the ``bench``
extra (numba compiles the data streams and kernels, rich draws the command line's tables)."""


def require_dependencies(what: str) -> None:
    """Import each of [`DEPENDENCIES`][nalm.bench.DEPENDENCIES], or raise
    [`MissingDependencyError`][nalm.validation.MissingDependencyError] saying that ``what`` (e.g.
    "nalm bench") needs them and how to install them."""
    missing, broken = [], []
    for name in DEPENDENCIES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as error:
            missing.append(error.name or name)
        except ImportError as error:  # installed but broken, e.g. a numba built for another NumPy
            broken.append(f"{name} does not import: {' '.join(str(error).split())}")  # on one line
    if missing or broken:
        reasons = [f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed"] if missing else []
        raise MissingDependencyError(
            f"{what} needs the benchmark's dependencies ({'; '.join(reasons + broken)}): pip install 'nalm[bench]'"
        )

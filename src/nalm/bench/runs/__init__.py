"""The benchmark's runs: one grid base for every task, the presets, rows and the results file with
its lock and checkpoints, the runner and its executors (local processes, Ray). Imports only the
tasks, models and engine of nalm.bench."""

from nalm.bench.runs.digit_grid import SequenceBenchmark, SequenceConfiguration
from nalm.bench.runs.grid import Grid, Row
from nalm.bench.runs.language_grid import LanguageBenchmark, LanguageConfiguration
from nalm.bench.runs.presets import ALL_PRESETS, LANGUAGE_PRESETS, PRESETS, SEQUENCE_PRESETS, SINGLE_RANGES, preset
from nalm.bench.runs.results_file import ResultsFile, read_results
from nalm.bench.runs.rows import configuration_of
from nalm.bench.runs.runner import EXECUTORS, run_benchmark, run_configuration
from nalm.bench.runs.static_grid import Benchmark, Configuration

__all__ = [
    "ALL_PRESETS",
    "EXECUTORS",
    "PRESETS",
    "SEQUENCE_PRESETS",
    "SINGLE_RANGES",
    "Benchmark",
    "Configuration",
    "Grid",
    "LANGUAGE_PRESETS",
    "LanguageBenchmark",
    "LanguageConfiguration",
    "ResultsFile",
    "Row",
    "SequenceBenchmark",
    "SequenceConfiguration",
    "configuration_of",
    "preset",
    "read_results",
    "run_benchmark",
    "run_configuration",
]

"""Run a benchmark and keep its results: one JSON line per run (model, operation, ranges, seed).

Each configuration's runs are appended and flushed as soon as it finishes; while it trains, its
state is checkpointed at every evaluation (in the folder RESULTS.checkpoints, removed once the
rows are saved). A sweep that is killed loses at most the steps since the last evaluation of the
configurations in flight: the same command run again trains only what the file lacks, resuming
those configurations from their checkpoints. Every line carries the benchmark's settings
(:meth:`Benchmark.settings`) and its model's definition (layers and schedule,
:meth:`nalm.bench.models.Model.describe`); a file written with other settings or model
definitions is refused, never mixed.

Per run, following Madsen and Johansen 2020: the selected evaluation is the one with the lowest
interpolation MSE; ``success`` = its extrapolation MSE < the task's threshold; ``solved_at`` =
the first evaluation step with extrapolation MSE < threshold (successful runs only). The NALU
paper's normalized error is 100 * final MSE / (the same seed's MSE at initialization, step 0).
The sparsity error is read at the selected step, like the errors.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import multiprocessing
import os
import shutil
import signal
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import torch

from nalm.bench.data import SeedStreams
from nalm.bench.grid import Benchmark, Configuration
from nalm.bench.metrics import success_threshold
from nalm.bench.models import MODELS, build_published_model
from nalm.bench.fused import plan
from nalm.bench.seeds import stack_seeds, train_seeds
from nalm.bench.digit_models import SEQUENCE_MODELS
from nalm.bench.digits import SEQUENCE_OPERATIONS
from nalm.bench.sequence_grid import SequenceBenchmark, SequenceConfiguration, run_sequence_configuration
from nalm.bench.tasks import StaticArithmeticTask, value_range
from nalm.bench.trainer import TrainConfig, TrainResult, mean_squared_error
from nalm.validation import choice, positive_int

Row = dict[str, Any]
"""One run's results, as written to the file."""

EXECUTORS = ("local", "ray")
"""Where configurations train: processes on this machine, or tasks on a Ray cluster."""


class MissingDependencyError(RuntimeError):
    """An optional package that was asked for is not installed."""


@functools.lru_cache(maxsize=None)
def _threshold(task: StaticArithmeticTask, samples: int, hidden_layer: bool) -> float:
    """:func:`success_threshold`, once per task and process."""
    return success_threshold(task, samples=samples, hidden_layer=hidden_layer)


def initial_errors(
    build: Callable[[], torch.nn.Module], task: StaticArithmeticTask, config: TrainConfig, seed: int
) -> tuple[float, float]:
    """Seed ``seed``'s (interpolation, extrapolation) MSE at initialization, on the evaluation sets
    its training run uses (the model built after ``torch.manual_seed(seed)``, as :func:`nalm.bench.seeds.stack_seeds` builds it)."""
    torch.manual_seed(seed)
    model = build()
    device = next(model.parameters()).device
    subsets = [task.subsets(seed)]
    errors = []
    for stream, bounds in (("interpolation", task.interpolation_range), ("extrapolation", task.extrapolation_range)):
        x, target = task.sample(config.eval_size, bounds, subsets, SeedStreams([seed], stream), device=device)
        errors.append(mean_squared_error(model, x[0], target[0]))
    return errors[0], errors[1]


def _normalized(mse: float, initial: float) -> float:
    """100 * mse / initial: 100 is as bad as the untrained model, 0 is exact."""
    return 100 * mse / initial if initial > 0 else math.nan


def _row(
    benchmark: Benchmark | SequenceBenchmark,
    configuration: Configuration,
    seed: int,
    result: TrainResult,
    threshold: float,
    initial: tuple[float, float],
) -> Row:
    """The line of one run (see the module docstring for the measures)."""
    selected, final = result.best, result.final
    success = selected.extrapolation_mse < threshold
    solved = [e.step for e in result.evaluations if e.extrapolation_mse < threshold]
    return {
        "model": configuration.model,
        "model_definition": MODELS[configuration.model].describe(),
        "operation": configuration.operation,
        "interpolation_range": configuration.interpolation_range,
        "extrapolation_range": configuration.extrapolation_range,
        "seed": seed,
        "settings": benchmark.settings(),
        "threshold": threshold,
        "success": success,
        "solved_at": solved[0] if success else None,
        "selected_step": selected.step,
        "interpolation_mse": selected.interpolation_mse,
        "extrapolation_mse": selected.extrapolation_mse,
        "sparsity_error": selected.sparsity_error,
        "final_step": final.step,
        "final_interpolation_mse": final.interpolation_mse,
        "final_extrapolation_mse": final.extrapolation_mse,
        "initial_interpolation_mse": initial[0],
        "initial_extrapolation_mse": initial[1],
        "normalized_interpolation_error": _normalized(final.interpolation_mse, initial[0]),
        "normalized_extrapolation_error": _normalized(final.extrapolation_mse, initial[1]),
        "diverged": result.diverged,
    }


def run_configuration(
    benchmark: Benchmark | SequenceBenchmark,
    configuration: Configuration,
    seeds: tuple[int, ...],
    threads: int = 1,
    checkpoint: str | os.PathLike[str] | None = None,
    device: str = "cpu",
) -> list[Row]:
    """Train ``configuration`` with ``seeds`` side by side on ``device`` (``threads`` threads on the
    CPU), saving and resuming the run at ``checkpoint`` (see
    :func:`nalm.bench.seeds.train_stacked`), and return one row per seed. A digit benchmark's
    configuration trains as :func:`nalm.bench.sequence_grid.run_sequence_configuration`."""
    if isinstance(benchmark, SequenceBenchmark):
        return run_sequence_configuration(benchmark, configuration, seeds, threads, checkpoint, device)
    task, config = benchmark.task(configuration), benchmark.train_config()

    def build() -> torch.nn.Module:
        return build_published_model(
            configuration.model, benchmark.input_size, benchmark.hidden_size, benchmark.time_steps
        ).to(device)

    initial = [initial_errors(build, task, config, seed) for seed in seeds]
    results = train_seeds(build, task, config, seeds, threads=threads, checkpoint=checkpoint)
    threshold = _threshold(task, benchmark.threshold_samples, hidden_layer=benchmark.hidden_size > 0)
    return [
        _row(benchmark, configuration, seed, result, threshold, start)
        for seed, result, start in zip(seeds, results, initial)
    ]


def configuration_of(row: Row) -> Configuration | SequenceConfiguration:
    """The configuration a row belongs to."""
    if row.get("task") == "digits":
        return SequenceConfiguration(row["model"], row["operation"])
    return Configuration(
        row["model"],
        row["operation"],
        value_range("interpolation_range", row["interpolation_range"]),
        value_range("extrapolation_range", row["extrapolation_range"]),
    )


def _non_finite(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def to_json(row: Row) -> str:
    """One row as a line of strict JSON: a non-finite number (a diverged run's MSE) is written as
    null, and the row's "non_finite" maps each such field to "nan", "inf" or "-inf"; in a list
    (the digit tasks' MSE per length), to a list with that text where the list held one and null
    elsewhere."""
    non_finite: dict[str, Any] = {}
    clean = {}
    for key, value in row.items():
        if _non_finite(value):
            non_finite[key], value = repr(value), None
        elif isinstance(value, list) and any(map(_non_finite, value)):
            non_finite[key] = [repr(v) if _non_finite(v) else None for v in value]
            value = [None if _non_finite(v) else v for v in value]
        clean[key] = value
    return json.dumps({**clean, "non_finite": non_finite} if non_finite else clean, allow_nan=False)


def from_json(line: str) -> Row:
    """A row from its line, its non-finite numbers restored (files written before rows were strict
    JSON hold bare NaN and Infinity, which this reads too)."""
    row = json.loads(line)
    if isinstance(row, dict):
        for key, text in row.pop("non_finite", {}).items():
            if isinstance(text, list):
                row[key] = [value if marked is None else float(marked) for value, marked in zip(row[key], text)]
            else:
                row[key] = float(text)
    return row


RUN_KEYS = ("model", "operation", "interpolation_range", "extrapolation_range", "seed", "settings", "success")
"""The fields every run's row of the static task has, that the readers rely on."""
SEQUENCE_RUN_KEYS = ("model", "operation", "seed", "settings", "test_lengths", "test_mse")
"""The fields every run's row of a digit task has."""


def read_results(path: str | os.PathLike[str]) -> list[Row]:
    """Every run of a results file, once: its complete lines (a last line cut off by a kill is left
    out), a run written twice (same configuration and seed) counted once, with a warning."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not a results file: it is not UTF-8 text ({error.reason} at byte {error.start})") from None
    lines = text.split("\n")
    complete = lines[:-1]  # after the last newline: "" or a line still being written
    rows = []
    for number, line in enumerate(complete, start=1):
        if not line:
            continue
        try:
            row = from_json(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"{path} is not a results file: line {number}: {getattr(error, 'msg', error)}") from None
        keys = SEQUENCE_RUN_KEYS if isinstance(row, dict) and row.get("task") == "digits" else RUN_KEYS
        missing = [key for key in keys if not isinstance(row, dict) or key not in row]
        if missing or isinstance(row["seed"], bool) or not isinstance(row["seed"], int):
            what = f"it lacks {', '.join(missing)}" if missing else f"its seed is {row['seed']!r}"
            raise ValueError(f"{path} is not a results file of nalm bench: line {number} is not a run ({what})")
        rows.append(row)
    unique: dict[tuple, Row] = {}
    for row in rows:
        unique.setdefault((*configuration_of(row).key, row["seed"]), row)
    if len(unique) < len(rows):
        warnings.warn(
            f"results file {path} holds {len(rows) - len(unique)} runs more than once (two sweeps wrote it "
            "at once, which older versions of nalm allowed); each run is counted once, as first written",
            stacklevel=2,
        )
    return list(unique.values())


class ResultsFile:
    """A benchmark's results file: which seeds of each configuration it holds, and appending more.

    Opening it reads the existing lines and raises ValueError if any was written with settings or
    model definitions other than ``benchmark``'s. Only a sweep that holds the file's lock
    (:meth:`locked`) writes to it.
    """

    def __init__(self, path: str | os.PathLike[str], benchmark: Benchmark | SequenceBenchmark) -> None:
        self.path = Path(path)
        self.benchmark = benchmark
        self._check_writable()
        self._load()

    def _check_writable(self) -> None:
        """Raise ValueError, before any training, if the results cannot be written to the path."""
        if str(self.path) in ("", "."):
            raise ValueError("the results file needs a name, got an empty path")
        if self.path.is_dir():
            raise ValueError(f"results file {self.path} is a folder; give a file's path, e.g. {self.path / 'runs.jsonl'}")
        if self.path.exists() and not self.path.is_file():
            raise ValueError(f"results file {self.path} is not a regular file (a device or a pipe)")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a"):
                pass
        except OSError as error:
            raise ValueError(f"cannot write results file {self.path}: {error.strerror or error}") from None

    def _load(self) -> None:
        """Read the file's runs, refusing one of other settings or model definitions."""
        rows = read_results(self.path) if self.path.exists() else []
        settings = self.benchmark.settings()
        for row in rows:
            if row.get("settings") != settings:
                theirs = row.get("settings") or {}
                differ = ", ".join(
                    f"{key} {theirs.get(key)!r} there, {value!r} here"
                    for key, value in settings.items()
                    if theirs.get(key) != value
                )
                raise ValueError(
                    f"results file {self.path} was written by another benchmark ({differ}); "
                    "choose another --results path or the same settings"
                )
        sequences = isinstance(self.benchmark, SequenceBenchmark)
        for row in rows:
            model = (SEQUENCE_MODELS if sequences else MODELS).get(row.get("model"))
            if model is None:
                now = None
            elif sequences:  # a digit model's definition depends on the operation (R_z)
                now = model.describe(row.get("operation")) if row.get("operation") in SEQUENCE_OPERATIONS else None
            else:
                now = model.describe()
            if row.get("model_definition") != now:
                raise ValueError(
                    f"results file {self.path} holds runs of model {row.get('model')!r} as defined when they ran "
                    f"({row.get('model_definition') or 'not recorded'}), not as nalm defines it now ({now}); "
                    "choose another --results path"
                )
        self._done: dict[tuple, set[int]] = {}
        for row in rows:
            self._done.setdefault(configuration_of(row).key, set()).add(row["seed"])

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the file's lock (RESULTS.lock, released when the block ends or the process dies),
        drop a last line cut off by a kill and read the file again. A second holder is refused at
        once with a ValueError that names the file and the process holding it."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            import fcntl
        except ImportError:  # not a POSIX system: no lock, say so
            warnings.warn(f"results file {self.path} is not locked on this system: run one sweep on it at a time",
                          stacklevel=3)
            self._load()
            yield
            return
        try:
            lock = lock_path.open("a+")
        except OSError as error:
            raise ValueError(f"cannot create the lock file {lock_path}: {error.strerror or error}") from None
        with lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.seek(0)
                holder = lock.read().strip() or "another process"
                raise ValueError(
                    f"results file {self.path} is being written by another nalm bench ({holder}); "
                    "wait for it to finish or choose another --results path"
                ) from None
            except OSError as error:
                raise ValueError(
                    f"cannot lock {lock_path} ({error.strerror or error}; some network file systems refuse locks): "
                    "choose a --results path on a local disk"
                ) from None
            lock.seek(0)
            lock.truncate()
            lock.write(f"process {os.getpid()} on {socket.gethostname()}")
            lock.flush()
            try:
                if self.path.exists():
                    self._drop_cut_line()
                self._load()
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _drop_cut_line(self) -> None:
        """Drop what follows the last newline if it is a line cut off by a kill; a complete row that
        only lacks its newline gets one instead."""
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end == len(data):
            return
        try:
            complete = isinstance(json.loads(data[end:]), dict)
        except ValueError:
            complete = False
        with self.path.open("r+b") as file:
            if complete:
                file.seek(0, os.SEEK_END)
                file.write(b"\n")
            else:
                file.truncate(end)

    def missing_seeds(self, configuration: Configuration) -> tuple[int, ...]:
        """The benchmark's seeds of ``configuration`` that the file does not hold yet."""
        done = self._done.get(configuration.key, set())
        return tuple(seed for seed in self.benchmark.seed_list() if seed not in done)

    def pending(self) -> list[tuple[Configuration, tuple[int, ...]]]:
        """Each configuration that lacks a seed, with every seed of the benchmark: a configuration
        always trains as the whole stack an uninterrupted sweep trains, so that its seeds' numbers
        are those of that sweep, even where a seed's float32 rounding depends on its stack (the
        PyTorch loop); only the missing seeds' rows are then appended."""
        return [(c, self.benchmark.seed_list()) for c in self.benchmark.configurations() if self.missing_seeds(c)]

    def checkpoint(self, configuration: Configuration, seeds: tuple[int, ...]) -> Path:
        """Where the run of ``configuration`` with ``seeds`` keeps its checkpoint: a file in the
        folder RESULTS.checkpoints, named by the model, the operation and a digest of the run."""
        run = repr((configuration.key, seeds, sorted(self.benchmark.settings().items())))
        digest = hashlib.sha256(run.encode()).hexdigest()[:16]
        return self._checkpoints / f"{configuration.model}-{configuration.operation}-{digest}.pt"

    @property
    def _checkpoints(self) -> Path:
        return self.path.with_name(self.path.name + ".checkpoints")

    def remove_checkpoints(self) -> None:
        """Delete the checkpoint folder and what is in it (checkpoints of runs since saved or abandoned)."""
        shutil.rmtree(self._checkpoints, ignore_errors=True)

    def append(self, rows: Iterable[Row]) -> None:
        """Write ``rows`` as JSON lines in one write, then flush them to disk."""
        rows = list(rows)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as file:
            file.write("".join(to_json(row) + "\n" for row in rows))
            file.flush()
            os.fsync(file.fileno())
        for row in rows:
            self._done.setdefault(configuration_of(row).key, set()).add(row["seed"])


def _start_worker(parent: int) -> None:
    """Worker initializer: one thread per process (the processes use the cores); Ctrl-C is the
    parent's to handle; and the worker exits within a second once its parent is gone (killed
    with -9, say), instead of training on for nobody."""
    torch.set_num_threads(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="nalm-parent-watch", daemon=True).start()


def run_benchmark(
    results: ResultsFile,
    *,
    workers: int = 2,
    executor: str = "local",
    address: str | None = None,
    device: str = "cpu",
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[Configuration, list[Row]], None] | None = None,
) -> list[Row]:
    """Train every configuration of ``results.benchmark`` that ``results`` lacks, ``workers``
    processes at a time, appending each one's rows as it finishes, holding the file's lock
    throughout (:meth:`ResultsFile.locked`: a second sweep on the same file is refused).

    ``executor="ray"`` runs each configuration as a task of one CPU on the Ray cluster at
    ``address`` (None: a local Ray instance of this machine's cores); this process alone writes
    the results file, a task lost with its node is run again (from its checkpoint where the nodes
    share the results folder), and ``workers`` is not used. The models train on ``device``
    ("cpu", or a GPU such as "cuda": the local executor only). Returns the file's rows of the
    benchmark's configurations and seeds, in the grid's order, then by seed.

    ``on_start(n)`` is told how many configurations are to train, ``on_done(configuration, rows)``
    each one as it is saved (e.g. for a progress bar). With ``workers=1``, or with one configuration
    to train, they train in this process on ``workers`` threads; otherwise in spawned
    processes of one thread each, so a script that calls this needs ``if __name__ == "__main__":``.
    """
    positive_int("workers", workers)
    choice("executor", executor, EXECUTORS)
    if executor == "ray" and torch.device(device).type != "cpu":
        raise ValueError(f"the Ray executor trains on its nodes' CPUs; --device {device} needs --executor local")
    benchmark = results.benchmark
    train_all = _train_on_ray if executor == "ray" else _train_all
    options = {"address": address} if executor == "ray" else {"workers": workers, "device": device}
    with results.locked():
        pending = results.pending()
        if on_start is not None:
            on_start(len(pending))
        checkpoints = {configuration.key: results.checkpoint(configuration, seeds) for configuration, seeds in pending}
        missing = {configuration.key: set(results.missing_seeds(configuration)) for configuration, _ in pending}
        for configuration, rows in train_all(benchmark, pending, list(checkpoints.values()), **options):
            rows = [row for row in rows if row["seed"] in missing[configuration.key]]
            results.append(rows)
            checkpoints[configuration.key].unlink(missing_ok=True)
            if on_done is not None:
                on_done(configuration, rows)
        results.remove_checkpoints()  # everything is saved: what is left belongs to no pending run
    order = {c.key: i for i, c in enumerate(benchmark.configurations())}
    seeds = set(benchmark.seed_list())
    rows = [row for row in read_results(results.path) if configuration_of(row).key in order and row["seed"] in seeds]
    return sorted(rows, key=lambda row: (order[configuration_of(row).key], row["seed"]))


def _train_all(
    benchmark: Benchmark | SequenceBenchmark,
    pending: list[tuple[Configuration, tuple[int, ...]]],
    checkpoints: list[Path],
    workers: int,
    device: str,
) -> Iterator[tuple[Configuration, list[Row]]]:
    """Each pending configuration with its rows, in the order they finish."""
    if workers == 1 or len(pending) <= 1:
        for (configuration, seeds), checkpoint in zip(pending, checkpoints):
            yield configuration, run_configuration(benchmark, configuration, seeds, workers, checkpoint, device)
        return
    context = multiprocessing.get_context("spawn")  # no fork of a process that has started torch's threads
    pool = ProcessPoolExecutor(
        min(workers, len(pending)), mp_context=context, initializer=_start_worker, initargs=(os.getpid(),)
    )
    try:
        futures: dict[Future, Configuration] = {
            pool.submit(run_configuration, benchmark, configuration, seeds, 1, checkpoint, device): configuration
            for (configuration, seeds), checkpoint in zip(pending, checkpoints)
        }
        for future in as_completed(futures):
            yield futures[future], future.result()
    except BaseException:  # an error or Ctrl-C: stop the workers now; their checkpoints stay
        processes = list(getattr(pool, "_processes", {}).values())
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=5)
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()


def require_ray() -> Any:
    """The ``ray`` module, or :class:`MissingDependencyError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise MissingDependencyError("--executor ray needs Ray: pip install 'nalm[ray]'") from None
    return ray


RAY_CHUNK = 25
"""On Ray, a configuration whose seeds train independently of the seeds beside them (the models
the compiled kernels run) is split into tasks of at most this many seeds."""


def seed_chunks(benchmark: Benchmark | SequenceBenchmark, configuration: Configuration | SequenceConfiguration, seeds: tuple[int, ...]) -> list[tuple[int, ...]]:
    """The seeds of ``configuration`` in the stacks that train them: one stack, or chunks of
    :data:`RAY_CHUNK` seeds where a seed's numbers do not depend on its stack (the compiled path)."""

    def build() -> torch.nn.Module:
        return build_published_model(configuration.model, benchmark.input_size, benchmark.hidden_size, benchmark.time_steps)

    if len(seeds) <= RAY_CHUNK or isinstance(benchmark, SequenceBenchmark) or plan(stack_seeds(build, seeds[:1])) is None:
        return [seeds]
    return [seeds[start:start + RAY_CHUNK] for start in range(0, len(seeds), RAY_CHUNK)]


def _train_on_ray(
    benchmark: Benchmark | SequenceBenchmark,
    pending: list[tuple[Configuration, tuple[int, ...]]],
    checkpoints: list[Path],
    address: str | None,
) -> Iterator[tuple[Configuration, list[Row]]]:
    """Each pending configuration with its rows, trained as Ray tasks (one per chunk of seeds,
    :func:`seed_chunks`), in the order the configurations finish."""
    ray = require_ray()
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise ValueError(f"cannot reach the Ray cluster at {address or 'this machine'}: {error}") from None
    train = ray.remote(num_cpus=1, max_retries=3, retry_exceptions=False)(run_configuration)
    tasks: dict[Any, tuple[Configuration, int]] = {}
    parts: dict[Configuration, list[list[Row] | None]] = {}
    for (configuration, seeds), checkpoint in zip(pending, checkpoints):
        chunks = seed_chunks(benchmark, configuration, seeds)
        parts[configuration] = [None] * len(chunks)
        for index, chunk in enumerate(chunks):
            path = checkpoint.resolve()  # the same file from every node that shares the folder
            path = path if len(chunks) == 1 else path.with_name(f"{path.stem}-{index}.pt")
            tasks[train.remote(benchmark, configuration, chunk, 1, str(path))] = (configuration, index)
    try:
        while tasks:
            (done,), _ = ray.wait(list(tasks), num_returns=1)
            configuration, index = tasks.pop(done)
            parts[configuration][index] = ray.get(done)
            if all(part is not None for part in parts[configuration]):
                yield configuration, [row for part in parts.pop(configuration) for row in part]
    except BaseException:  # an error or Ctrl-C: stop the tasks still running
        for task in tasks:
            ray.cancel(task, force=True)
        raise
    finally:
        if started:
            ray.shutdown()

"""A benchmark's results file: reading its rows ([`read_results`][nalm.bench.runs.results_file.read_results]), which seeds of each configuration
it holds, appending more, its lock and its checkpoints.

Each configuration's runs are appended and flushed as soon as it finishes; while it trains, its
state is checkpointed at every evaluation (in the folder RESULTS.checkpoints, removed once the
rows are saved). Every line carries the benchmark's settings ([`Grid.settings`][nalm.bench.runs.grid.Grid.settings]) and its
model's definition; a file written with other settings or model definitions is refused, never mixed.

The lock file, the checkpoint folder and the folder of set-aside checkpoints are named after the
file's real path (symlinks followed): two names of one file share one lock. A file system that
refuses a write (full, read-only) is a ValueError naming the path, with nothing half-written left.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import socket
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType

from nalm.bench.runs.grid import Configuration, Grid, Row
from nalm.bench.runs.rows import complete_line, configuration_of, from_json, row_problem, to_json

_CHECKPOINT_NAME = re.compile(r"(.+-[0-9a-f]{16})(?:-\d+)?\.")
"""A checkpoint file's name: MODEL-OPERATION-DIGEST (group 1, `ResultsFile.checkpoint`'s stem),
then -K for a chunk of seeds on Ray, then a dot (.pt, .attempt-K.pt, .pt.XXXX.partial)."""

fcntl: ModuleType | None
try:
    import fcntl
except ImportError:  # not a POSIX system: files are not locked
    fcntl = None


def read_results(path: str | os.PathLike[str]) -> list[Row]:
    """Every run of a results file, once: its complete lines (a last line cut off by a kill is left
    out; one that is a whole row without its newline is kept), a run written twice (same
    configuration and seed) counted once, with a warning.

    Every row is checked ([`row_problem`][nalm.bench.runs.rows.row_problem]) and all must carry the same settings: anything else
    is a ValueError that names the file and the line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{path} is not a results file: it is not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None
    except OSError as error:
        raise ValueError(f"cannot read results file {path}: {error.strerror or error}") from None
    lines = text.split("\n")
    if not complete_line(lines[-1]):  # after the last newline: "" or a line still being written
        lines.pop()
    rows: list[Row] = []
    first = 0  # the line of the first row, whose settings every row must carry
    for number, line in enumerate(lines, start=1):
        if not line:
            continue
        try:
            row = from_json(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not a results file: line {number}: {error.msg}") from None
        except ValueError as error:
            raise ValueError(
                f"{path} is not a results file of nalm bench: line {number} is not a run ({error})"
            ) from None
        problem = row_problem(row)
        if problem is not None:
            raise ValueError(f"{path} is not a results file of nalm bench: line {number} is not a run {problem}")
        if not rows:
            first = number
        elif row["settings"] != rows[0]["settings"]:
            theirs, ours = row["settings"], rows[0]["settings"]
            differ = ", ".join(
                f"{key} {theirs.get(key)!r} on line {number}, {ours.get(key)!r} on line {first}"
                for key in dict.fromkeys([*ours, *theirs])
                if theirs.get(key) != ours.get(key)
            )
            raise ValueError(
                f"{path} mixes runs of different settings: line {number} was written by another benchmark than "
                f"line {first} ({differ}); keep each benchmark's runs in a results file of its own"
            )
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
    (`locked`) writes to it.
    """

    def __init__(self, path: str | os.PathLike[str], benchmark: Grid) -> None:
        self.path = Path(path)
        """The path as given, which messages name."""
        self.real_path = Path(os.path.realpath(self.path))
        """The file's real path (symlinks followed), which names its lock and checkpoint folders."""
        self.benchmark = benchmark
        self._check_writable()
        self._load()

    def _check_writable(self) -> None:
        """Raise ValueError, before any training, if the results cannot be written to the path."""
        if str(self.path) in ("", "."):
            raise ValueError("the results file needs a name, got an empty path")
        if self.path.is_dir():
            raise ValueError(
                f"results file {self.path} is a folder; give a file's path, e.g. {self.path / 'runs.jsonl'}"
            )
        if self.path.exists() and not self.path.is_file():
            raise ValueError(f"results file {self.path} is not a regular file (a device or a pipe)")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a"):
                pass
        except OSError as error:
            raise ValueError(f"cannot write results file {self.path}: {error.strerror or error}") from None
        folder = self.real_path.parent
        try:  # the checkpoints and the lock are files of this folder
            descriptor, probe = tempfile.mkstemp(dir=folder, prefix=self.real_path.name + ".", suffix=".partial")
            os.close(descriptor)
            os.unlink(probe)
        except OSError as error:
            raise ValueError(
                f"cannot create files in the results folder {folder} ({error.strerror or error}), where the "
                f"checkpoints of {self.path} go: choose another --results path"
            ) from None
        checkpoints = self._checkpoints
        try:
            if checkpoints.exists() or checkpoints.is_symlink():
                if not checkpoints.is_dir():
                    raise ValueError(f"{checkpoints} is not a folder: remove it or choose another --results path")
                descriptor, probe = tempfile.mkstemp(dir=checkpoints, suffix=".partial")
                os.close(descriptor)
                os.unlink(probe)
            else:
                os.rmdir(tempfile.mkdtemp(dir=folder, prefix=checkpoints.name + "."))
        except OSError as error:
            raise ValueError(
                f"cannot create the checkpoint folder {checkpoints} ({error.strerror or error}): "
                "choose another --results path"
            ) from None

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
        for row in rows:
            now = self.benchmark.model_definition(row["model"], row["operation"])  # read_results checked both keys
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
        lock_path = self.real_path.with_name(self.real_path.name + ".lock")
        if fcntl is None:  # not a POSIX system: no lock, say so
            warnings.warn(
                f"results file {self.path} is not locked on this system: run one sweep on it at a time", stacklevel=3
            )
            self._load()
            yield
            return
        try:
            lock = lock_path.open("a+b", buffering=0)  # unbuffered: a failed write is not tried again on close
        except OSError as error:
            raise ValueError(
                f"cannot create the lock file {lock_path} ({error.strerror or error}): choose another --results path"
            ) from None
        with lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.seek(0)
                holder = lock.read().decode(errors="replace").strip() or "another process"
                raise ValueError(
                    f"results file {self.path} is being written by another nalm bench ({holder}); "
                    "wait for it to finish or choose another --results path"
                ) from None
            except OSError as error:
                raise ValueError(
                    f"cannot lock {lock_path} ({error.strerror or error}; some network file systems refuse locks): "
                    "choose a --results path on a local disk"
                ) from None
            try:
                try:
                    lock.truncate(0)
                    lock.write(f"process {os.getpid()} on {socket.gethostname()}".encode())
                except OSError as error:
                    raise _write_error(lock_path, error, "the lock file") from None
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
            with self.path.open("r+b") as file:
                if complete_line(data[end:]):
                    file.seek(0, os.SEEK_END)
                    file.write(b"\n")
                else:
                    file.truncate(end)
        except OSError as error:
            raise _write_error(self.path, error, "results file") from None

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
        return self.real_path.with_name(self.real_path.name + ".checkpoints")

    def remove_checkpoints(self) -> None:
        """Delete the checkpoints of the benchmark's configurations (with those of their chunks of
        seeds on Ray, NAME-K.pt, of their later attempts and any left cut off while written), then
        the checkpoint folder where nothing else is in it. The checkpoints of another grid on the
        same file (other models, operations, ranges or seeds, from another command) stay: an
        interrupted run of it resumes from them."""
        stems = {self.checkpoint(c, self.benchmark.seed_list()).stem for c in self.benchmark.configurations()}
        if self._checkpoints.is_dir():
            for path in self._checkpoints.iterdir():
                name = _CHECKPOINT_NAME.match(path.name)
                if name is not None and name[1] in stems:
                    path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # not empty, or not there
            self._checkpoints.rmdir()

    def append(self, rows: Iterable[Row]) -> None:
        """Write ``rows`` as JSON lines in one write, then flush them to disk. If the file system
        refuses (full, read-only), what was written of them is cut off again and a ValueError
        names the file."""
        rows = list(rows)
        data = "".join(to_json(row) + "\n" for row in rows).encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            try:
                size = os.fstat(descriptor).st_size
                try:
                    unwritten = memoryview(data)
                    while unwritten:  # unbuffered: nothing is left to be written later
                        unwritten = unwritten[os.write(descriptor, unwritten) :]
                    os.fsync(descriptor)
                except OSError:
                    with contextlib.suppress(OSError):
                        os.ftruncate(descriptor, size)  # no half-written line is left behind
                    raise
            finally:
                os.close(descriptor)
        except OSError as error:
            raise _write_error(self.path, error, "results file") from None
        for row in rows:
            self._done.setdefault(configuration_of(row).key, set()).add(row["seed"])


def _write_error(path: Path, error: OSError, what: str) -> ValueError:
    """The ValueError of a write to ``path`` that the file system refused, saying what to do."""
    full = error.errno in (errno.ENOSPC, errno.EDQUOT)
    remedy = "free space on its disk or choose another --results path" if full else "choose another --results path"
    return ValueError(
        f"cannot write {what} {path}: {error.strerror or error}; {remedy}, then run the same command again"
    )

"""Run a benchmark: train every configuration its results file lacks, and append the rows.

A sweep that is killed loses at most the steps since the last evaluation of the configurations in
flight: the same command run again trains only what the file lacks, resuming those
configurations from their checkpoints. Configurations train in this process, in worker processes
(the local executor) or as tasks on a Ray cluster ([`nalm.bench.runs.ray_executor`][nalm.bench.runs.ray_executor]).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch

import nalm
from nalm.bench.engine.checkpoint import saved_step
from nalm.bench.engine.loop import ENGINES, attempt_checkpoint, engine_identity, train_seeds
from nalm.bench.runs.grid import Configuration, Grid, Row
from nalm.bench.runs.local_executor import train_locally
from nalm.bench.runs.ray_executor import train_on_ray
from nalm.bench.runs.results_file import ResultsFile, read_results
from nalm.bench.runs.rows import configuration_of
from nalm.validation import choice, positive_int

EXECUTORS = ("local", "ray")
"""Where configurations train: processes on this machine, or tasks on a Ray cluster."""


def run_configuration(
    benchmark: Grid,
    configuration: Configuration,
    seeds: tuple[int, ...],
    threads: int = 1,
    checkpoint: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    engine: str = "auto",
) -> list[Row]:
    """Train ``configuration`` with ``seeds`` side by side on ``device`` with ``engine``, saving and
    resuming the run at ``checkpoint`` (see [`nalm.bench.engine.loop.train_stacked`][nalm.bench.engine.loop.train_stacked]), and
    return one row per seed (the grid's rows).

    Every path to a row passes here (this process, the local workers, Ray's tasks), so here the
    numbers are made independent of where they run: PyTorch runs on one thread throughout (its
    reductions split over threads round differently), and ``threads`` only sets the compiled
    kernels' threads, over which no seed's numbers depend (each seed runs on one thread)."""
    with one_torch_thread():
        return _run_configuration(benchmark, configuration, seeds, threads, checkpoint, device, engine)


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Within the block, PyTorch's intra-op parallelism is one thread (which the start of the
    compiled kernels' threads keeps, [`nalm.bench.tasks.streams.start_threads`][nalm.bench.tasks.streams.start_threads])."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _run_configuration(
    benchmark: Grid,
    configuration: Configuration,
    seeds: tuple[int, ...],
    threads: int,
    checkpoint: str | os.PathLike[str] | None,
    device: str,
    engine: str,
) -> list[Row]:
    build = benchmark.builder(configuration, device)
    definition = {
        "model": configuration.model,
        "definition": benchmark.model_definition(configuration.model, configuration.operation),
    }
    results = train_seeds(
        build,
        benchmark.task(configuration),
        benchmark.train_config(configuration),
        seeds,
        threads=threads,
        checkpoint=checkpoint,
        engine=engine,
        definition=definition,
    )
    ran_with = {**provenance(device), **engine_identity(benchmark.engine_of(configuration, engine, device))}
    return [{**row, "ran_with": ran_with} for row in benchmark.rows(configuration, seeds, results, build)]


def provenance(device: str) -> dict[str, str]:
    """What ran a row: nalm's and PyTorch's versions and the device (with its name, for a GPU); the
    runner adds the engine ("compiled" or "torch", [`engine_identity`][nalm.bench.engine.loop.engine_identity])."""
    where = torch.device(device)
    name = torch.cuda.get_device_name(where) if where.type == "cuda" else where.type
    return {
        "nalm": nalm.__version__,
        "torch": torch.__version__,
        "device": f"{where} ({name})" if where.type == "cuda" else name,
    }


def run_benchmark(
    results: ResultsFile,
    *,
    workers: int = 2,
    executor: str = "local",
    address: str | None = None,
    device: str = "cpu",
    engine: str = "auto",
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[Configuration, list[Row]], None] | None = None,
    on_resume: Callable[[Configuration, int], None] | None = None,
) -> list[Row]:
    """Train every configuration of ``results.benchmark`` that ``results`` lacks, ``workers``
    processes at a time, appending each one's rows as it finishes, holding the file's lock
    throughout ([`ResultsFile.locked`][nalm.bench.runs.results_file.ResultsFile.locked]: a second sweep on the same file is refused).

    ``executor="ray"`` runs each configuration as a task of one CPU on the Ray cluster at
    ``address`` (None: a local Ray instance of this machine's cores); this process alone writes
    the results file, a task lost with its node is run again (from its checkpoint where the nodes
    share the results folder), and ``workers`` is not used. The models train on ``device``
    ("cpu", or a GPU such as "cuda": the local executor only), on ``engine``
    ([`ENGINES`][nalm.bench.engine.loop.ENGINES]). Returns the file's rows of the
    benchmark's configurations and seeds, in the grid's order, then by seed.

    ``on_start(n)`` is told how many configurations are to train, ``on_done(configuration, rows)``
    each one as it is saved (e.g. for a progress bar), ``on_resume(configuration, step)`` each one
    that has a checkpoint, before any trains (the run resumes there where the checkpoint is its own,
    else it sets it aside with a warning). With ``workers=1``, or with one configuration
    to train, they train in this process (the compiled kernels on ``workers`` threads); otherwise in spawned
    processes of one thread each, so a script that calls this needs ``if __name__ == "__main__":``.
    """
    positive_int("workers", workers)
    executor = choice("executor", executor, EXECUTORS)
    engine = choice("engine", engine, ENGINES)
    if executor == "ray" and torch.device(device).type != "cpu":
        raise ValueError(f"the Ray executor trains on its nodes' CPUs; --device {device} needs --executor local")
    benchmark = results.benchmark
    train_all = train_on_ray if executor == "ray" else train_locally
    options = {"address": address} if executor == "ray" else {"workers": workers, "device": device}
    for configuration in benchmark.configurations():  # "compiled" on a model it does not cover: before any training
        benchmark.engine_of(configuration, engine, device)
    with results.locked():
        pending = results.pending()
        if on_start is not None:
            on_start(len(pending))
        checkpoints = {configuration.key: results.checkpoint(configuration, seeds) for configuration, seeds in pending}
        if on_resume is not None:
            for configuration, _ in pending:
                step = saved_step(checkpoints[configuration.key])
                if step is not None:
                    on_resume(configuration, step)
        missing = {configuration.key: set(results.missing_seeds(configuration)) for configuration, _ in pending}
        for configuration, rows in train_all(
            run_configuration, benchmark, pending, list(checkpoints.values()), engine=engine, **options
        ):
            rows = [row for row in rows if row["seed"] in missing[configuration.key]]
            results.append(rows)
            for attempt in range(benchmark.train_config(configuration).attempts):
                attempt_checkpoint(checkpoints[configuration.key], attempt).unlink(missing_ok=True)
            if on_done is not None:
                on_done(configuration, rows)
        results.remove_checkpoints()  # everything of this grid is saved
    order = {c.key: i for i, c in enumerate(benchmark.configurations())}
    seeds = set(benchmark.seed_list())
    rows = [row for row in read_results(results.path) if configuration_of(row).key in order and row["seed"] in seeds]
    return sorted(rows, key=lambda row: (order[configuration_of(row).key], row["seed"]))

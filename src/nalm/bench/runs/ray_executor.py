"""The Ray executor: each configuration as tasks of one CPU on a Ray cluster; this process writes the rows."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from nalm.bench.runs.grid import Configuration, Grid, Row
from nalm.validation import MissingDependencyError


def require_ray() -> Any:
    """The ``ray`` module, or [`MissingDependencyError`][nalm.validation.MissingDependencyError] saying how to install it."""
    try:
        import ray
    except ImportError:
        raise MissingDependencyError("--executor ray needs Ray: pip install 'nalm[ray]'") from None
    return ray


RAY_CLIENT_PORT = 10001
"""The port a ray://HOST address without one names."""
CONNECT_TIMEOUT = 10.0
"""Seconds to wait for a cluster's address to answer before giving up."""


def check_reachable(address: str | None, timeout: float = CONNECT_TIMEOUT) -> None:
    """Raise ValueError, within ``timeout`` seconds, if nothing answers at a cluster ``address`` of
    the form HOST:PORT or ray://HOST:PORT (Ray itself would retry such an address for minutes,
    deaf to Ctrl-C). None, "auto" and "local" (a cluster of this machine) are not checked."""
    if address is None or address in ("auto", "local"):
        return
    target = address.removeprefix("ray://")
    if address.startswith("ray://") and ":" not in target.rpartition("]")[2]:
        target += f":{RAY_CLIENT_PORT}"  # Ray Client's default port
    host, separator, port = target.rpartition(":")
    if not separator or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--address must be HOST:PORT, ray://HOST:PORT or auto, got {address!r}")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as error:
        reason = (
            f"no answer within {timeout:g} s" if isinstance(error, TimeoutError) else (error.strerror or str(error))
        )
        raise ValueError(
            f"cannot reach the Ray cluster at {address} ({reason.lower()}): start it there "
            "(ray start --head) or give its address, or leave --address out for a Ray instance of this machine"
        ) from None


RAY_CHUNK = 25
"""On Ray, a configuration whose seeds train independently of the seeds beside them (the models
the compiled kernels run) is split into tasks of at most this many seeds."""


def seed_chunks(
    benchmark: Grid, configuration: Configuration, seeds: tuple[int, ...], engine: str
) -> list[tuple[int, ...]]:
    """The seeds of ``configuration`` in the stacks that train them: one stack, or chunks of
    [`RAY_CHUNK`][nalm.bench.runs.ray_executor.RAY_CHUNK] seeds where a seed's numbers do not depend on its stack
    ([`seeds_independent`][nalm.bench.runs.grid.Grid.seeds_independent]: the compiled engine)."""
    if len(seeds) <= RAY_CHUNK or not benchmark.seeds_independent(configuration, engine):
        return [seeds]
    return [seeds[start : start + RAY_CHUNK] for start in range(0, len(seeds), RAY_CHUNK)]


def train_on_ray(
    train: Callable[..., list[Row]],
    benchmark: Grid,
    pending: list[tuple[Configuration, tuple[int, ...]]],
    checkpoints: list[Path],
    engine: str,
    address: str | None,
) -> Iterator[tuple[Configuration, list[Row]]]:
    """Each pending configuration with its rows, trained as Ray tasks of ``train``
    ([`nalm.bench.runs.runner.run_configuration`][nalm.bench.runs.runner.run_configuration]), one per chunk of seeds ([`seed_chunks`][nalm.bench.runs.ray_executor.seed_chunks]),
    in the order the configurations finish."""
    ray = require_ray()
    started = not ray.is_initialized()
    if started:
        check_reachable(address)
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise ValueError(f"cannot reach the Ray cluster at {address or 'this machine'}: {error}") from None
    remote = ray.remote(num_cpus=1, max_retries=3, retry_exceptions=False)(train)
    tasks: dict[Any, tuple[Configuration, int]] = {}
    parts: dict[Any, list[list[Row] | None]] = {}
    for (configuration, seeds), checkpoint in zip(pending, checkpoints):
        chunks = seed_chunks(benchmark, configuration, seeds, engine)
        parts[configuration] = [None] * len(chunks)
        for index, chunk in enumerate(chunks):
            path = checkpoint.resolve()  # the same file from every node that shares the folder
            path = path if len(chunks) == 1 else path.with_name(f"{path.stem}-{index}.pt")
            tasks[remote.remote(benchmark, configuration, chunk, 1, str(path), "cpu", engine)] = (configuration, index)
    try:
        while tasks:
            (done,), _ = ray.wait(list(tasks), num_returns=1)
            configuration, index = tasks.pop(done)
            parts[configuration][index] = ray.get(done)
            finished = [part for part in parts[configuration] if part is not None]
            if len(finished) == len(parts[configuration]):
                del parts[configuration]
                yield configuration, [row for part in finished for row in part]
    except BaseException:  # an error or Ctrl-C: stop the tasks still running
        for task in tasks:
            ray.cancel(task, force=True)
        raise
    finally:
        if started:
            ray.shutdown()

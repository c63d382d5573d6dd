"""The local executor: configurations in this process, or in spawned worker processes of one thread each."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path

import torch

from nalm.bench.runs.grid import Configuration, Grid, Row


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


def train_locally(
    train: Callable[..., list[Row]],
    benchmark: Grid,
    pending: list[tuple[Configuration, tuple[int, ...]]],
    checkpoints: list[Path],
    engine: str,
    workers: int,
    device: str,
) -> Iterator[tuple[Configuration, list[Row]]]:
    """Each pending configuration with its rows (``train``: `run_configuration`), in the order they finish."""
    if workers == 1 or len(pending) <= 1:
        for (configuration, seeds), checkpoint in zip(pending, checkpoints):
            yield configuration, train(benchmark, configuration, seeds, workers, checkpoint, device, engine)
        return
    context = multiprocessing.get_context("spawn")  # no fork of a process that has started torch's threads
    pool = ProcessPoolExecutor(
        min(workers, len(pending)), mp_context=context, initializer=_start_worker, initargs=(os.getpid(),)
    )
    try:
        futures: dict[Future, Configuration] = {
            pool.submit(train, benchmark, configuration, seeds, 1, checkpoint, device, engine): configuration
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

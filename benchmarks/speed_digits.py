"""Seed-steps per second on the digit sequence tasks, 1 to 8 seeds side by side.

    python benchmarks/speed_digits.py                     # sum (length 10) and product (length 2)
    python benchmarks/speed_digits.py --seeds 1 4 --steps 100

Each model is the benchmark's (:func:`nalm.bench.models.digits.build_sequence_model`: the CNN
reader and the cell) on scikit-learn's digits, batch 64, trained by
:func:`nalm.bench.engine.train_seeds` as ``nalm bench`` trains it: the seeds' models one after
another in each step, one Adam for all. The rate is that of a long run (steps / the difference in
time of runs of ``--steps`` and twice as many, from ``speed_static.py``), on one PyTorch thread.
"""

from __future__ import annotations

import argparse
import os

import torch
from rich.console import Console
from rich.table import Table

from nalm.bench.engine import TrainConfig
from nalm.bench.models.digits import build_sequence_model
from nalm.bench.runs import SequenceBenchmark
from speed_static import figure, seed_steps_per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["nau", "nmu", "lstm"], help="cells")
    parser.add_argument("--operations", nargs="+", default=["sum", "product"], help="digit operations")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 4, 8], help="numbers of seeds side by side")
    parser.add_argument("--steps", type=int, default=100, help="steps of the shorter timed run")
    args = parser.parse_args()
    torch.set_num_threads(1)
    benchmark = SequenceBenchmark()
    table = Table(title=f"Digit tasks, batch {benchmark.batch_size} sequences, one thread (seed-steps per second)")
    for column in ("model", "operation", "length", *(f"{n} seed{'' if n == 1 else 's'}" for n in args.seeds)):
        table.add_column(column, justify="right")
    for operation in args.operations:
        task = benchmark.operation_task(operation)
        config = TrainConfig(steps=args.steps, batch_size=benchmark.batch_size, eval_every=args.steps, eval_size=10)
        warm_up = TrainConfig(steps=5, batch_size=benchmark.batch_size, eval_every=5, eval_size=10)
        for model in args.models:
            build = lambda: build_sequence_model(model, task)  # noqa: B023 (called in this iteration only)
            seed_steps_per_second(build, task, warm_up, 2)  # loads the images, warms the allocator
            rates = [seed_steps_per_second(build, task, config, n) for n in args.seeds]
            table.add_row(model, operation, str(task.train_length), *(figure(rate) for rate in rates))
    console = Console()
    console.print(table)
    console.print(f"load average (1, 5, 15 min): {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()

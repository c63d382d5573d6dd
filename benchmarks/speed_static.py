"""Seed-steps per second on the static task: many seeds side by side versus one after another.

    python benchmarks/speed_static.py --steps 1000

The model is the paper's "NMU" (NAU -> NMU, hidden size 2) on a * b with the published data sizes.
For each number of seeds S, "side by side" trains the S seeds at once with
:func:`nalm.bench.seeds.train_seeds` for ``--steps`` steps, ``--workers`` threads drawing the data
(both cores by default); "one after another" trains the same seeds with
:func:`nalm.bench.trainer.train`, ``--sequential-steps`` steps each (fewer, as the rate per
seed-step does not depend on the number of steps). Evaluation runs once, at the last step, on
``--eval-size`` points, so the figures are about the training loop.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace

import torch
from rich.console import Console
from rich.table import Table

from nalm.bench.seeds import train_seeds
from nalm.bench.tasks import StaticArithmeticTask
from nalm.bench.trainer import TrainConfig, train
from nalm.torch import NAU, NMU, UnitStack


def build() -> UnitStack:
    """The paper's NMU model for 100 inputs: NAU (100 -> 2) then NMU (2 -> 1)."""
    return UnitStack(NAU(100, 2), NMU(2, 1))


def side_by_side(task: StaticArithmeticTask, config: TrainConfig, seeds: list[int], workers: int) -> float:
    """Seed-steps per second of training ``seeds`` at once, ``workers`` threads drawing the data."""
    start = time.perf_counter()
    train_seeds(build, task, config, seeds, workers=workers)
    return len(seeds) * config.steps / (time.perf_counter() - start)


def one_after_another(task: StaticArithmeticTask, config: TrainConfig, seeds: list[int]) -> float:
    """Seed-steps per second of training ``seeds`` one at a time with the single-seed trainer."""
    start = time.perf_counter()
    for seed in seeds:
        torch.manual_seed(seed)
        train(build(), task, replace(config, seed=seed))
    return len(seeds) * config.steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000, help="steps of the side-by-side runs")
    parser.add_argument("--sequential-steps", type=int, default=50, help="steps of each one-after-another run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 10, 100], help="numbers of seeds to compare")
    parser.add_argument("--eval-size", type=int, default=100, help="points of each evaluation set")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: the fastest for these tiny models)")
    parser.add_argument("--workers", type=int, default=2, help="threads drawing the seeds' data side by side")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    task = StaticArithmeticTask("mul")
    config = TrainConfig(steps=args.steps, eval_every=args.steps, eval_size=args.eval_size)
    sequential = replace(config, steps=args.sequential_steps, eval_every=args.sequential_steps)
    warm_up = replace(config, steps=5, eval_every=5)  # torch sets itself up on first use: not timed
    one_after_another(task, warm_up, [0])
    side_by_side(task, warm_up, [0, 1], args.workers)
    table = Table(title=(
        f"Static task, NAU -> NMU on mul, batch {config.batch_size}, "
        f"{args.threads} torch thread(s), {args.workers} data thread(s)"
    ))
    for column in ("seeds", "side by side (seed-steps/s)", "one after another (seed-steps/s)", "ratio"):
        table.add_column(column, justify="right")
    for n_seeds in args.seeds:
        seeds = list(range(n_seeds))
        batched = side_by_side(task, config, seeds, args.workers)
        alone = one_after_another(task, sequential, seeds)
        table.add_row(str(n_seeds), f"{batched:,.0f}", f"{alone:,.0f}", f"{batched / alone:.1f}x")
    console = Console()
    console.print(table)
    console.print(f"load average (1, 5, 15 min): {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()

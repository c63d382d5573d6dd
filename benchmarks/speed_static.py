"""Seed-steps per second on the static task, for every model of a preset, 1 to 1000 seeds side by side.

    python benchmarks/speed_static.py                      # madsen2020's models, 1, 100 and 1000 seeds
    python benchmarks/speed_static.py --models nmu --seeds 1 10 100 1000
    python benchmarks/speed_static.py --preset mistry2021-div10 --seeds 25   # the division units

Each model is the benchmark's (``nalm.bench.models.build_published_model``: e.g. "nmu" is NAU -> NMU) on
the preset's task (madsen2020: a * b, 100 inputs; another preset: its first operation and range
pair, its sizes, and each model's own learning rate and clipping), batch 128. For each number of seeds S it trains
the S seeds side by side with :func:`nalm.bench.engine.train_seeds` for ``--steps`` and for twice as
many steps on ``--threads`` threads, and prints S * steps / (the difference of the two times): the
rate of a long run, without the setup that a short run pays once. With it, the path that trained
it: "compiled" (:mod:`nalm.bench.engine.compiled`) or "pytorch" (the autograd loop). The PyTorch loop of the same model is
timed in the same run (``--pytorch-steps`` steps, the largest number of seeds up to 100), so the two
rates are measured side by side. Evaluation runs once, at the last step, on ``--eval-size`` points: the figures are about
the training loop. Warm-up runs (not timed) compile the kernels first. With a CUDA device, a last
line times the PyTorch loop there.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Callable
from dataclasses import replace

import torch
from rich.console import Console
from rich.table import Table

from nalm.bench.engine import TrainConfig, train_seeds
from nalm.bench.models import MODELS
from nalm.bench.runs import PRESETS, Benchmark, Configuration
from nalm.bench.tasks import StaticArithmeticTask
from nalm.bench.tasks.static import range_label


def rate(
    model: str,
    benchmark: Benchmark,
    config: TrainConfig,
    n_seeds: int,
    threads: int,
    device: str = "cpu",
    engine: str = "auto",
) -> float:
    """Seed-steps per second of training ``n_seeds`` seeds of ``model`` side by side (:func:`seed_steps_per_second`)
    on ``benchmark``'s task, with the model's own learning rate and clipping."""
    configuration = configuration_of(benchmark, model)
    own = benchmark.train_config(configuration)
    config = replace(config, learning_rate=own.learning_rate, gradient_clip=own.gradient_clip)
    return seed_steps_per_second(
        benchmark.builder(configuration, device), benchmark.task(configuration), config, n_seeds, threads, engine
    )


def configuration_of(benchmark: Benchmark, model: str) -> Configuration:
    """``model`` on the benchmark's first range pair and operation (madsen2020: a * b)."""
    operation = "mul" if "mul" in benchmark.operations else benchmark.operations[0]
    return Configuration(model, operation, *benchmark.ranges[0])


def seed_steps_per_second(
    build: Callable[[], torch.nn.Module],
    task: StaticArithmeticTask,
    config: TrainConfig,
    n_seeds: int,
    threads: int = 1,
    engine: str = "auto",
) -> float:
    """Seed-steps per second of training ``n_seeds`` models of ``build()`` side by side on ``task``, as a
    long run trains them: ``config.steps`` divided by the difference in time of runs of
    ``config.steps`` and twice as many steps, so that building the models, setting up the kernels
    and the last evaluation cancel; NaN where the longer run was not the slower (too few steps to time)."""

    def seconds(steps: int) -> float:
        start = time.perf_counter()
        train_seeds(
            build,
            task,
            replace(config, steps=steps, eval_every=steps),
            list(range(n_seeds)),
            threads=threads,
            engine=engine,
        )
        return time.perf_counter() - start

    once = seconds(config.steps)
    extra = seconds(2 * config.steps) - once
    return n_seeds * config.steps / extra if extra > 0 else math.nan  # too few steps to time


def figure(rate: float) -> str:
    """A rate as the table prints it: "too few steps" where the longer run was not the slower."""
    return "too few steps" if math.isnan(rate) else f"{rate:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="madsen2020", choices=list(PRESETS), help="the task (default: madsen2020)")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), help="default: the preset's models")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 100, 1000], help="numbers of seeds side by side")
    parser.add_argument(
        "--steps", type=int, default=2000, help="steps of the shorter timed run (1000 seeds: a quarter)"
    )
    parser.add_argument("--pytorch-steps", type=int, default=100, help="steps of the PyTorch loop at 100 seeds")
    parser.add_argument("--eval-size", type=int, default=100, help="points of each evaluation set")
    parser.add_argument("--threads", type=int, default=2, help="threads training the seeds (default: 2)")
    args = parser.parse_args()
    torch.set_num_threads(1)

    benchmark = PRESETS[args.preset]
    benchmark = replace(benchmark, models=tuple(args.models or benchmark.models))
    task = benchmark.task(configuration_of(benchmark, benchmark.models[0]))
    configs = {}
    for n_seeds in args.seeds:
        steps = max(10, args.steps // 4) if n_seeds >= 1000 else args.steps
        configs[n_seeds] = TrainConfig(steps=steps, eval_every=steps, eval_size=args.eval_size)
    pytorch_config = TrainConfig(steps=args.pytorch_steps, eval_every=args.pytorch_steps, eval_size=args.eval_size)
    warm_up = TrainConfig(steps=5, eval_every=5, eval_size=10)
    side = max([n for n in args.seeds if n <= 100] or [100])
    table = Table(
        title=f"{args.preset}: {task.operation}, {task.input_size} inputs, {range_label(task.interpolation_range)}, "
        f"batch 128, {args.threads} threads (seed-steps per second)"
    )
    for column in (
        "model",
        "path",
        *(f"{n} seed{'' if n == 1 else 's'}" for n in args.seeds),
        f"PyTorch loop, {side} seeds",
        f"{side} seeds: speedup",
    ):
        table.add_column(column, justify="right")
    for model in benchmark.models:
        compiled = benchmark.engine_of(configuration_of(benchmark, model), "auto") == "compiled"
        rate(model, benchmark, warm_up, 2, args.threads)
        rates = {n: rate(model, benchmark, configs[n], n, args.threads) for n in args.seeds}
        rate(model, benchmark, warm_up, 2, args.threads, engine="torch")
        pytorch = rate(model, benchmark, pytorch_config, side, args.threads, engine="torch")
        ratio = rates[side] / pytorch if side in rates else math.nan
        speedup = "-" if math.isnan(ratio) else f"{ratio:.1f}x"
        table.add_row(
            model,
            "compiled" if compiled else "pytorch",
            *(figure(rates[n]) for n in args.seeds),
            figure(pytorch),
            speedup,
        )
    console = Console()
    console.print(table)
    if torch.cuda.is_available():
        for model in benchmark.models:
            rate(model, benchmark, warm_up, 2, args.threads, "cuda")
            cuda = rate(model, benchmark, pytorch_config, side, args.threads, "cuda")
            console.print(f"cuda, {model}, {side} seeds, PyTorch loop: {cuda:,.0f}")
    console.print(f"load average (1, 5, 15 min): {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()

"""Where a compiled training step of the static task spends its time, per row of the batch.

    python benchmarks/profile_static.py                 # NAU -> NMU (the "nmu" model), 100 seeds
    python benchmarks/profile_static.py --model nalu

Times, on ``--threads`` threads and ``--seeds`` seeds side by side, in float32 with the published
sizes (100 inputs, batch 128, hidden 2):

- "draw": the data kernel alone (:func:`nalm.bench.data.draw`): the 100 inputs of a row from the
  SplitMix64 streams and their two subset sums, as the training kernel draws them;
- "draw + first layer forward": the same kernel multiplying each row by a linear first layer's
  weight as it draws it (:func:`nalm.bench.data.draw_projection`);
- "first layer backward": the gradient of that weight from the kept rows;
- "whole step": the compiled training step (:mod:`nalm.bench.fused`) of the model, everything in.

Each figure is nanoseconds per row per thread (seconds x threads / (seeds x rows)), and the
seed-steps per second it alone would allow. The data pieces run at any model's cost: no model can
train faster than its data is drawn.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import torch
from rich.console import Console
from rich.table import Table

from nalm.bench.data import SeedStreams, draw, draw_projection, set_threads
from nalm.bench.fused import plan
from nalm.bench.models import MODELS, build_published_model
from nalm.bench.seeds import stack_seeds, train_seeds
from nalm.bench.tasks import StaticArithmeticTask, intervals
from nalm.bench.trainer import TrainConfig

BATCH = 128


def seconds(work: Callable[[], object], repeats: int) -> float:
    """Seconds of one call of ``work``, the best of ``repeats`` timed calls after one untimed call."""
    work()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="nmu", choices=list(MODELS))
    parser.add_argument("--seeds", type=int, default=100, help="seeds side by side (default: 100)")
    parser.add_argument("--steps", type=int, default=500, help="steps of the timed whole-step run (default: 500)")
    parser.add_argument("--threads", type=int, default=2, help="threads (default: 2)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    set_threads(args.threads)
    task = StaticArithmeticTask("mul")
    seeds = list(range(args.seeds))
    spans = task.spans([task.subsets(seed) for seed in seeds])
    bounds = intervals(task.interpolation_range)
    streams = SeedStreams(seeds, "train")
    weight = torch.rand(args.seeds, task.input_size, 2, requires_grad=True)
    steps = 20  # batches per timed call of the data pieces

    def drawn() -> None:
        for _ in range(steps):
            draw(streams, BATCH, task.input_size, bounds, spans)

    def projected() -> torch.Tensor:
        return draw_projection(streams, steps * BATCH, bounds, spans, weight)[0]

    h = projected()
    grad = torch.ones_like(h)

    def backward() -> None:
        torch.autograd.grad(h, weight, grad, retain_graph=True)

    def build() -> torch.nn.Module:
        return build_published_model(args.model, task.input_size)

    compiled = plan(stack_seeds(build, seeds[:1])) is not None
    config = TrainConfig(steps=args.steps, eval_every=args.steps, eval_size=100)
    train_seeds(build, task, TrainConfig(steps=5, eval_every=5, eval_size=10), seeds[:2], threads=args.threads)
    pieces = {
        "draw": seconds(drawn, 5) / steps,
        "draw + first layer forward": seconds(projected, 5) / steps,
        "first layer backward": seconds(backward, 5) / steps,
        f"whole step ({'compiled' if compiled else 'PyTorch loop'})": seconds(
            lambda: train_seeds(build, task, config, seeds, threads=args.threads), 1
        ) / args.steps,
    }
    table = Table(title=f"{args.model}, {args.seeds} seeds, batch {BATCH}, 100 inputs, float32, {args.threads} threads")
    for column in ("piece", "ns per row per thread", "seed-steps per second alone"):
        table.add_column(column, justify="right")
    for name, step_seconds in pieces.items():
        per_row = step_seconds * args.threads / (args.seeds * BATCH) * 1e9
        table.add_row(name, f"{per_row:,.0f}", f"{args.seeds / step_seconds:,.0f}")
    console = Console()
    console.print(table)
    console.print(f"load average (1, 5, 15 min): {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()

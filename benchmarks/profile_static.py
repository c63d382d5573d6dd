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
- "log(|x| + eps)": the logarithms of a row's 100 inputs, as the log-space layers (NAC•, NALU)
  take them (:func:`nalm.bench.fused._log_magnitudes`);
- "whole step": the compiled training step (:mod:`nalm.bench.fused`) of the model, everything in.

Each figure is nanoseconds per row per thread (seconds x threads it ran on / (seeds x rows)), and
the seed-steps per second that piece alone would allow on ``--threads`` threads. The data pieces run at any model's cost: no model can
train faster than its data is drawn.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from nalm.bench.data import SeedStreams, draw, draw_projection, set_threads
from nalm.bench.fused import _log_magnitudes, plan
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

    rows = np.asarray(draw(streams, steps * BATCH, task.input_size, bounds, spans)[0]).reshape(-1)
    logs, spare = np.empty_like(rows), np.empty_like(rows)

    def logarithms() -> None:
        _log_magnitudes(rows, np.float32(1e-7), logs, spare)

    def build() -> torch.nn.Module:
        return build_published_model(args.model, task.input_size)

    compiled = plan(stack_seeds(build, seeds[:1])) is not None
    config = TrainConfig(steps=args.steps, eval_every=args.steps, eval_size=100)
    train_seeds(build, task, TrainConfig(steps=5, eval_every=5, eval_size=10), seeds[:2], threads=args.threads)
    # each piece: (seconds per step of all the seeds, threads it ran on)
    pieces = {
        "draw": (seconds(drawn, 5) / steps, args.threads),
        "draw + first layer forward": (seconds(projected, 5) / steps, args.threads),
        "first layer backward": (seconds(backward, 5) / steps, args.threads),
        "log(|x| + eps)": (seconds(logarithms, 5) / steps, 1),
        f"whole step ({'compiled' if compiled else 'PyTorch loop'})": (
            seconds(lambda: train_seeds(build, task, config, seeds, threads=args.threads), 1) / args.steps,
            args.threads,
        ),
    }
    table = Table(title=f"{args.model}, {args.seeds} seeds, batch {BATCH}, 100 inputs, float32, {args.threads} threads")
    for column in ("piece", "ns per row per thread", f"seed-steps per second alone, {args.threads} threads"):
        table.add_column(column, justify="right")
    for name, (step_seconds, threads) in pieces.items():
        per_row = step_seconds * threads / (args.seeds * BATCH)
        table.add_row(name, f"{per_row * 1e9:,.0f}", f"{args.threads / (per_row * BATCH):,.0f}")
    console = Console()
    console.print(table)
    console.print(f"load average (1, 5, 15 min): {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()

"""Where a compiled training step of the static task spends its time: per row of the batch, per step.

    python benchmarks/profile_static.py                 # NAU -> NMU (the "nmu" model), 100 seeds
    python benchmarks/profile_static.py --model nalu

On ``--threads`` threads and ``--seeds`` seeds side by side, in float32 with the published sizes
(100 inputs, hidden 2), it times

- "draw": the data drawn as the training kernel draws it, one row at a time in cache (the
  helpers of :mod:`nalm.bench.tasks.streams` and :mod:`nalm.bench.tasks.fixed_order` in a loop of this script's own): a row's 100 inputs from the
  SplitMix64 streams and its two subset sums, the work every model does for every row;
- "log(|x| + eps)": the logarithms of a row's 100 inputs (:func:`nalm.bench.engine.vector_log.log_magnitudes`
  on one seed's batch, in cache), which the log-space layers (NAC•, NALU) add to it;
- the whole training step (:mod:`nalm.bench.engine.compiled`, or the PyTorch loop for the models it does not
  know), each figure the difference of runs of n and 2n steps (so building the models and the
  final evaluation cancel), at batch sizes 16 and 1024, which splits its time into a cost per row
  (data, forward, backward) and a cost per step (weights, penalty, Adam: once per batch), and at
  the benchmark's batch of 128.

Per-row figures are nanoseconds per row per thread (seconds x threads / (seeds x rows)); "step: per
batch / 128" is the per-step cost spread over the benchmark's 128 rows; the last column is the
seed-steps per second at batch 128 that the piece alone would allow.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
import torch
from numba import njit, prange
from rich.console import Console
from rich.table import Table

from nalm.bench.engine import TrainConfig, stack_seeds, train_seeds
from nalm.bench.engine.compiled import plan
from nalm.bench.engine.vector_log import log_magnitudes
from nalm.bench.models import MODELS, build_published_model
from nalm.bench.tasks import StaticArithmeticTask, intervals
from nalm.bench.tasks.fixed_order import row_sum
from nalm.bench.tasks.streams import SeedStreams, draw, draws_per_row, fill_row, interval_arrays, set_threads

BATCH = 128


@njit(parallel=True)
def _draw_rows(positions, per_row, lows, starts, total, spans, columns, rows, out):
    """Draw ``rows`` float32 rows of every seed and their subset sums as the training kernel does,
    one row at a time in cache, keeping only a total (out[s]) so that nothing is stored."""
    for s in prange(positions.shape[0]):
        row = np.empty(columns, np.float32)
        total_sum = 0.0
        for r in range(rows):
            fill_row(row, positions[s] + np.uint64(r * per_row), 24, lows, starts, total)
            total_sum += row_sum(row, spans[s, 0], spans[s, 1]) + row_sum(row, spans[s, 2], spans[s, 3])
        out[s] = total_sum


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
    parser.add_argument("--rows", type=int, default=40_000, help="rows per seed of the timed runs (default: 40,000)")
    parser.add_argument("--threads", type=int, default=2, help="threads (default: 2)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    set_threads(args.threads)
    task = StaticArithmeticTask("mul")
    seeds = list(range(args.seeds))
    spans = task.spans([task.subsets(seed) for seed in seeds])
    streams = SeedStreams(seeds, "train")
    bounds = intervals(task.interpolation_range)
    positions = SeedStreams(seeds, "train").positions
    lows, starts, total = interval_arrays(bounds)
    sums = np.empty(args.seeds)
    draw_rows = args.rows // 2

    def drawn() -> None:
        _draw_rows(
            positions, draws_per_row(task.input_size), lows, starts, total, spans, task.input_size, draw_rows, sums
        )

    batch = np.asarray(draw(streams, BATCH, task.input_size, bounds, spans)[0][0]).reshape(-1)  # one seed's
    logs = np.empty_like(batch)

    def build() -> torch.nn.Module:
        return build_published_model(args.model, task.input_size)

    def trained(batch_size: int, steps: int) -> float:
        config = TrainConfig(steps=steps, eval_every=steps, eval_size=10, batch_size=batch_size)
        return seconds(lambda: train_seeds(build, task, config, seeds, threads=args.threads), 3)

    def whole(batch_size: int) -> float:
        """Seconds per row of training at ``batch_size`` rows per step: the difference of runs of n and
        2n steps (n x batch_size about half of ``--rows``), so that building the models, the final
        evaluation and the kernels' setup cancel."""
        steps = max(1, args.rows // (2 * batch_size))
        return (trained(batch_size, 2 * steps) - trained(batch_size, steps)) / (steps * batch_size)

    train_seeds(build, task, TrainConfig(steps=5, eval_every=5, eval_size=10), seeds[:2], threads=args.threads)
    per_row = {  # seconds per row of all the seeds, and the threads that shared it
        "draw": (seconds(drawn, 5) / draw_rows, args.threads),
        "log(|x| + eps)": (
            seconds(lambda: log_magnitudes(batch, np.float32(1e-7), logs), 200) / BATCH * args.seeds,
            1,
        ),
    }
    small, large, benchmark = whole(16), whole(1024), whole(BATCH)
    per_step = max(0.0, (small - large) * 16 * 1024 / (1024 - 16))  # time(b) = per_step + b * row
    path = "compiled" if plan(stack_seeds(build, seeds[:1])) is not None else "PyTorch loop"
    per_row.update(
        {
            "step: per row": (large - per_step / 1024, args.threads),
            f"step: per batch / {BATCH}": (per_step / BATCH, args.threads),
            f"step at batch {BATCH}": (benchmark, args.threads),
        }
    )
    table = Table(title=f"{args.model} ({path}), {args.seeds} seeds, 100 inputs, float32, {args.threads} threads")
    for column in ("piece", "ns per row per thread", "seed-steps/s alone"):
        table.add_column(column, justify="right")
    for name, (row_seconds, threads) in per_row.items():
        per_thread = row_seconds * threads / args.seeds
        table.add_row(name, f"{per_thread * 1e9:,.0f}", f"{args.threads / (per_thread * BATCH):,.0f}")
    console = Console()
    console.print(table)
    console.print(f"load average (1, 5, 15 min): {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()

"""The training steps whose batch holds an input of exactly 0, per seed, beside a results file's rows.

    python benchmarks/exact_zeros.py --preset primer2021 --low -2 --high 2 \\
        --results benchmarks/results/primer2021-mcfc.jsonl --model mul_mcfc_inalu

    python benchmarks/exact_zeros.py --preset mistry2021-div10 --low -2 --high 2 --only-b \
        --results benchmarks/results/division-search/div10-sign_nmru-dev.jsonl --model sign_nmru --first-seed 25

The benchmark draws float32 inputs from 24 random bits (``nalm.bench.tasks.streams``), so on a
range that holds 0 the value 0 itself comes with probability 2^-24 per input: on U[-2, 2] with 2
inputs, batches of 128 and 50,000 steps, about 0.76 zeros per seed. A unit with log |x| (MulMCFC,
NAC•) maps 0 to -inf: its output stays finite there, but its gradient is NaN, so the seed
diverges at the next step. For every seed the script prints the first steps whose batch holds a
0 (step s trains on the batch of rows (s - 1) * batch ... s * batch - 1) and, with ``--results``,
the row of that seed on that interpolation range: whether it diverged, the last step it trained,
when it was first solved and whether it succeeded. With ``--only-b`` only the inputs of the
subset b count: on the division task a b of exactly 0 makes the target a / 0 infinite.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from nalm.bench.runs import PRESETS
from nalm.bench.tasks.streams import SeedStreams, draw

CHUNK_STEPS = 1_000


def zero_steps(
    seed: int, low: float, high: float, steps: int, batch: int, inputs: int, columns: slice = slice(None)
) -> list[int]:
    """The steps (1-based) of ``seed``'s training stream whose float32 batch holds an exact 0 in ``columns``."""
    streams = SeedStreams([seed], "train")
    spans = np.array([[0, 1, 0, 1]])  # the sums are not needed; any span will do
    found = []
    for first in range(0, steps, CHUNK_STEPS):
        chunk = min(CHUNK_STEPS, steps - first)
        x, _ = draw(streams, chunk * batch, inputs, [(low, high)], spans, torch.float32)
        rows = torch.nonzero((x[0, :, columns] == 0).any(-1)).flatten()
        found.extend(sorted({first + int(row) // batch + 1 for row in rows}))
    return found


def rows_of(path: str, model: str, low: float, high: float) -> dict[int, dict]:
    """The rows of ``model`` on the interpolation range [low, high] in the results file, by seed."""
    with open(path) as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    return {r["seed"]: r for r in rows if r["model"] == model and r["interpolation_range"] == [low, high]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="primer2021", choices=sorted(PRESETS), help="steps, batch, inputs, seeds")
    parser.add_argument("--low", type=float, default=-2.0, help="interpolation range's low end")
    parser.add_argument("--high", type=float, default=2.0, help="interpolation range's high end")
    parser.add_argument("--results", help="a results file whose rows to show beside the zeros")
    parser.add_argument("--model", default="mul_mcfc_inalu", help="the model whose rows to show")
    parser.add_argument("--first-seed", type=int, default=0, help="the first of the preset's number of seeds")
    parser.add_argument("--only-b", action="store_true", help="count only the inputs of the subset b")
    args = parser.parse_args()
    benchmark = PRESETS[args.preset]
    try:
        configuration = benchmark.on_interpolation_range(args.low, args.high).configurations()[0]
    except ValueError as error:
        parser.error(f"{args.preset}: {error}")
    rows = rows_of(args.results, args.model, args.low, args.high) if args.results else {}
    print(f"{args.preset}: U[{args.low:g},{args.high:g}], {benchmark.input_size} inputs, batch {benchmark.batch_size}")
    print("seed  first steps with an exact 0   " + ("diverged  last step  solved at  success" if rows else ""))
    with_zero = 0
    task = benchmark.task(configuration)
    for seed in range(args.first_seed, args.first_seed + benchmark.seeds):
        columns = task.subsets(seed)[1] if args.only_b else slice(None)
        steps = zero_steps(
            seed, args.low, args.high, benchmark.steps, benchmark.batch_size, benchmark.input_size, columns
        )
        with_zero += bool(steps)
        line = f"{seed:4d}  {', '.join(map(str, steps[:3])) or '-':28s}"
        if seed in rows:
            r = rows[seed]
            line += f"  {str(r['diverged']):8s}  {r['final_step']:9d}  {str(r['solved_at']):9s}  {r['success']}"
        print(line)
    where = " in b" if args.only_b else ""
    print(f"{with_zero} of {benchmark.seeds} seeds meet an exact 0{where} within {benchmark.steps} steps")


if __name__ == "__main__":
    main()

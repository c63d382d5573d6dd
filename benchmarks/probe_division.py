"""Probes of the division search: the sign NMRU with one change, on the development seeds.

    python benchmarks/probe_division.py --change pair-ramp --low -20 --high -10 \\
        --results benchmarks/results/division-search/probes.jsonl
    python benchmarks/probe_division.py --ramp 10000 25000 \\
        --results benchmarks/results/division-search/probe-ramp-10k.jsonl

Trains the mistry2021-div10 model ``sign_nmru`` with seeds 25-49 on one range pair (``--low``,
``--high``) or on all nine, and appends the rows, each with its ``variant``, to the results file.

A ``--change`` patches the sign NMRU (``nalm.torch.SignNMRU``) for this process only and trains
through the PyTorch loop (the compiled kernels know the unit only as it is). ``--ramp``,
``--sparsity``, ``--learning-rate`` and ``--attempts`` replace the model's own training settings at ten inputs
(the rows' ``model_definition`` says so) and train on the compiled kernels where they cover the
model. A change that proves itself becomes an option of the unit or a model, with its tests.

- ``pair-ramp``, ``pair-const``: add gamma s(t) mean_i,o(W_x[i, o] W_r[i, o]) to the loss (W_x, W_r
  the rows over x and over 1/x, clamped to [0, 1]): 0 where no input has both weights above 0;
  s(t) is the sparsity ramp, or 1 from the first step.
- ``noise``: in training, multiply |x'| by n ~ U[low, high] (--noise-range, default 1 to 5), one
  value per row and per input of x' = [x, 1/(x + eps)], and divide the magnitude by the same
  product over n, prod_j (n_j W_j + 1 - W_j): exact where W is 0 or 1 (the sNMU's idea, as the
  division paper's code offers it for the NMRU). The noise comes from torch's global generator as
  the models' initializations leave it: the same from run to run, but unlike the benchmark's own
  noise, a seed's depends on the seeds beside it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math

import torch

from nalm import functional
from nalm.bench.engine import train_seeds
from nalm.bench.models.static import MODELS
from nalm.bench.runs import PRESETS
from nalm.torch import SignNMRU

DEVELOPMENT_SEEDS = tuple(range(25, 50))
CHANGES = ("pair-ramp", "pair-const", "noise")


def with_pair_penalty(gamma: float, ramped: bool) -> None:
    """Make every SignNMRU's regularization loss its own plus the pair penalty."""
    own = SignNMRU.regularization_loss

    def regularization_loss(self: SignNMRU, step: int) -> torch.Tensor:
        W = self.W.clamp(0, 1)
        n = W.shape[-2] // 2
        strength = self.schedule(float(step)) if ramped else 1.0
        pairs = (W[..., :n, :] * W[..., n:, :]).mean(dim=(-2, -1)).sum()  # summed over a seed axis
        return own(self, step) + gamma * strength * pairs

    SignNMRU.regularization_loss = regularization_loss  # type: ignore[method-assign]


def with_noise(low: float, high: float) -> None:
    """Make every SignNMRU in training read |x'| * n and divide by the product over n."""
    own = SignNMRU.forward

    def forward(self: SignNMRU, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return own(self, x)
        clamped = self.W.clamp(0, 1)
        inputs = torch.cat([x, functional.reciprocal(x, training=True)], -1)
        noise = torch.rand(inputs.shape, dtype=x.dtype, device=x.device) * (high - low) + low
        magnitude = functional.selective_product(inputs.abs() * noise, clamped, ops=torch)
        magnitude = magnitude / functional.selective_product(noise, clamped, ops=torch)
        phase = torch.matmul(math.pi * (inputs < 0).to(x.dtype), self.W)
        return magnitude * torch.cos(phase)

    SignNMRU.forward = forward  # type: ignore[method-assign]


def with_settings(
    ramp: tuple[int, int] | None, sparsity: float | None, learning_rate: float | None, attempts: int = 1
) -> list[str]:
    """Give the ten-input sign NMRU model the sparsity ``ramp`` (start, end), the sparsity strength,
    the learning rate (None: its own) and the ``attempts`` given; returns the changes in words."""
    base = MODELS["sign_nmru"]
    at_ten = base.at(10)
    schedule = at_ten.schedule
    assert schedule is not None
    changes = []
    if ramp is not None:
        schedule = dataclasses.replace(schedule, lambda_start=ramp[0], lambda_end=ramp[1])
        changes.append(f"ramp {ramp[0]}-{ramp[1]}")
    if sparsity is not None:
        schedule = dataclasses.replace(schedule, lambda_sparse=sparsity)
        changes.append(f"lambda {sparsity:g}")
    if learning_rate is not None:
        changes.append(f"lr {learning_rate:g}")
    if attempts > 1:
        changes.append(f"{attempts} attempts")
    at_ten = dataclasses.replace(
        at_ten, schedule=schedule, learning_rate=learning_rate or at_ten.learning_rate, attempts=attempts
    )
    MODELS["sign_nmru"] = dataclasses.replace(base, by_input_size=((10, at_ten),))
    return changes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--change", choices=CHANGES, help="what to change in the sign NMRU (default: nothing)")
    parser.add_argument("--gamma", type=float, default=1.0, help="pair-*: the pair penalty's weight")
    parser.add_argument("--noise-range", type=float, nargs=2, default=(1.0, 5.0), help="noise: low and high")
    parser.add_argument("--ramp", type=int, nargs=2, metavar=("START", "END"), help="the sparsity ramp's steps")
    parser.add_argument("--sparsity", type=float, help="the sparsity penalty's strength lambda")
    parser.add_argument("--learning-rate", type=float, help="Adam's learning rate")
    parser.add_argument("--attempts", type=int, default=1, help="attempts, each from a fresh start (default 1)")
    parser.add_argument("--low", type=float, help="the interpolation range's low end (default: every range)")
    parser.add_argument("--high", type=float, help="the interpolation range's high end")
    parser.add_argument("--threads", type=int, default=1, help="threads that train (default 1)")
    parser.add_argument("--results", required=True, help="the results file to append the rows to")
    args = parser.parse_args()
    if (args.low is None) != (args.high is None):
        parser.error("give both --low and --high, or neither")
    benchmark = PRESETS["mistry2021-div10"]
    if args.low is not None:
        try:
            benchmark = benchmark.on_interpolation_range(args.low, args.high)
        except ValueError as error:
            parser.error(f"mistry2021-div10: {error}")
    configurations = [c for c in benchmark.configurations() if c.model == "sign_nmru"]
    changes = with_settings(args.ramp, args.sparsity, args.learning_rate, args.attempts)
    if args.change == "noise":
        with_noise(*args.noise_range)
        changes.append(f"noise U[{args.noise_range[0]:g}, {args.noise_range[1]:g}]")
    elif args.change is not None:
        with_pair_penalty(args.gamma, args.change == "pair-ramp")
        changes.append(f"pair penalty, gamma {args.gamma:g}, {args.change.removeprefix('pair-')}")
    variant = ", ".join(changes) or "sign NMRU"
    for configuration in configurations:
        build = benchmark.builder(configuration, "cpu")
        task, config = benchmark.task(configuration), benchmark.train_config(configuration)
        engine = "auto" if args.change is None else "torch"
        results = train_seeds(build, task, config, DEVELOPMENT_SEEDS, threads=args.threads, engine=engine)
        rows = benchmark.rows(configuration, DEVELOPMENT_SEEDS, results, build)
        with open(args.results, "a") as lines:
            for row in rows:
                lines.write(json.dumps({**row, "variant": variant}) + "\n")
        solved = sum(row["success"] for row in rows)
        print(f"{variant} on {configuration.ranges_label}: {solved} of {len(rows)} solved", flush=True)


if __name__ == "__main__":
    main()

"""Probes of the division search: the sign NMRU with one change, on the development seeds.

    python benchmarks/probe_division.py --change pair-ramp --low -20 --high -10 \\
        --results benchmarks/results/division-search/probes.jsonl

Each change patches the sign NMRU (``nalm.torch.SignNMRU``) for this process only, trains the
mistry2021-div10 model on one range pair with seeds 25-49 through the PyTorch loop (the compiled
kernels know the unit only as it is), and appends the rows, each with its ``variant``, to the
results file. A change that proves itself becomes an option of the unit, with its tests.

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
import json
import math

import torch

from nalm import functional
from nalm.bench.engine import train_seeds
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--change", choices=CHANGES, required=True, help="what to change in the sign NMRU")
    parser.add_argument("--gamma", type=float, default=1.0, help="pair-*: the pair penalty's weight")
    parser.add_argument("--noise-range", type=float, nargs=2, default=(1.0, 5.0), help="noise: low and high")
    parser.add_argument("--low", type=float, default=-20.0, help="interpolation range's low end")
    parser.add_argument("--high", type=float, default=-10.0, help="interpolation range's high end")
    parser.add_argument("--results", required=True, help="the results file to append the rows to")
    args = parser.parse_args()
    benchmark = PRESETS["mistry2021-div10"]
    configuration = next(
        c
        for c in benchmark.configurations()
        if c.model == "sign_nmru" and c.interpolation_range == (args.low, args.high)
    )
    if args.change == "noise":
        with_noise(*args.noise_range)
        variant = f"noise U[{args.noise_range[0]:g}, {args.noise_range[1]:g}]"
    else:
        with_pair_penalty(args.gamma, args.change == "pair-ramp")
        variant = f"pair penalty, gamma {args.gamma:g}, {args.change.removeprefix('pair-')}"
    build = benchmark.builder(configuration, "cpu")
    task, config = benchmark.task(configuration), benchmark.train_config(configuration)
    results = train_seeds(build, task, config, DEVELOPMENT_SEEDS, threads=1, engine="torch")
    rows = benchmark.rows(configuration, DEVELOPMENT_SEEDS, results, build)
    with open(args.results, "a") as lines:
        for row in rows:
            lines.write(json.dumps({**row, "variant": variant}) + "\n")
    print(f"{variant} on {configuration.ranges_label}: {sum(row['success'] for row in rows)} of {len(rows)} solved")


if __name__ == "__main__":
    main()

"""The static task's success threshold (Madsen and Johansen 2020): the error of a nearly exact solution."""

from __future__ import annotations

import math

import torch

from nalm.bench.tasks.static import OPERATIONS, StaticArithmeticTask
from nalm.bench.tasks.streams import SeedStreams

CHUNK_ELEMENTS = 10_000_000
"""Inputs drawn at once (80 MB in float64): the threshold's samples are summed in chunks of at most
100,000 rows and at most this many values."""


def success_threshold(
    task: StaticArithmeticTask,
    *,
    eps: float = 1e-5,
    samples: int = 1_000_000,
    seed: int = 0,
    hidden_layer: bool = True,
) -> float:
    """The extrapolation MSE of a nearly perfect solution: a run below it counts as solved.

    The exact solution's first layer selects subsets a and b (weights 1, the rest 0). Perturbing
    it by ``eps`` (zeros become eps, ones 1 - eps) and keeping the exact operation on top gives
    a hidden pair (a', b'); the threshold is mean((a' op b' - a op b)^2) over ``samples`` points of
    the extrapolation range, computed in float64, in an order that does not depend on PyTorch's
    thread count (each row's sums on one thread, the mean's sum exact).

    ``hidden_layer=False`` is for one unit reading a and b directly (the single-unit task): its
    exact weights (+-1 on a and b, or the exponents of a product) are moved eps towards zero, so
    the perturbed output is (1 - eps) (a +- b) for add and sub, and sign(t) |t|^(1 - eps) for the
    multiplicative targets t (mul, div, square, sqrt). (Perturbing a selection there would cancel:
    a' + b' = a + b.)

    On the recurrent task (``task.time_steps`` > 1) the first layer is a recurrent cell whose exact
    weights are the selection on x_t and the identity on h_{t-1}: both are perturbed by ``eps``.
    """
    subsets = task.subsets(seed)
    streams = SeedStreams([seed], "threshold")
    exact = torch.zeros(task.input_size, 2, dtype=torch.float64)
    exact[subsets[0], 0] = 1.0
    exact[subsets[1], 1] = 1.0
    perturbed = exact * (1 - 2 * eps) + eps  # 0 -> eps, 1 -> 1 - eps
    operation = OPERATIONS[task.operation]
    recurrent = torch.eye(2, dtype=torch.float64) * (1 - 2 * eps) + eps  # the cell's weights on h_{t-1}, perturbed
    total, done = 0.0, 0
    values_per_row = task.input_size * task.time_steps
    while done < samples:
        n = min(max(1, 100_000 // task.time_steps), max(1, CHUNK_ELEMENTS // values_per_row), samples - done)
        x, target = task.sample(n, task.extrapolation_range, [subsets], streams, torch.float64)
        x, target = x[0], target[0]
        if hidden_layer:  # each row's dot products by one thread (PyTorch's matmul splits over threads)
            inputs = torch.stack([(x * perturbed[:, j]).sum(dim=-1) for j in range(2)], dim=-1)
            hidden = inputs
            if task.time_steps > 1:  # h_t = h_{t-1} R + x_t P
                hidden = torch.zeros_like(inputs[:, 0])
                for t in range(task.time_steps):
                    hidden = hidden @ recurrent + inputs[:, t]
            nearly = operation(hidden[:, :1], hidden[:, 1:])
        elif task.operation in ("add", "sub"):
            nearly = (1 - eps) * target
        else:
            nearly = torch.sign(target) * target.abs() ** (1 - eps)
        total += math.fsum(((nearly - target) ** 2).reshape(-1).tolist())  # exact: in no order
        done += n
    return total / samples

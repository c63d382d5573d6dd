"""Statistics of the benchmark's analysis: the Wilson interval of a success rate, Student-t
success bounds of the digit tasks, and the maximum-likelihood beta fit of the published summaries."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

Z_95 = 1.959963984540054
"""The standard normal quantile of 0.975: a two-sided 95% interval."""


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion p = successes / trials:

        (p + z^2 / 2n -/+ z sqrt(p (1 - p) / n + z^2 / 4n^2)) / (1 + z^2 / n)

    Unlike p -/+ z sqrt(p (1 - p) / n) it stays inside [0, 1] and is not empty at p = 0 or 1.
    """
    if isinstance(trials, bool) or not isinstance(trials, int) or trials <= 0:
        raise ValueError(f"trials must be a positive integer, got {trials!r}")
    if isinstance(successes, bool) or not isinstance(successes, int) or not 0 <= successes <= trials:
        raise ValueError(f"successes must be an integer in [0, {trials}], got {successes!r}")
    p, n = successes / trials, trials
    center = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    scale = 1 + z * z / n
    # At p = 0 and p = 1 the bound is exactly 0 or 1; rounding must not move it inside.
    low = 0.0 if successes == 0 else max(0.0, (center - spread) / scale)
    high = 1.0 if successes == trials else min(1.0, (center + spread) / scale)
    return low, high


def student_t_quantile(probability: float, degrees: int) -> float:
    """The ``probability`` quantile of Student's t with ``degrees`` degrees of freedom (scipy)."""
    try:
        from scipy.stats import t
    except ImportError:
        raise ValueError("the success bound needs SciPy: pip install 'nalm[digits]'") from None
    return float(t.ppf(probability, degrees))


def success_bounds(baseline: Sequence[Sequence[float]], level: float = 0.01) -> list[float]:
    """The upper ``level`` one-sided Student-t confidence bound of the mean baseline MSE at each
    length: mean + t_{1 - level, n - 1} s / sqrt(n), over the n >= 2 baseline runs (rows of
    ``baseline``, one MSE per length). A model's MSE below it at a length is a success there."""
    errors = torch.tensor(baseline, dtype=torch.float64)
    if errors.dim() != 2 or len(errors) < 2:
        raise ValueError(f"the bound needs the MSEs of at least 2 baseline runs, got shape {tuple(errors.shape)}")
    if not torch.isfinite(errors).all():
        raise ValueError("a baseline run's MSE is not finite: the bound would be meaningless")
    n = len(errors)
    spread = errors.std(dim=0) / math.sqrt(n)
    return (errors.mean(dim=0) + student_t_quantile(1 - level, n - 1) * spread).tolist()


def beta_fit(x: torch.Tensor, iterations: int = 50) -> tuple[float, float] | None:
    """The maximum-likelihood (alpha, beta) of samples x in (0, 1) of a beta distribution, or None
    if Newton's method does not converge (a singular Hessian, values that barely vary).

    Newton's method on the score equations psi(alpha + beta) - psi(alpha) = -mean(log x) and
    psi(alpha + beta) - psi(beta) = -mean(log(1 - x)), from the moment estimates; the
    log-likelihood is concave in (alpha, beta). Converged when a step moves both by at most 1e-7
    of their value.
    """
    mean, variance = x.mean(), x.var()
    params = torch.stack([mean, 1 - mean]) * (mean * (1 - mean) / variance - 1)
    target = torch.stack([x.log().mean(), torch.log1p(-x).mean()])
    for _ in range(iterations):
        a, b = params
        score = torch.digamma(a + b) - torch.digamma(params) + target
        shared = torch.polygamma(1, a + b)
        hessian = torch.stack(
            [
                torch.stack([shared - torch.polygamma(1, a), shared]),
                torch.stack([shared, shared - torch.polygamma(1, b)]),
            ]
        )
        step, info = torch.linalg.solve_ex(hessian, score)
        if info.item() != 0 or not bool(torch.isfinite(step).all()):
            return None
        while bool((params - step <= 0).any()):  # keep alpha, beta > 0
            step = step / 2
        params = params - step
        if bool((step.abs() <= 1e-7 * params).all()):
            a, b = params.tolist()
            return a, b
    return None

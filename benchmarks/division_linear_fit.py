"""How close a smooth function comes to the static task's a / b: the constant 1 and the best
linear function of the inputs, beside the threshold, for one seed's subsets.

    python benchmarks/division_linear_fit.py --seed 100 > benchmarks/results/division-search/static-div-linear-fit.txt

Draws ``--rows`` inputs from U[1, 2] (interpolation) and from U[2, 6] (extrapolation) with
NumPy's generator (seed 0), forms a and b from the subsets that the madsen2020 preset gives
``--seed``, fits a / b by least squares on the interpolation rows (100 weights and a bias) and
prints the MSE of the constant 1 and of the fit on both ranges, the range of a / b on each, and
the task's success threshold for ÷.
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from nalm.bench.runs import PRESETS
from nalm.bench.tasks.thresholds import success_threshold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=100, help="the seed whose subsets a and b sum (default 100)")
    parser.add_argument("--rows", type=int, default=200_000, help="rows drawn on each range (default 200,000)")
    args = parser.parse_args()
    benchmark = dataclasses.replace(PRESETS["madsen2020"], models=("nmu",), operations=("div",))
    task = benchmark.task(benchmark.configurations()[0])
    first, second = task.subsets(args.seed)
    generator = np.random.default_rng(0)

    def rows(bounds: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
        x = generator.uniform(*bounds, size=(args.rows, task.input_size))
        return np.hstack([x, np.ones((args.rows, 1))]), x[:, first].sum(1) / x[:, second].sum(1)

    x, target = rows(task.interpolation_range)
    weights, *_ = np.linalg.lstsq(x, target, rcond=None)
    x_far, target_far = rows(task.extrapolation_range)
    print(f"seed {args.seed}: a = x[{first.start}:{first.stop}].sum(), b = x[{second.start}:{second.stop}].sum()")
    for name, (inputs, wanted) in (("interpolation", (x, target)), ("extrapolation", (x_far, target_far))):
        print(f"{name}: a / b in [{wanted.min():.3f}, {wanted.max():.3f}]")
        print(f"  constant 1: MSE {np.mean((wanted - 1) ** 2):.2g}")
        print(f"  linear fit: MSE {np.mean((inputs @ weights - wanted) ** 2):.2g}")
    print(f"success threshold: {success_threshold(task, samples=benchmark.threshold_samples, hidden_layer=True):.2g}")


if __name__ == "__main__":
    main()

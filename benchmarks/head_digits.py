"""The arithmetic head as a user tries it: a small ResNet-like backbone regressing the digit value of
scikit-learn's digits (8 x 8 images, pixel values 0..16 fed as they are), for each unit and with and
without the head's feature normalization.

    python benchmarks/head_digits.py                       # about 2 minutes on 2 CPU cores
    python benchmarks/head_digits.py --pool none --units nalu nmu --seeds 5

Needs scikit-learn. The 1,797 images are split once by image (a quarter held out, the same split for
every run); each run trains ``build_head(backbone, 64, [16], "regression", 1, unit=...)`` with Adam
(lr 1e-3, batches of 64) for ``--epochs``, adding ``head.regularization_loss(step)`` to the loss
and calling ``head.apply_constraints()`` after every step, as the README's loop does. A run whose
loss becomes non-finite stops there.

Printed, one markdown row per unit and normalization, over the seeds: the test MSE (mean and each
seed; the test labels' variance is the MSE of predicting their mean), the runs whose loss became
non-finite (and the first such step), and what explains a failure: the features the units receive
at step 1 (count, median and largest |x|, share of exact zeros), the loss and gradient norm of
step 1, the largest |output| of any unit at step 1 and over the finite steps (an NMU's product),
the standard deviation of the test predictions (near 0: the head predicts a constant), and for
NALU the output unit's gate on the test images (mean, and the share below 0.01: on the log path).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from nalm.functional import gate
from nalm.torch import build_head

CHANNELS = 64
HIDDEN = [16]
BATCH = 64


class Residual(nn.Module):
    """relu(x + conv(relu(conv(x)))): (N, C, H, W) -> (N, C, H, W)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.body(x))


def backbone() -> nn.Module:
    """A small ResNet-like backbone without batch normalization: (N, 1, 8, 8) -> (N, 64, 4, 4)."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.ReLU(),
        Residual(32),
        nn.Conv2d(32, CHANNELS, 3, stride=2, padding=1),
        nn.ReLU(),
    )


def digits() -> tuple[torch.Tensor, ...]:
    """Train images (N, 1, 8, 8), train values (N, 1), then the same for the test images."""
    data = load_digits()
    images = torch.tensor(data.images, dtype=torch.float32)[:, None]
    values = torch.tensor(data.target, dtype=torch.float32)[:, None]
    train, test = train_test_split(np.arange(len(images)), test_size=0.25, random_state=0)
    return images[train], values[train], images[test], values[test]


def run(unit: str, pool: str | None, normalize: str | None, seed: int, epochs: int, data: tuple) -> dict:
    """Train one head; returns its test MSE and the diagnostics."""
    train_x, train_y, test_x, test_y = data
    torch.manual_seed(seed)
    shape = {"feature_shape": (4, 4)} if pool is None else {}
    head = build_head(backbone(), CHANNELS, HIDDEN, "regression", 1, unit=unit, pool=pool, normalize=normalize, **shape)
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-3)
    outputs: list[float] = []  # the largest |output| of each unit in the current forward pass
    for layer in head.network:
        layer.register_forward_hook(lambda module, inputs, output: outputs.append(output.detach().abs().max().item()))
    result = {"nonfinite": None, "peak": 0.0}
    order = torch.Generator().manual_seed(seed)
    step = 0
    for _ in range(epochs):
        for batch in torch.randperm(len(train_x), generator=order).split(BATCH):
            step += 1
            if step == 1:
                with torch.no_grad():
                    x = head.features(train_x[batch])
                result.update(
                    n=x.shape[1],
                    median=x.abs().median().item(),
                    largest=x.abs().max().item(),
                    zeros=(x == 0).float().mean().item(),
                )
            outputs.clear()
            loss = nn.functional.mse_loss(head(train_x[batch]), train_y[batch]) + head.regularization_loss(step)
            optimizer.zero_grad()
            loss.backward()
            if step == 1:
                grads = [p.grad for p in head.parameters() if p.grad is not None]
                result.update(
                    loss1=loss.item(),
                    grad1=torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])).item(),
                    output1=max(outputs),
                )
            if not math.isfinite(loss.item()):
                result["nonfinite"] = step
                break
            result["peak"] = max(result["peak"], *outputs)
            optimizer.step()
            head.apply_constraints()
        if result["nonfinite"]:
            break
    head.eval()
    with torch.no_grad():
        x = head.features(test_x)
        for layer in list(head.network)[:-1]:
            x = layer(x)
        last = head.network[-1]
        prediction = last(x)
        if hasattr(last, "gate"):
            g = gate(x, last.G, last.gate, ops=torch)
            result.update(gate=g.mean().item(), log_path=(g < 0.01).float().mean().item())
    mse = math.nan if result["nonfinite"] else nn.functional.mse_loss(prediction, test_y).item()
    result.update(mse=mse, spread=prediction.std().item())
    return result


def row(unit: str, normalize: str | None, runs: list[dict]) -> str:
    """One markdown row over the seeds."""

    def mean(key: str) -> float:
        values = [r[key] for r in runs if key in r]
        return statistics.fmean(values) if values else math.nan

    bad = [r["nonfinite"] for r in runs if r["nonfinite"]]
    mses = " ".join(f"{r['mse']:.2f}" for r in runs)
    gate_text = f"{mean('gate'):.2f} ({mean('log_path'):.0%})" if "gate" in runs[0] else "–"
    return (
        f"| {unit} | {normalize} | {mean('mse'):.2f} ({mses}) | {len(bad)}/{len(runs)}"
        f"{f' (step {min(bad)})' if bad else ''} | {runs[0]['n']}: {mean('median'):.2g}, {mean('largest'):.2g}, "
        f"{mean('zeros'):.0%} | {mean('loss1'):.3g}, {mean('grad1'):.3g} | {mean('output1'):.2g} / "
        f"{max(r['peak'] for r in runs):.2g} | {mean('spread'):.2g} | {gate_text} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", nargs="+", default=["nac", "nau", "nalu", "nmu"])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--pool", choices=["adaptive", "none"], default="adaptive")
    parser.add_argument("--normalize", nargs="+", choices=["layer", "none"], default=["layer", "none"])
    args = parser.parse_args()
    torch.set_num_threads(1)  # small convolutions: more threads gain little on 2 cores
    data = digits()
    pool = None if args.pool == "none" else "adaptive"
    print(
        f"pool={pool}, {args.epochs} epochs of {math.ceil(len(data[0]) / BATCH)} steps, seeds 0..{args.seeds - 1}; "
        f"test labels' variance {data[3].var().item():.3g} (mean {data[3].mean().item():.3g})\n"
    )
    print(
        "| unit | normalize | test MSE: mean (each seed) | non-finite runs | units' input at step 1: n: median, "
        "max abs, zeros | step 1: loss, gradient norm | max abs unit output: step 1 / run | test prediction std "
        "| NALU output gate: mean (share < 0.01) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    start = time.perf_counter()
    for unit in args.units:
        for normalize in args.normalize:
            choice = None if normalize == "none" else normalize
            runs = [run(unit, pool, choice, seed, args.epochs, data) for seed in range(args.seeds)]
            print(row(unit, choice, runs), flush=True)
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()

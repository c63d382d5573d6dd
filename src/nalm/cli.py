"""The ``nalm`` command line: wires the benchmark's pieces (task, model, trainer) together.

    nalm train --unit nalu --operation mul --steps 20000
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from nalm.bench.metrics import success_threshold
from nalm.bench.models import build_model
from nalm.bench.tasks import OPERATIONS, StaticArithmeticTask
from nalm.bench.trainer import TrainConfig, TrainResult, train
from nalm.torch import UNITS


def _range(text: str) -> tuple[float, float]:
    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        return float(parts[0]), float(parts[1])
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH (e.g. 1,2), got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nalm", description="Neural arithmetic logic modules.")
    commands = parser.add_subparsers(dest="command", required=True)
    defaults_task, defaults_train = StaticArithmeticTask(), TrainConfig()
    run = commands.add_parser(
        "train",
        help="train one unit on one operation of the static arithmetic task",
        description="Train a two-layer stack of one unit on the static arithmetic task (a op b of two "
        "overlapping input subsets) and print its interpolation and extrapolation MSE.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    run.add_argument("--unit", default="nac", choices=UNITS.names(), help="unit to stack: input -> hidden -> 1")
    run.add_argument("--operation", "--op", default="sub", choices=tuple(OPERATIONS), help="target a op b")
    run.add_argument("--steps", type=int, default=defaults_train.steps)
    run.add_argument("--batch-size", type=int, default=defaults_train.batch_size)
    run.add_argument("--learning-rate", "--lr", type=float, default=defaults_train.learning_rate)
    run.add_argument("--eval-every", type=int, default=defaults_train.eval_every)
    run.add_argument("--seed", type=int, default=defaults_train.seed)
    run.add_argument("--input-size", type=int, default=defaults_task.input_size)
    run.add_argument("--hidden-size", type=int, default=2)
    run.add_argument("--interpolation-range", type=_range, default="1,2", metavar="LOW,HIGH")
    run.add_argument("--extrapolation-range", type=_range, default="2,6", metavar="LOW,HIGH")
    run.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def _train_command(args: argparse.Namespace, console: Console) -> None:
    task = StaticArithmeticTask(
        operation=args.operation,
        input_size=args.input_size,
        interpolation_range=args.interpolation_range,
        extrapolation_range=args.extrapolation_range,
    )
    config = TrainConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        eval_every=args.eval_every,
        seed=args.seed,
    )
    try:
        device = torch.device(args.device)
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError, NotImplementedError) as error:
        reason = str(error).strip().split(". ")[0] or type(error).__name__
        raise ValueError(f"device {args.device!r} is not available: {reason}") from None
    if device.type == "cpu":
        torch.set_num_threads(1)  # the model is tiny: threads would spend more time syncing than computing
    torch.manual_seed(config.seed)
    model = build_model(args.unit, task.input_size, args.hidden_size).to(device)
    console.print(
        f"[bold]{args.unit}[/] on [bold]{task.operation}[/]: {task.input_size} inputs, "
        f"interpolation U{list(task.interpolation_range)}, extrapolation U{list(task.extrapolation_range)}, "
        f"{config.steps} steps, seed {config.seed}"
    )
    columns = (TextColumn("training"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]}"))
    with Progress(*columns, TimeRemainingColumn(), console=console, disable=args.no_progress) as progress:
        bar = progress.add_task("train", total=config.steps, loss="-")
        result = train(
            model, task, config, on_step=lambda step, loss: progress.update(bar, completed=step, loss=f"{loss:.3g}")
        )
    console.print(_result_table(result))
    threshold = success_threshold(task, samples=100_000)
    solved = result.best.extrapolation_mse < threshold
    console.print(
        f"[bold]{'solved' if solved else 'not solved'}[/]: extrapolation MSE at the best interpolation step "
        f"{result.best.extrapolation_mse:.3g} {'<' if solved else '>='} {threshold:.3g}, the MSE of the exact "
        "solution with its first layer perturbed by 1e-5"
    )
    if result.diverged:
        console.print("[bold red]diverged[/]: the loss became non-finite and training stopped")


def _result_table(result: TrainResult) -> Table:
    table = Table(title="mean squared error")
    for column in ("", "step", "interpolation", "extrapolation"):
        table.add_column(column, justify="right")
    for label, evaluation in (("final", result.final), ("best interpolation", result.best)):
        table.add_row(
            label, str(evaluation.step), f"{evaluation.interpolation_mse:.4g}", f"{evaluation.extrapolation_mse:.4g}"
        )
    return table


COMMANDS = {"train": _train_command}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nalm`` command; returns the exit status (2 for bad arguments)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    console = Console()
    try:
        COMMANDS[args.command](args, console)
    except ValueError as error:
        parser.exit(2, f"nalm {args.command}: error: {error}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The ``nalm`` command line: wires the benchmark's stages (tasks, models, engine, runs, analysis) together.

nalm train --unit nalu --operation mul --steps 20000
nalm bench --preset quick --results results/quick.jsonl
nalm report results/quick.jsonl --out results/quick
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from nalm.bench.analysis.aggregate import summarize, summarize_language, summarize_sequences
from nalm.bench.analysis.published import CITATION, compare
from nalm.bench.analysis.report import (
    COMPARISON_COLUMNS,
    comparison_cells,
    several_ranges,
    summary_cells,
    write_published_table,
    write_report,
)
from nalm.bench.engine.config import TrainConfig
from nalm.bench.engine.loop import ENGINES, train
from nalm.bench.engine.problem import TrainResult
from nalm.bench.models.digits import SEQUENCE_MODELS, build_sequence_model
from nalm.bench.models.language import LANGUAGE_MODELS
from nalm.bench.models.static import MODELS, build_unit_stack
from nalm.bench.runs.digit_grid import SequenceBenchmark
from nalm.bench.runs.grid import Configuration, Grid, Row
from nalm.bench.runs.language_grid import LANGUAGE_OPERATIONS, LanguageBenchmark
from nalm.bench.runs.presets import ALL_PRESETS, LANGUAGE_PRESETS, SEQUENCE_PRESETS
from nalm.bench.runs.ray_executor import check_reachable, require_ray
from nalm.bench.runs.results_file import ResultsFile, read_results
from nalm.bench.runs.runner import EXECUTORS, run_benchmark
from nalm.bench.runs.static_grid import Benchmark
from nalm.bench.tasks.digits import SEQUENCE_OPERATIONS, DigitSequenceTask, check_memory
from nalm.bench.tasks.static import OPERATIONS, Range, StaticArithmeticTask, range_label
from nalm.bench.tasks.thresholds import success_threshold
from nalm.torch import UNITS
from nalm.validation import MissingDependencyError, choice, positive_int


def _range(text: str) -> Range:
    """ "LOW,HIGH", or a union "LOW,HIGH u LOW,HIGH" (e.g. "-6,-2u2,6"), as a [`Range`][nalm.cli.Range]."""
    try:
        intervals = []
        for part in text.split("u"):
            low, high = part.split(",")
            intervals.append((float(low), float(high)))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected LOW,HIGH (e.g. 1,2) or a union LOW,HIGHuLOW,HIGH (e.g. -6,-2u2,6), got {text!r}"
        ) from None
    return intervals[0] if len(intervals) == 1 else tuple(intervals)


def _range_pair(text: str) -> tuple[Range, Range]:
    parts = text.split(":")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH:LOW,HIGH (e.g. 1,2:2,6), got {text!r}")
    return _range(parts[0]), _range(parts[1])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nalm", description="Neural arithmetic logic modules.")
    commands = parser.add_subparsers(dest="command", required=True)
    defaults_task, defaults_train = StaticArithmeticTask(), TrainConfig()
    run = commands.add_parser(
        "train",
        help="train one unit on one operation of the static arithmetic task or a digit sequence task",
        description="Train a two-layer stack of one unit on the static arithmetic task (a op b of two "
        "overlapping input subsets) and print its interpolation and extrapolation MSE; with --task digits, "
        "train a CNN reading digit images and the unit as a recurrent cell, and print the test MSE at each "
        "sequence length.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    run.add_argument(
        "--task",
        default="static",
        type=str.lower,  # names whatever their case: NAC is nac
        choices=("static", "digits"),
        help="the static task, or the digit sequence tasks (operations count, sum, product)",
    )
    run.add_argument(
        "--unit",
        type=str.lower,
        choices=tuple(dict.fromkeys((*UNITS.names(), *SEQUENCE_MODELS))),
        help="unit to stack: input -> hidden -> 1 (default nac); with --task digits, the recurrent "
        f"cell ({', '.join(SEQUENCE_MODELS)}; default nau)",
    )
    run.add_argument(
        "--operation",
        "--op",
        type=str.lower,
        choices=(*OPERATIONS, *SEQUENCE_OPERATIONS),
        help="target a op b (default sub); with --task digits, one of count, sum, product (default sum)",
    )
    run.add_argument("--steps", type=int, default=defaults_train.steps, help="training steps")
    run.add_argument(
        "--batch-size",
        type=int,
        help=f"rows per training batch (default {defaults_train.batch_size}; --task digits: "
        f"{SequenceBenchmark().batch_size} sequences)",
    )
    run.add_argument(
        "--learning-rate", "--lr", type=float, default=defaults_train.learning_rate, help="Adam's learning rate"
    )
    run.add_argument("--eval-every", type=int, default=defaults_train.eval_every, help="steps between evaluations")
    run.add_argument("--seed", type=int, default=defaults_train.seed, help="seed of the initialization and the data")
    run.add_argument("--input-size", type=int, help=f"static task: inputs (default {defaults_task.input_size})")
    run.add_argument("--hidden-size", type=int, help="static task: units between the two layers (default 2)")
    run.add_argument(
        "--time-steps",
        type=int,
        help="static task: steps the input vector arrives over; > 1 is the recurrent task (default 1)",
    )
    run.add_argument(
        "--interpolation-range",
        type=_range,
        metavar="LOW,HIGH",
        help="static task: training and interpolation range (default 1,2)",
    )
    run.add_argument(
        "--extrapolation-range", type=_range, metavar="LOW,HIGH", help="static task: extrapolation range (default 2,6)"
    )
    run.add_argument("--images", help="--task digits: 'sklearn' (default) or a folder of MNIST IDX files")
    run.add_argument("--train-length", type=int, help="--task digits: training length (default: the published one)")
    run.add_argument(
        "--test-lengths",
        type=int,
        nargs="+",
        metavar="LENGTH",
        help="--task digits: test lengths (default: the published ones)",
    )
    run.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    run.add_argument(
        "--engine",
        default="auto",
        type=str.lower,
        choices=ENGINES,
        help="compiled: the compiled kernels (the models they cover); torch: PyTorch's autograd loop; "
        "auto: compiled where it covers the model",
    )
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    _add_bench_parser(commands)
    report = commands.add_parser(
        "report",
        help="write a Markdown table and figures of a results file",
        description="Summarize a results file of nalm bench: report.md (success rate with 95% Wilson "
        "interval, solved at, sparsity error, each model's definition, and the published results of "
        "Madsen & Johansen 2020 beside every configuration of their task), success_rate.png and "
        "extrapolation_error.png. The published comparison is also printed.",
    )
    report.add_argument(
        "results",
        type=Path,
        nargs="+",
        help="a results file written by nalm bench; several: the whole published table of Madsen & Johansen "
        "beside the run of each cell that tests it best (needs --out)",
    )
    report.add_argument("--out", type=Path, help="folder for the report (default: RESULTS without its suffix)")
    return parser


def _add_bench_parser(commands: argparse._SubParsersAction) -> None:
    """``nalm bench``: a preset, and an option for each of its values (dest = the Benchmark field)."""
    bench = commands.add_parser(
        "bench",
        help="train a grid of models x operations with many seeds and save one line per run",
        description=textwrap.fill(
            "Train each model on each operation with seeds 0..S-1 side by side, append one JSON line per run "
            "to the results file (a rerun trains only what is missing), and print each configuration's "
            "success rate. Options left out take the preset's value.",
            width=79,
        ),
        epilog="models of the static tasks (layers, sparsity schedule of both, initialization):\n"
        + "\n".join(
            f"  {name}: {model.describe()}"
            + "".join(
                f"\n    at {size} inputs: {other.describe()}"
                for size, other in model.by_input_size
                if other.describe() != model.describe()
            )
            for name, model in MODELS.items()
        )
        + "\ncells of the digit tasks (on sum; R_z only on sum and product):\n"
        + "\n".join(f"  {name}: {model.describe('sum')}" for name, model in SEQUENCE_MODELS.items())
        + "\ncells of the language task (with --readout recurrent):\n"
        + "\n".join(f"  {name}: {model.describe('recurrent')}" for name, model in LANGUAGE_MODELS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bench.add_argument(
        "--preset",
        default="quick",
        type=str.lower,
        choices=tuple(ALL_PRESETS),
        help=f"default: quick; {', '.join(SEQUENCE_PRESETS)} run the digit sequence tasks, "
        f"{', '.join(LANGUAGE_PRESETS)} the language-to-number task",
    )
    bench.add_argument(
        "--models",
        nargs="+",
        type=str.lower,
        choices=tuple(dict.fromkeys((*MODELS, *SEQUENCE_MODELS, *LANGUAGE_MODELS))),
        metavar="MODEL",
        help=f"models: layer pairs from {', '.join(MODELS)}; on the digit tasks, cells from "
        f"{', '.join(SEQUENCE_MODELS)}; on the language task, cells from {', '.join(LANGUAGE_MODELS)}",
    )
    bench.add_argument(
        "--operations",
        "--ops",
        nargs="+",
        type=str.lower,
        choices=(*OPERATIONS, *SEQUENCE_OPERATIONS, *LANGUAGE_OPERATIONS),
        metavar="OP",
        help=f"operations from {', '.join(OPERATIONS)}; on the digit tasks, from {', '.join(SEQUENCE_OPERATIONS)}; "
        f"the language task's is {', '.join(LANGUAGE_OPERATIONS)}",
    )
    for name, kind, text in (
        ("seeds", int, "seeds per configuration, 0..N-1, trained side by side"),
        ("first-seed", int, "the first seed (default 0): seeds F..F+N-1, e.g. to develop a method on other seeds"),
        ("steps", int, "training steps"),
        ("eval-every", int, "steps between evaluations"),
        ("batch-size", int, "training batch size"),
        ("learning-rate", float, "Adam's learning rate"),
        ("eval-size", int, "points in each evaluation set"),
        ("input-size", int, "inputs of the task"),
        ("subset-ratio", float, "size of the subsets a and b, as a fraction of the inputs"),
        ("overlap-ratio", float, "overlap of the subsets, as a fraction of their size"),
        ("hidden-size", int, "hidden units between the pair's layers; 0: the second layer alone"),
        ("threshold-samples", int, "samples estimating the success threshold"),
        (
            "threshold",
            float,
            "a constant success threshold on the extrapolation MSE (default: the perturbed solution's)",
        ),
        ("time-steps", int, "steps the input vector arrives over: the recurrent task if > 1"),
        ("images", str, "digit tasks: 'sklearn' (bundled 8x8 digits) or a folder of MNIST IDX files"),
        ("train-length", int, "digit tasks: training sequence length (default: each operation's published one)"),
        ("readout", str, "language task: where the cell reads the LSTM, 'recurrent' (every token) or 'final'"),
        ("embedding-size", int, "language task: size of the token embedding"),
        ("lstm-size", int, "language task: size of the LSTM's state"),
    ):
        bench.add_argument(f"--{name}", type=kind, help=text)
    bench.add_argument(
        "--select-initial",
        action=argparse.BooleanOptionalAction,
        help="whether the model at step 0 takes part in the selection of the evaluation (the division protocol's)",
    )
    bench.add_argument(
        "--test-lengths",
        type=int,
        nargs="+",
        metavar="LENGTH",
        help="digit tasks: test sequence lengths (default: each operation's published ones)",
    )
    bench.add_argument(
        "--range",
        dest="ranges",
        type=_range_pair,
        action="append",
        metavar="LOW,HIGH:LOW,HIGH",
        help="interpolation:extrapolation range pair, repeatable; negative: --range=-2,-1:-6,-2; "
        "a union: --range=-2,2:-6,-2u2,6",
    )
    bench.add_argument("--results", type=Path, help="results file (default: results/PRESET.jsonl)")
    bench.add_argument("--workers", type=int, default=2, help="processes training configurations (default: 2)")
    bench.add_argument(
        "--executor",
        default="local",
        type=str.lower,
        choices=EXECUTORS,
        help="local: worker processes on this machine; ray: tasks on a Ray cluster (default: local)",
    )
    bench.add_argument("--address", help="with --executor ray: the cluster's address (default: a local Ray instance)")
    bench.add_argument(
        "--device",
        default="cpu",
        help="torch device the models train on, e.g. cuda; its data is drawn there (default: cpu)",
    )
    bench.add_argument(
        "--engine",
        default="auto",
        type=str.lower,
        choices=ENGINES,
        help="compiled: the compiled kernels (the models they cover); torch: PyTorch's autograd loop; "
        "auto: compiled where it covers the model (default: auto)",
    )
    bench.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def benchmark_from_args(args: argparse.Namespace) -> Grid:
    """The preset with every option that was given replacing its value; an option of the other
    kind of benchmark (e.g. --input-size with a digit preset) raises ValueError."""
    base = ALL_PRESETS[choice("preset", args.preset, tuple(ALL_PRESETS))]
    names = {f.name for grid in (Benchmark, SequenceBenchmark, LanguageBenchmark) for f in dataclasses.fields(grid)}
    given = {name: getattr(args, name) for name in sorted(names) if getattr(args, name, None) is not None}
    own = {field.name for field in dataclasses.fields(base)}
    foreign = [name for name in given if name not in own]
    if foreign:
        kind = {SequenceBenchmark.TASK: "a digit task's", LanguageBenchmark.TASK: "the language task's"}.get(
            base.TASK, "the static task's"
        )
        options = ", ".join("--" + name.replace("_", "-").replace("ranges", "range") for name in foreign)
        raise ValueError(f"{options} is not an option of preset {args.preset} ({kind})")
    return dataclasses.replace(base, **given)


def _train_command(args: argparse.Namespace, console: Console) -> None:
    task = StaticArithmeticTask()
    static = {
        "input_size": task.input_size,
        "hidden_size": 2,
        "time_steps": task.time_steps,
        "interpolation_range": task.interpolation_range,
        "extrapolation_range": task.extrapolation_range,
    }
    digits = {"images": "sklearn", "train_length": None, "test_lengths": None}
    own, other = (digits, static) if args.task == "digits" else (static, digits)
    given = [name for name in other if getattr(args, name) is not None]
    if given:
        options = ", ".join("--" + name.replace("_", "-") for name in given)
        raise ValueError(f"{options} is not an option of --task {args.task}")
    defaults = {"unit": "nac", "operation": "sub", "batch_size": TrainConfig().batch_size}
    if args.task == "digits":
        defaults = {"unit": "nau", "operation": "sum", "batch_size": SequenceBenchmark().batch_size}
    for name, value in {**own, **defaults}.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.task == "digits":
        _train_digits(args, console)
        return
    task = StaticArithmeticTask(
        operation=args.operation,
        input_size=args.input_size,
        interpolation_range=args.interpolation_range,
        extrapolation_range=args.extrapolation_range,
        time_steps=args.time_steps,
    )
    config = TrainConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        eval_every=args.eval_every,
        seed=args.seed,
    )
    device = _device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(1)  # the model is tiny: threads would spend more time syncing than computing
    torch.manual_seed(config.seed)
    model = build_unit_stack(args.unit, task.input_size, args.hidden_size, task.time_steps).to(device)
    console.print(
        f"[bold]{args.unit}[/] on [bold]{task.operation}[/]: {task.input_size} inputs"
        f"{f' over {task.time_steps} time steps' if task.time_steps > 1 else ''}, "
        f"interpolation {range_label(task.interpolation_range)}, extrapolation {range_label(task.extrapolation_range)}, "
        f"{config.steps} steps, seed {config.seed}"
    )
    result = _train_with_progress(model, task, config, console, args.no_progress, args.engine)
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


def _train_with_progress(
    model: torch.nn.Module,
    task: StaticArithmeticTask | DigitSequenceTask,
    config: TrainConfig,
    console: Console,
    hidden: bool,
    engine: str,
) -> TrainResult:
    """[`nalm.bench.engine.loop.train`][nalm.bench.engine.loop.train] with a progress bar showing the loss (none if ``hidden``)."""
    columns = (TextColumn("training"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]}"))
    with Progress(*columns, TimeRemainingColumn(), console=console, disable=hidden) as progress:
        bar = progress.add_task("train", total=config.steps, loss="-")
        return train(
            model,
            task,
            config,
            engine=engine,
            on_step=lambda step, loss: progress.update(bar, completed=step, loss=f"{loss:.3g}"),
        )


def _train_digits(args: argparse.Namespace, console: Console) -> None:
    """``nalm train --task digits``: one seed of one cell on one digit task; the test MSE per length."""
    benchmark = SequenceBenchmark(
        models=(args.unit,),
        operations=(args.operation,),
        images=args.images,
        train_length=args.train_length,
        test_lengths=args.test_lengths,
    )
    task = benchmark.operation_task(args.operation)
    check_memory(task, 1, args.batch_size, benchmark.eval_size)
    config = TrainConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        eval_every=args.eval_every,
        eval_size=benchmark.eval_size,
        seed=args.seed,
    )
    device = _device(args.device)
    torch.manual_seed(config.seed)
    model = build_sequence_model(args.unit, task).to(device)
    console.print(
        f"[bold]{args.unit}[/] cell on digit [bold]{task.operation}[/]: {task.images} images, trained on sequences of "
        f"{task.train_length}, tested on {', '.join(map(str, task.test_lengths))}; {config.steps} steps, seed {config.seed}"
    )
    result = _train_with_progress(model, task, config, console, args.no_progress, args.engine)
    best = result.best
    table = Table(title=f"test MSE at step {best.step} (lowest validation MSE: {best.interpolation_mse:.4g})")
    table.add_column("length", justify="right")
    table.add_column("test MSE", justify="right")
    for length, mse in zip(task.test_lengths, best.test_mse):
        table.add_row(str(length), f"{mse:.4g}")
    console.print(table)
    console.print(
        "success at a length is judged against runs of the exact-solution baseline: see nalm bench "
        "--preset digits-quick"
    )
    if result.diverged:
        console.print("[bold red]diverged[/]: the loss became non-finite and training stopped")


def _device(name: str) -> torch.device:
    """The torch device ``name`` if this machine has it and training can run there, else ValueError."""
    try:
        device = torch.device(name)
        if device.type == "meta" or (device.type == "cpu" and device.index not in (None, 0)):
            raise RuntimeError("it holds no data" if device.type == "meta" else "the CPU has no index but 0")
        torch.empty(1, device=device) + 1
    except (RuntimeError, AssertionError, NotImplementedError) as error:
        reason = str(error).strip().split(". ")[0] or type(error).__name__
        raise ValueError(f"device {name!r} is not available: {reason}") from None
    return device


def _result_table(result: TrainResult) -> Table:
    table = Table(title="mean squared error")
    for column in ("", "step", "interpolation", "extrapolation"):
        table.add_column(column, justify="right")
    for label, evaluation in (("final", result.final), ("best interpolation", result.best)):
        table.add_row(
            label, str(evaluation.step), f"{evaluation.interpolation_mse:.4g}", f"{evaluation.extrapolation_mse:.4g}"
        )
    return table


def _count(n: int, noun: str) -> str:
    """ "1 seed", "2 seeds"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _bench_command(args: argparse.Namespace, console: Console) -> None:
    benchmark = benchmark_from_args(args)
    positive_int("workers", args.workers)
    if args.address is not None and args.executor != "ray":
        raise ValueError("--address is the Ray cluster's: it needs --executor ray")
    device = _device(args.device)
    if args.executor == "ray":
        require_ray()
        check_reachable(args.address)
    for configuration in benchmark.configurations():  # --engine compiled on a model it does not cover: before any file
        benchmark.engine_of(configuration, args.engine, str(device))
    results = ResultsFile(args.results or Path("results") / f"{args.preset}.jsonl", benchmark)
    console.print(
        f"[bold]{args.preset}[/]: {_count(len(benchmark.configurations()), 'configuration')} x "
        f"{_count(benchmark.seeds, 'seed')}"
        + (f" from seed {benchmark.first_seed}" if benchmark.first_seed else "")
        + f", {benchmark.steps} steps, results in {results.path}"
    )
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, disable=args.no_progress) as progress:
        bar = progress.add_task("configurations", total=None)

        def done(configuration: Configuration, rows: list[Row]) -> None:
            progress.advance(bar)
            progress.update(bar, description=f"done {configuration.model} {configuration.operation}")

        rows = run_benchmark(
            results,
            workers=args.workers,
            executor=args.executor,
            address=args.address,
            device=str(device),
            engine=args.engine,
            on_start=lambda n: progress.update(bar, total=n),
            on_done=done,
            on_resume=lambda c, step: console.print(f"{c.label(True)}: resumes from its checkpoint, at step {step:,}"),
        )
    console.print(_table(rows))


def _table(rows: list[Row]) -> Table:
    """The summary table of a task's rows."""
    task = rows[0].get("task") if rows else None
    if task == SequenceBenchmark.TASK:
        return _sequence_table(rows)
    if task == LanguageBenchmark.TASK:
        return _language_table(rows)
    return _summary_table(rows)


def _language_table(rows: list[Row]) -> Table:
    """Successes of each language-task model (every test number within 0.5) and its errors."""
    table = Table(title=f"language to number, {len(rows)} runs: success (every test number right)")
    for column in ("model", "success rate [95% interval]", "test numbers right (mean)", "test MAE (median)"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for s in summarize_language(rows):
        low, high = s.interval
        table.add_row(
            s.configuration.model,
            f"{s.successes}/{s.runs} = {s.success_rate:.0%} [{low:.0%}, {high:.0%}]",
            f"{s.correct_mean:.1%}",
            f"{s.mae_median:.3g}",
        )
    return table


def _sequence_table(rows: list[Row]) -> Table:
    """Successes per test length of each digit configuration (below its baseline's 1% bound)."""
    summaries = summarize_sequences(rows)
    table = Table(
        title=f"digit tasks, {len(rows)} runs: successes per test length (test MSE below the upper 1% "
        "Student-t bound of the fixed-solution baseline's)"
    )
    for column in ("model", "op", "success at length: k/n", "median test MSE at the longest", "exact W_h = I"):
        table.add_column(column, justify="left" if column in ("model", "op") else "right")
    for summary in summaries:
        c = summary.configuration
        shown = sorted({0, len(summary.lengths) // 2, len(summary.lengths) - 1})  # at most 3 lengths
        cells = (
            "no baseline"
            if summary.successes is None
            else "  ".join(f"{summary.lengths[i]}: {summary.successes[i]}/{summary.runs}" for i in shown)
        )
        exact = "-" if summary.exact is None else f"{summary.exact}/{summary.runs}"
        table.add_row(c.model, c.operation, cells, f"{summary.median_mse[-1]:.3g}", exact)
    return table


def _summary_table(rows: list[Row]) -> Table:
    summaries = summarize(rows)
    with_ranges = several_ranges(summaries)
    table = Table(title=f"success over {len(rows)} runs (selected at the lowest interpolation MSE)")
    for column in (
        "model",
        "op",
        *(("ranges",) if with_ranges else ()),
        "success rate [95% interval]",
        "solved at (median)",
        "sparsity error",
    ):
        table.add_column(column, justify="left" if column in ("model", "op", "ranges") else "right")
    for summary in summaries:
        c = summary.configuration
        ranges = (c.ranges_label,) if with_ranges else ()
        table.add_row(c.model, c.operation, *ranges, *summary_cells(summary))
    return table


def _report_command(args: argparse.Namespace, console: Console) -> None:
    for path in args.results:
        if not path.is_file():
            raise ValueError(f"no results file {path}")
    if len(args.results) > 1:
        if args.out is None:
            raise ValueError("several results files make one table: give its folder with --out")
        files = {str(path): read_results(path) for path in args.results}
        console.print(f"wrote {write_published_table(files, args.out)}")
        return
    (results,) = args.results
    out = args.out or results.with_suffix("")
    rows = read_results(results)
    for path in write_report(rows, out):
        console.print(f"wrote {path}")
    if any(row.get("task") in (SequenceBenchmark.TASK, LanguageBenchmark.TASK) for row in rows):
        console.print(_table(rows))
        return
    comparisons = compare(rows)
    if comparisons:
        table = Table(title=f"ours / published: {CITATION}, 100 seeds, 5e6 steps")
        for column in COMPARISON_COLUMNS:
            table.add_column(column)
        with_ranges = several_ranges([c.ours for c in comparisons])
        for comparison in comparisons:
            table.add_row(*comparison_cells(comparison, with_ranges))
        console.print(table)


COMMANDS = {"train": _train_command, "bench": _bench_command, "report": _report_command}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nalm`` command; returns the exit status (2 for bad arguments)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    console = Console()
    try:
        COMMANDS[args.command](args, console)
    except ValueError as error:
        parser.exit(2, f"nalm {args.command}: error: {error}\n")
    except MissingDependencyError as error:
        parser.exit(1, f"nalm {args.command}: error: {error}\n")
    except KeyboardInterrupt:
        parser.exit(
            130,
            f"nalm {args.command}: interrupted; what finished is saved, and the same command "
            "run again goes on from the last checkpoints\n",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

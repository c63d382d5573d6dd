"""Probes of the division search on the static task: a registered model with its layers or settings
changed, on one operation of the madsen2020 preset, with the development seeds 100-124.

    python benchmarks/probe_static.py --model nau_sign_nmru --operation div --second tied_sign_nmru \\
        --steps 2000000 --results benchmarks/results/division-search/static-div-tied_sign_nmru-dev.jsonl

Each option replaces one thing of the model (``--first``, ``--second``: its layers; ``--schedule``:
its sparsity strength and ramp; ``--attempts``, ``--learning-rate``, ``--init``) or of the preset
(``--steps``, ``--hidden-size``), for this process only. The rows, appended to the results file (one
file per probe: a file of several would count a seed once),
carry the changed definition (``model_definition``) and the changes in words (``variant``), and
train on the compiled kernels where they cover the model. A change that proves itself becomes a
registered model, run with ``nalm bench`` on the reported seeds.

``--positive-nau`` clamps every NAU's W to [0, 1] instead of [-1, 1] (``with_positive_nau``): the
hidden units can then only be sums of inputs, never differences, and 0 is a bound that holds a
weight exactly. The rows' ``model_definition`` does not say so; their ``variant`` does.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

import torch

from nalm import functional, units
from nalm.bench.engine import train_seeds
from nalm.bench.models.static import MODELS
from nalm.bench.runs import PRESETS
from nalm.torch import NAU

DEVELOPMENT_SEEDS = tuple(range(100, 125))


def changed_model(name: str, args: argparse.Namespace) -> list[str]:
    """Replace MODELS[name] by the model with the changes ``args`` asks for; return them in words."""
    model, changes = MODELS[name], []
    for layer in ("first", "second"):
        if getattr(args, layer) is not None:
            model = dataclasses.replace(model, **{layer: getattr(args, layer)})
            changes.append(f"{layer} layer {getattr(args, layer)}")
    if args.schedule is not None:
        strength, start, end = args.schedule
        model = dataclasses.replace(model, schedule=functional.SparsitySchedule(strength, int(start), int(end)))
        changes.append(f"sparsity {strength:g} from step {int(start)} to {int(end)}")
    for option, words in (("attempts", "attempts"), ("learning_rate", "Adam lr"), ("init", "init")):
        value = getattr(args, option)
        if value is not None:
            model = dataclasses.replace(model, **{option: value})
            changes.append(f"{words} {value:g}" if isinstance(value, float) else f"{words} {value}")
    MODELS[name] = model
    return changes


def with_positive_nau() -> None:
    """Make every NAU built from now on clamp W to [0, 1]: its formula, its weight as the static
    task's projected draw reads it (``linear_weight``), its penalty, its clamps and the range the
    kernels read."""
    bounds = (0.0, 1.0)
    NAU.linear_weight = lambda self: functional.clamp(self.W, *bounds, ops=torch)  # type: ignore[method-assign]
    NAU.definition = dataclasses.replace(
        units.NAU,
        formula_text=units.NAU.formula_text.replace("[−1, 1]", "[0, 1]"),
        formula=lambda x, w, options, ops: functional.nau(x, functional.clamp(w["W"], *bounds, ops=ops), ops=ops),
        effective=lambda w, options, ops: (functional.clamp(w["W"], *bounds, ops=ops),),
        penalty=units._sparsity(bounds),
        clamps={"W": bounds},
        derived=lambda options: {"schedule": units._schedule(options), "weight_range": bounds},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, choices=sorted(MODELS), help="the registered model to change")
    parser.add_argument("--operation", required=True, choices=("div", "sqrt"), help="the static task's operation")
    parser.add_argument("--first", help="the first layer's unit")
    parser.add_argument("--second", help="the second layer's unit")
    parser.add_argument("--schedule", type=float, nargs=3, metavar=("LAMBDA", "START", "END"), help="sparsity ramp")
    parser.add_argument("--attempts", type=int, help="attempts, each from a fresh start")
    parser.add_argument("--learning-rate", type=float, help="Adam's learning rate")
    parser.add_argument("--init", help="the NAC weights' initialization")
    parser.add_argument("--steps", type=int, default=2_000_000, help="training steps (default 2e6)")
    parser.add_argument("--hidden-size", type=int, default=2, help="hidden units (default 2)")
    parser.add_argument("--positive-nau", action="store_true", help="clamp the NAU's W to [0, 1]")
    parser.add_argument("--threads", type=int, default=2, help="threads that train (default 2)")
    parser.add_argument("--results", required=True, help="the results file to append the rows to")
    args = parser.parse_args()
    changes = changed_model(args.model, args)
    if args.hidden_size != 2:
        changes.append(f"hidden size {args.hidden_size}")
    if args.positive_nau:
        with_positive_nau()
        changes.append("NAU W clamped to [0, 1]")
    variant = f"{args.model}: " + (", ".join(changes) or "as registered")
    benchmark = dataclasses.replace(
        PRESETS["madsen2020"],
        models=(args.model,),
        operations=(args.operation,),
        steps=args.steps,
        hidden_size=args.hidden_size,
        seeds=len(DEVELOPMENT_SEEDS),
        first_seed=DEVELOPMENT_SEEDS[0],
    )
    (configuration,) = benchmark.configurations()
    build = benchmark.builder(configuration, "cpu")
    task, config = benchmark.task(configuration), benchmark.train_config(configuration)
    results = train_seeds(build, task, config, DEVELOPMENT_SEEDS, threads=args.threads)
    rows = benchmark.rows(configuration, DEVELOPMENT_SEEDS, results, build)
    with open(args.results, "a") as lines:
        lines.writelines(json.dumps({**row, "variant": variant}) + "\n" for row in rows)
    print(f"{variant}, {args.operation}: {sum(row['success'] for row in rows)} of {len(rows)} solved", flush=True)


if __name__ == "__main__":
    main()

"""Models for the arithmetic tasks: registered units and baseline layers stacked input -> hidden -> output.

The benchmark names a model as Madsen and Johansen, "Neural Arithmetic Units", ICLR 2020
(arXiv 2001.05016), define theirs: a layer pair and the sparsity schedule both layers follow,
e.g. ``MODELS["nmu"]`` is NAU -> NMU with lambda 10 from step 1e6 to 2e6.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from nalm import functional
from nalm.torch import UNITS, ArithmeticUnit, Recurrent, UnitStack
from nalm.torch.base import DefinedUnit
from nalm.validation import boolean, choice, non_negative_int, positive_int

ACTIVATIONS = {"linear": lambda z: z, "relu": torch.relu, "relu6": nn.functional.relu6}
"""The baseline layers' activations, by layer name."""


class Dense(ArithmeticUnit):
    """The baselines' layer: y = activation(x W + b), W (in_features, out_features), b (out_features,).

    W starts as Madsen and Johansen's baselines start: Glorot uniform for the linear activation,
    He (Kaiming) uniform with the ReLU gain for ReLU and ReLU6. With ``bias`` (their layers have
    one) b starts at zero; without it the layer is activation(x W).

    Laid out like the units (output ``x @ W``), so a leading seed axis on W, (S, in, out), and on
    b, (S, 1, out), broadcasts over inputs (S, batch, in). ``activation`` is one of [`ACTIVATIONS`][nalm.bench.models.static.ACTIVATIONS].

    Shapes: input (..., in_features), output (..., out_features).
    """

    def __init__(self, in_features: int, out_features: int, *, activation: str = "linear", bias: bool = False) -> None:
        super().__init__(in_features, out_features)
        self.activation = choice("activation", activation, tuple(ACTIVATIONS))
        self.W = nn.Parameter(torch.empty(in_features, out_features))
        self.bias = nn.Parameter(torch.empty(out_features)) if boolean("bias", bias) else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.activation == "linear":
            nn.init.xavier_uniform_(self.W)
        else:  # the layout is (in, out): torch's "fan_out" mode reads size(0), the true fan-in here
            nn.init.kaiming_uniform_(self.W, mode="fan_out", nonlinearity="relu")
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def weights(self) -> tuple[torch.Tensor, ...]:
        """(W,): the bias is not a weight of the sparsity error."""
        return (self.W,)

    def linear_weight(self) -> torch.Tensor | None:
        """W where the layer is x @ W (the linear activation, no bias), else None."""
        return self.W if self.activation == "linear" and self.bias is None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        z = x @ self.W
        return ACTIVATIONS[self.activation](z if self.bias is None else z + self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, activation={self.activation!r}, bias={self.bias is not None}"


@dataclass(frozen=True)
class Model:
    """A benchmark model: its first and second layer, the sparsity schedule of both, how their
    NAC weights start and whether its baseline layers have a bias.

    A layer name is a registered unit or one of [`ACTIVATIONS`][nalm.bench.models.static.ACTIVATIONS] (a [`Dense`][nalm.bench.models.static.Dense] layer).
    ``schedule``, where given, replaces the schedule of every layer that has a sparsity penalty
    (NAU, NMU), so that the loss is MSE + lambda(t) * (R_first + R_second), as the published
    models train; ``init``, where given, is the ``init`` option of every layer that has one (NAC,
    NAC*, NALU; [`nalm.functional.NAC_INITS`][nalm.functional.NAC_INITS]). Layers without them ignore them; without
    them each unit keeps its own defaults. ``bias`` gives every [`Dense`][nalm.bench.models.static.Dense] layer a bias.
    """

    first: str
    second: str
    schedule: functional.SparsitySchedule | None = None
    init: str | None = None
    bias: bool = False

    def describe(self) -> str:
        """ "nau -> nmu, sparsity 10 from step 1000000 to 2000000 of min(|W|, |1 - |W||)", "nalu -> nalu, init glorot_w" or
        "linear -> linear, bias": the layers, the schedule, the NAC weights' initialization and
        whether the baseline layers have a bias."""
        text = f"{self.first} -> {self.second}"
        if self.schedule is not None:
            s = self.schedule
            text += f", sparsity {s.lambda_sparse:g} from step {s.lambda_start} to {s.lambda_end} of {functional.SPARSITY_PENALTY}"
        if self.init is not None:
            text += f", init {self.init}"
        if self.bias:
            text += ", bias"
        return text

    def options(self, name: str) -> dict[str, Any]:
        """[`unit_options`][nalm.bench.models.static.unit_options] of the registered unit ``name`` with this model's schedule and init."""
        return unit_options(name, self.schedule, self.init)


PUBLISHED_NAC_INIT = "glorot_w"
"""How Madsen and Johansen's NAC+, NAC* and NALU start their NAC weights (the units' ``init`` option)."""

MODELS: dict[str, Model] = {
    "nac": Model("nac", "nac", init=PUBLISHED_NAC_INIT),
    "nac_mul": Model("nac", "nac_mul", init=PUBLISHED_NAC_INIT),
    "nalu": Model("nalu", "nalu", init=PUBLISHED_NAC_INIT),
    "nau": Model("nau", "nau", functional.NAU_SCHEDULE),
    "nmu": Model("nau", "nmu", functional.NMU_SCHEDULE),
    "inalu": Model("inalu", "inalu"),
    "npu": Model("npu", "npu"),
    "realnpu": Model("realnpu", "realnpu"),
    "linear": Model("linear", "linear", bias=True),
    "relu": Model("relu", "linear", bias=True),
    "relu6": Model("relu6", "linear", bias=True),
}
"""The benchmark models by name: the published models of Madsen and Johansen 2020 (their appendix's
model definitions): NAC+ = ``nac`` (NAC -> NAC), NAC* = ``nac_mul`` (NAC -> NAC in log space) and
NALU, each with their NAC weights' published initialization ("glorot_w"), NAU (NAU -> NAU,
sparsity 0.01 from step 5e3 to 5e4 on both layers), NMU (NAU -> NMU,
sparsity 10 from step 1e6 to 2e6 on both layers), Linear, ReLU and ReLU6 (that activation ->
linear, every layer with a bias that starts at zero, as the published code's layers have). iNALU, NPU and RealNPU have no published model for this task: they are
stacked unit -> unit with their units' defaults."""


def unit_options(
    name: str, schedule: functional.SparsitySchedule | None = None, init: str | None = None
) -> dict[str, Any]:
    """The options that give the registered unit ``name`` the sparsity ``schedule`` and the NAC
    weights' ``init``, each where the unit has it (else it is left out)."""
    unit = UNITS.get(name)
    if not issubclass(unit, DefinedUnit):
        raise TypeError(f"unit {name!r} has no definition to read its options from")
    option_names = unit.definition.option_names
    options: dict[str, Any] = {}
    if schedule is not None and "lambda_sparse" in option_names:
        options.update(dataclasses.asdict(schedule))
    if init is not None and "init" in option_names:
        options["init"] = init
    return options


def build_layer(name: str, in_features: int, out_features: int, model: Model | None = None) -> ArithmeticUnit:
    """The layer ``name``: a registered unit with its paper's defaults (its schedule and init
    replaced by ``model``'s where it has them, [`Model.options`][nalm.bench.models.static.Model.options]), or a [`Dense`][nalm.bench.models.static.Dense] baseline."""
    if name in ACTIVATIONS:
        return Dense(in_features, out_features, activation=name, bias=model is not None and model.bias)
    return UNITS.get(name)(in_features, out_features, **(model.options(name) if model else {}))


def build_published_model(model: str, input_size: int, hidden_size: int = 2, time_steps: int = 1) -> UnitStack:
    """The published benchmark model ``model`` (a key of [`MODELS`][nalm.bench.models.static.MODELS]): (..., input_size) -> (..., 1).

    With ``hidden_size`` > 0 it is the pair input -> hidden -> 1; with ``hidden_size`` = 0 it is
    the pair's second layer alone, input -> 1 (the single-unit task, e.g. "nmu" is one NMU).
    Either way its layers follow the model's schedule and init. With ``time_steps`` > 1 (the recurrent
    task) the first layer is a recurrent cell, [`nalm.torch.Recurrent`][nalm.torch.recurrent.Recurrent] of the pair's first
    unit with ``hidden_size`` states, (..., T, input_size) -> (..., hidden_size): its exact
    solution sums each subset over the time steps.
    """
    spec = check_model(model, hidden_size, time_steps)
    if hidden_size == 0:
        return UnitStack(build_layer(spec.second, input_size, 1, spec))
    if time_steps == 1:
        first: nn.Module = build_layer(spec.first, input_size, hidden_size, spec)
    else:
        first = Recurrent(spec.first, input_size, hidden_size=hidden_size, **spec.options(spec.first))
    return UnitStack(first, build_layer(spec.second, hidden_size, 1, spec))


MAX_MODEL_ELEMENTS = 2**27
"""The most weights one parameter of a stack's layer may hold over all its seeds (512 MiB in float32;
training holds each about five times: the weights, their gradient, Adam's two moments, a copy)."""


def check_size(seeds: int, input_size: int, hidden_size: int) -> None:
    """Raise ValueError before any training if ``seeds`` models of ``input_size`` inputs and
    ``hidden_size`` hidden units would hold more than [`MAX_MODEL_ELEMENTS`][nalm.bench.models.static.MAX_MODEL_ELEMENTS] weights in a layer."""
    weights = seeds * max(input_size * max(hidden_size, 1), hidden_size)
    if weights > MAX_MODEL_ELEMENTS:
        raise ValueError(
            f"seeds x input_size x hidden_size = {weights:,} weights in one layer, more than {MAX_MODEL_ELEMENTS:,} "
            f"({MAX_MODEL_ELEMENTS * 4 / 2**30:.1f} GiB in float32, each held about five times in training); "
            "use fewer seeds, inputs or hidden units"
        )


def check_model(model: str, hidden_size: int, time_steps: int) -> Model:
    """The definition of ``model`` if [`build_published_model`][nalm.bench.models.static.build_published_model] can build it with ``hidden_size``
    and ``time_steps``, else ValueError: the recurrent task (time_steps > 1) needs a hidden layer,
    and a registered unit as first layer (the baselines' layers have no recurrent form here)."""
    spec = MODELS[choice("model", model, tuple(MODELS))]
    if positive_int("time_steps", time_steps) > 1:
        if non_negative_int("hidden_size", hidden_size) == 0:
            raise ValueError("the recurrent task (time_steps > 1) needs hidden_size > 0 to accumulate a and b")
        if spec.first in ACTIVATIONS:
            raise ValueError(
                f"the recurrent task (time_steps > 1) needs a unit as first layer; model {model!r} "
                f"starts with a {spec.first} layer"
            )
    non_negative_int("hidden_size", hidden_size)
    return spec


def build_unit_stack(
    unit: str, input_size: int, hidden_size: int = 2, time_steps: int = 1, **unit_options: Any
) -> UnitStack:
    """Two layers of the one unit ``unit`` with its own defaults (``unit_options`` go to both):
    (..., input_size) -> (..., hidden_size) -> (..., 1), what ``nalm train --unit`` trains. With
    ``time_steps`` > 1 (the recurrent task) the first is a recurrent cell of the unit,
    (..., T, input_size) -> (..., hidden_size).

    For the benchmark's published models (layer pairs with their schedules) see
    [`build_published_model`][nalm.bench.models.static.build_published_model].
    """
    positive_int("hidden_size", hidden_size)
    check_size(1, input_size, hidden_size)
    if positive_int("time_steps", time_steps) == 1:
        return UNITS.get(unit).stack(input_size, hidden_size, 1, **unit_options)
    cell = Recurrent(unit, input_size, hidden_size=hidden_size, **unit_options)
    return UnitStack(cell, UNITS.get(unit)(hidden_size, 1, **unit_options))

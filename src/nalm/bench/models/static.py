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


PENALTIES = {
    "realnpu": "|1 - |W|| + min(|g|, |1 - g|)",
    "mcfc": "-(R^2 + w_o^2 + b_o^2)",
    "mul_mcfc": "-(R^2 + w_o^2 + b_o^2)",
}
"""The penalty a model's schedule scales, by its second layer, where it is not the sparsity penalty
[`nalm.functional.SPARSITY_PENALTY`][nalm.functional.SPARSITY_PENALTY] (each a mean over a seed's weights)."""


@dataclass(frozen=True)
class Model:
    """A benchmark model: its first and second layer, the sparsity schedule of both, how their
    NAC weights start, whether its baseline layers have a bias, and the training settings its
    paper gives it.

    A layer name is a registered unit or one of [`ACTIVATIONS`][nalm.bench.models.static.ACTIVATIONS] (a [`Dense`][nalm.bench.models.static.Dense] layer).
    ``schedule``, where given, replaces the schedule of every layer that has a sparsity penalty
    (NAU, NMU), so that the loss is MSE + lambda(t) * (R_first + R_second), as the published
    models train; ``init``, where given, is the ``init`` option of every layer that has one (NAC,
    NAC*, NALU; [`nalm.functional.NAC_INITS`][nalm.functional.NAC_INITS]). Layers without them ignore them; without
    them each unit keeps its own defaults. ``bias`` gives every [`Dense`][nalm.bench.models.static.Dense] layer a bias.
    ``unit_options`` are more options, (name, value) pairs, of every layer that has them (e.g. the
    modified Real NPU's clipping).

    ``learning_rate`` and ``gradient_clip`` (the largest L2 norm of each seed's gradient over all
    its parameters) are the model's own training settings where its paper gives them; None: the
    benchmark's learning rate, no clipping. ``attempts`` > 1 splits a run's steps into that many
    attempts, each from a fresh start ([`TrainConfig`][nalm.bench.engine.config.TrainConfig]). ``hidden_size``, where given, is the
    number of hidden units the model is meant for: the hidden size stays the benchmark's setting
    (``--hidden-size``), and a benchmark of another one warns. ``by_input_size`` holds the definitions a paper uses
    instead at other input sizes, (input size, Model) pairs ([`at`][nalm.bench.models.static.Model.at]).
    """

    first: str
    second: str
    schedule: functional.SparsitySchedule | None = None
    init: str | None = None
    bias: bool = False
    unit_options: tuple[tuple[str, Any], ...] = ()
    learning_rate: float | None = None
    gradient_clip: float | None = None
    attempts: int = 1
    hidden_size: int | None = None
    by_input_size: tuple[tuple[int, Model], ...] = ()

    def at(self, input_size: int) -> Model:
        """The definition at ``input_size`` inputs: its entry of ``by_input_size``, else this one."""
        return dict(self.by_input_size).get(input_size, self)

    def describe(self) -> str:
        """ "nau -> nmu, sparsity 10 from step 1000000 to 2000000 of min(|W|, |1 - |W||)", "nalu -> nalu, init glorot_w",
        "linear -> linear, bias" or "nru -> nru, sparsity ..., Adam lr 1, gradient norm clipped to 1":
        the layers, the schedule, the NAC weights' initialization, whether the baseline layers have
        a bias, the more unit options and the model's own training settings (and attempts)."""
        text = f"{self.first} -> {self.second}"
        if self.schedule is not None:
            s = self.schedule
            penalty = PENALTIES.get(self.second, functional.SPARSITY_PENALTY)
            text += f", sparsity {s.lambda_sparse:g} from step {s.lambda_start} to {s.lambda_end} of {penalty}"
        if self.init is not None:
            text += f", init {self.init}"
        if self.bias:
            text += ", bias"
        for name, value in self.unit_options:
            text += f", {name} {value!r}"
        if self.learning_rate is not None:
            text += f", Adam lr {self.learning_rate:g}"
        if self.gradient_clip is not None:
            text += f", gradient norm clipped to {self.gradient_clip:g}"
        if self.attempts > 1:
            text += f", {self.attempts} attempts of steps / {self.attempts}, each from a fresh start"
        return text

    def options(self, name: str) -> dict[str, Any]:
        """[`unit_options`][nalm.bench.models.static.unit_options] of the registered unit ``name`` with this model's schedule, init
        and more unit options."""
        return unit_options(name, self.schedule, self.init, self.unit_options)


PUBLISHED_NAC_INIT = "glorot_w"
"""How Madsen and Johansen's NAC+, NAC* and NALU start their NAC weights (the units' ``init`` option)."""

FLOAT32_EPS = 1.1920929e-07
"""float32's machine epsilon: the division paper's Real NPU adds it to |x| (whatever the dtype)."""

DIVISION_RAMPS = {2: (20_000, 35_000), 10: (50_000, 75_000)}
"""The division paper's sparsity ramp (start, end) by input size, for the NRU, the NMRUs and the NMU."""

_GROWING_L1 = (("eps", FLOAT32_EPS), ("l1", 1e-7), ("l1_initial", 1e-9), ("l1_growth", 10_000))
"""The division paper's Real NPUs: L1 strength 1e-9, tenfold every 10,000 steps up to 1e-7."""


def _single_unit_model(
    first: str,
    second: str,
    lambda_sparse: float,
    ramps: dict[int, tuple[int, int]],
    learning_rates: dict[int, float | None],
    gradient_clip: float | None = None,
    unit_options: tuple[tuple[str, Any], ...] = (),
) -> Model:
    """A model of the division paper's single-unit task: its sparsity ramp and learning rate by
    input size (2 and 10; the two-input definition serves every other size)."""

    def at(size: int) -> Model:
        schedule = None if lambda_sparse == 0 else functional.SparsitySchedule(lambda_sparse, *ramps[size])
        return Model(first, second, schedule, None, False, unit_options, learning_rates[size], gradient_clip)

    return dataclasses.replace(at(2), by_input_size=((10, at(10)),))


SIGN_NMRU = _single_unit_model("sign_nmru", "sign_nmru", 10.0, DIVISION_RAMPS, {2: 1e-2, 10: 1e-2}, gradient_clip=1.0)
"""The division paper's "NMRU", the sign NMRU, at two inputs and at ten."""

SIGN_NMRU_ATTEMPTS = dataclasses.replace(
    SIGN_NMRU.at(10), schedule=functional.SparsitySchedule(10.0, 10_000, 20_000), attempts=5, by_input_size=()
)
"""nalm's ten-input division model: the sign NMRU with its paper's settings (lambda 10, Adam lr 1e-2,
gradient norm clipped to 1), trained in 5 attempts of 20,000 steps, each from a fresh start with
the sparsity ramp over its steps 10,000 to 20,000 (see the division search's results page)."""

MODELS: dict[str, Model] = {
    "nac": Model("nac", "nac", init=PUBLISHED_NAC_INIT),
    "nac_mul": Model("nac", "nac_mul", init=PUBLISHED_NAC_INIT),
    "nalu": Model("nalu", "nalu", init=PUBLISHED_NAC_INIT),
    "nau": Model("nau", "nau", functional.NAU_SCHEDULE),
    "nmu": Model("nau", "nmu", functional.NMU_SCHEDULE),
    "nau_sign_nmru": Model("nau", "sign_nmru", functional.NMU_SCHEDULE),
    "nau_nac_mul": Model(
        "nau", "nac_mul", functional.NAU_SCHEDULE, init=PUBLISHED_NAC_INIT, attempts=20, hidden_size=1
    ),
    "inalu": Model("inalu", "inalu"),
    "npu": Model("npu", "npu"),
    "realnpu": Model("realnpu", "realnpu"),
    "linear": Model("linear", "linear", bias=True),
    "relu": Model("relu", "linear", bias=True),
    "relu6": Model("relu6", "linear", bias=True),
    "nru": _single_unit_model("nru", "nru", 10.0, DIVISION_RAMPS, {2: 1.0, 10: 1e-3}),
    "nmru": _single_unit_model("nmru", "nmru", 10.0, DIVISION_RAMPS, {2: 1e-2, 10: 1e-2}, gradient_clip=1.0),
    "sign_nmru": SIGN_NMRU,
    "sign_nmru_attempts": dataclasses.replace(SIGN_NMRU, by_input_size=((10, SIGN_NMRU_ATTEMPTS),)),
    "tied_sign_nmru": _single_unit_model(
        "tied_sign_nmru", "tied_sign_nmru", 10.0, DIVISION_RAMPS, {2: 1e-2, 10: 1e-2}, gradient_clip=1.0
    ),
    "realnpu_l1": _single_unit_model(
        "realnpu",
        "realnpu",
        0.0,
        DIVISION_RAMPS,
        {2: 5e-3, 10: 5e-3},
        unit_options=(*_GROWING_L1, ("clip_gate", False)),
    ),
    "realnpu_mod": _single_unit_model(
        "realnpu",
        "realnpu",
        1.0,
        {2: (40_000, 50_000), 10: (50_000, 75_000)},
        {2: 5e-3, 10: 5e-3},
        unit_options=(*_GROWING_L1, ("weight_init", "nau_uniform"), ("weight_range", (-1.0, 1.0))),
    ),
    "nmu_single": _single_unit_model("nau", "nmu", 10.0, DIVISION_RAMPS, {2: None, 10: None}),
    "snmu": _single_unit_model("nau", "snmu", 10.0, DIVISION_RAMPS, {2: None, 10: None}),
    "mcfc": Model("mcfc", "mcfc", functional.MCFC_SCHEDULE),
    "mul_mcfc": Model("mcfc", "mul_mcfc", functional.MCFC_SCHEDULE),
    "mul_mcfc_inalu": Model("mcfc", "mul_mcfc", functional.MCFC_SCHEDULE, unit_options=(("sign", "inalu"),)),
    "mul_mcfc_npu": Model("mcfc", "mul_mcfc", functional.MCFC_SCHEDULE, unit_options=(("sign", "npu"),)),
}
"""The benchmark models by name: the published models of Madsen and Johansen 2020 (their appendix's
model definitions): NAC+ = ``nac`` (NAC -> NAC), NAC* = ``nac_mul`` (NAC -> NAC in log space) and
NALU, each with their NAC weights' published initialization ("glorot_w"), NAU (NAU -> NAU,
sparsity 0.01 from step 5e3 to 5e4 on both layers), NMU (NAU -> NMU,
sparsity 10 from step 1e6 to 2e6 on both layers; ``nau_sign_nmru`` is nalm's model for the static task's
division, the NMU model with the sign NMRU as second layer, and ``nau_nac_mul`` for its roots, the NAU
model with NAC* as second layer, whose exponent W can hold 1/2, in 20 attempts, meant for one
hidden unit, ``--hidden-size 1``: a second, unused one would sit near 0, where NAC*'s log |h|
turns a tiny weight into an error), Linear, ReLU and ReLU6 (that activation ->
linear, every layer with a bias that starts at zero, as the published code's layers have). iNALU, NPU and RealNPU have no published model for this task: they are
stacked unit -> unit with their units' defaults.

The models of Mistry et al.'s single-unit division task (arXiv 2110.05177; their scripts'
settings), each a definition at two inputs and another at ten ([`Model.at`][nalm.bench.models.static.Model.at]): ``nru``
(lambda 10 ramped over [`DIVISION_RAMPS`][nalm.bench.models.static.DIVISION_RAMPS], Adam lr 1 at two inputs and 1e-3 at ten), ``nmru`` and
``sign_nmru`` (the paper's "NMRU": lambda 10, lr 1e-2, gradient norm clipped to 1; the plain NMRU
takes the same settings), ``realnpu_l1`` (their Real NPU baseline: Glorot W, growing L1, g clipped in the forward pass
only, lr 5e-3),
``realnpu_mod`` (their modified Real NPU: W from U[-1/2, 1/2] clipped to [-1, 1], growing L1, the
discretization penalty ramped to 1 over steps 40k-50k at two inputs and 50k-75k at ten, lr 5e-3),
``sign_nmru_attempts`` (nalm's division model: at ten inputs
[`SIGN_NMRU_ATTEMPTS`][nalm.bench.models.static.SIGN_NMRU_ATTEMPTS], at two the sign NMRU's own settings, which solve every
range there), ``nmu_single`` (the NMU with the single-unit tasks' sparsity ramp) and ``snmu`` (the same with
the sNMU's training noise, Mistry et al. 2022). ``mcfc`` and ``mul_mcfc``
are MC-FC and its multiplicative form with their benchmark's schedule (lambda 10 over 20k-35k),
``mul_mcfc_inalu`` and ``mul_mcfc_npu`` the multiplicative form with its sign restored."""


def unit_options(
    name: str,
    schedule: functional.SparsitySchedule | None = None,
    init: str | None = None,
    more: tuple[tuple[str, Any], ...] = (),
) -> dict[str, Any]:
    """The options that give the registered unit ``name`` the sparsity ``schedule``, the NAC
    weights' ``init`` and the ``more`` (name, value) options, each where the unit has it (else it
    is left out)."""
    unit = UNITS.get(name)
    if not issubclass(unit, DefinedUnit):
        raise TypeError(f"unit {name!r} has no definition to read its options from")
    option_names = unit.definition.option_names
    options: dict[str, Any] = {}
    if schedule is not None and "lambda_sparse" in option_names:
        options.update(dataclasses.asdict(schedule))
    if init is not None and "init" in option_names:
        options["init"] = init
    options.update((key, value) for key, value in more if key in option_names)
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
    spec = check_model(model, hidden_size, time_steps).at(input_size)
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

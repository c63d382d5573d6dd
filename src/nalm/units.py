"""Each unit defined once, for every framework: options, weights, initialization, formula, penalty, clamps.

A [`Unit`][nalm.units.Unit] says everything about a unit that does not depend on the framework; the PyTorch
module ([`nalm.torch.ArithmeticUnit`][nalm.torch.base.ArithmeticUnit]) and the Keras layer ([`nalm.keras.ArithmeticLayer`][nalm.keras.base.ArithmeticLayer])
are thin adapters that read it: they check and store the options, create the weights with their
shapes and initializations, call the formula with their framework's ``ops``, add the penalty and
clamp the weights. A new unit is its formula ([`nalm.functional`][nalm.functional]), one [`Unit`][nalm.units.Unit] here and
one registered subclass per framework.

Shapes: a weight is a matrix (in, out), an input vector (in,) or an output vector (out,); the
formula maps x (..., in) to (..., out).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nalm import functional
from nalm.validation import (
    boolean,
    choice,
    interval,
    non_negative_float,
    non_negative_int,
    optional_float,
    positive_float,
    positive_int,
)

Options = Mapping[str, Any]

TRASK_2018 = 'Trask et al., "Neural Arithmetic Logic Units", NeurIPS 2018 (arXiv 1808.00508)'
MADSEN_2020 = 'Madsen & Johansen, "Neural Arithmetic Units", ICLR 2020 (arXiv 2001.05016)'
SCHLOR_2020 = 'Schlör, Ring & Hotho, "iNALU: Improved Neural Arithmetic Logic Unit", 2020 (arXiv 2003.07629)'
HEIM_2020 = 'Heim, Pevný & Šmídl, "Neural Power Units", NeurIPS 2020 (arXiv 2006.01681)'
MISTRY_2021 = (
    'Mistry, Li, Weng & Barrett, "Learning Division with Neural Arithmetic Logic Modules", 2021 (arXiv 2110.05177)'
)
MISTRY_2022 = (
    'Mistry, Li, Weng & Barrett, "Improving the Robustness of Neural Multiplication Units with Reversible '
    'Stochasticity", 2022 (arXiv 2211.05624)'
)
HOEDT_2021 = 'Hoedt et al., "MC-LSTM: Mass-Conserving LSTM", ICML 2021 (arXiv 2101.05186)'
NALM = "nalm: a unit of this library, with its evidence on the results page of the division search"
Weights = Mapping[str, Any]


@dataclass(frozen=True)
class Option:
    """A keyword argument of a unit: its default and the check that returns its clean value."""

    name: str
    default: Any
    check: Callable[[str, Any], Any]

    def __call__(self, value: Any) -> Any:
        return self.check(self.name, value)


@dataclass(frozen=True)
class Init:
    """A framework-free initialization. ``kind`` is one of: "kaiming_normal", "kaiming_uniform" (He,
    over the fan-in, ReLU gain), "glorot_uniform", "uniform" (args low, high), "normal" (args mean,
    std), "constant" (args value), "nau_uniform" (U[-r, r], r = [`nalm.functional.nau_init_limit`][nalm.functional.nau_init_limit]),
    "nac_uniform" (U[-r, r], r = [`nalm.functional.nac_init_limit`][nalm.functional.nac_init_limit]),
    "orthogonal" (an orthogonal matrix, semi-orthogonal when not square; a vector (n,): a random unit
    vector, the one row of an orthogonal (1, n)), "identity_or_orthogonal" (the identity when square,
    else "orthogonal")."""

    kind: str
    args: tuple[float, ...] = ()

    def bounds(self, fan_in: int, fan_out: int) -> tuple[float, float]:
        """(low, high) of the uniform kinds."""
        if self.kind == "kaiming_uniform":
            limit = math.sqrt(6.0 / fan_in)
        elif self.kind == "glorot_uniform":
            limit = math.sqrt(6.0 / (fan_in + fan_out))
        elif self.kind == "nau_uniform":
            limit = functional.nau_init_limit(fan_in, fan_out)
        elif self.kind == "nac_uniform":
            limit = functional.nac_init_limit(fan_in, fan_out)
        else:
            return self.args[0], self.args[1]
        return -limit, limit


@dataclass(frozen=True)
class Weight:
    """One weight: its name (the same in every framework), shape kind and initialization.
    ``shape`` is "matrix" (in, out), "reciprocal" (2 in, out: a matrix over [x, 1/x]), "input"
    (in,) or "output" (out,)."""

    name: str
    init: Init
    shape: str = "matrix"


@dataclass(frozen=True)
class Unit:
    """A unit, framework-free.

    - ``options``: its keyword arguments, with defaults and checks.
    - ``weights(options)``: its weights (some depend on the options, e.g. NALU's gate).
    - ``formula(x, weights, options, ops)``: the output, from [`nalm.functional`][nalm.functional]; at
      evaluation, and always for a unit without ``training_formula``.
    - ``training_formula(x, weights, options, ops, uniform)``: the output in training, for a unit
      whose paper computes something else then (the NRU's and NMRU's, the sNMU's noise); None when
      training and evaluation are the same. The PyTorch module applies it in ``train()`` mode, the
      Keras layer when called with ``training=True``. ``uniform(like, low, high)`` draws a tensor of
      ``like``'s shape, dtype and device from U[low, high) with the framework's RNG (torch's
      global generator; the layer's ``keras.random.SeedGenerator``).
    - ``stochastic``: whether ``training_formula`` draws from ``uniform`` (the Keras layer then
      holds a ``SeedGenerator``).
    - ``penalty(weights, step, options, ops)``: its paper's regularization loss at training step
      ``step`` (an int, or a tensor in compiled steps), or None when it is zero at that step.
    - ``clamps``: weight name -> (low, high), the ranges the paper keeps weights in after every step;
      or a function of the options that returns them (`clamps_of` reads either).
    - ``effective(weights, options, ops)``: the weights whose sparsity the benchmark measures.
    - ``derived(options)``: attributes computed from the options that the adapters expose too
      (e.g. the NAU's ``schedule`` and ``weight_range``); it may check the options together.
    - ``formula_text``: the formula in one line, for the README's table.
    - ``paper``: the paper that defines it (authors, title, venue, arXiv id).
    """

    name: str
    formula_text: str
    paper: str
    options: tuple[Option, ...]
    weights: Callable[[Options], tuple[Weight, ...]]
    formula: Callable[..., Any]
    effective: Callable[..., tuple[Any, ...]]
    penalty: Callable[..., Any] | None = None
    clamps: Mapping[str, tuple[float, float]] | Callable[[Options], Mapping[str, tuple[float, float]]] = field(
        default_factory=dict
    )
    derived: Callable[[Options], dict[str, Any]] = lambda options: {}
    training_formula: Callable[..., Any] | None = None
    stochastic: bool = False

    @property
    def option_names(self) -> tuple[str, ...]:
        return tuple(option.name for option in self.options)

    def resolve(self, given: Options) -> dict[str, Any]:
        """Every option's clean value: the given ones checked, the others their defaults. An unknown
        option raises TypeError, as an unknown keyword argument does."""
        unknown = [name for name in given if name not in self.option_names]
        if unknown:
            raise TypeError(f"{self.name} got unknown options {unknown}; its options are {list(self.option_names)}")
        options = {option.name: option(given.get(option.name, option.default)) for option in self.options}
        self.derived(options)  # checks the options together
        return options

    def clamps_of(self, options: Options) -> Mapping[str, tuple[float, float]]:
        """Weight name -> (low, high): the clamps of a unit built with ``options`` (resolved)."""
        return self.clamps(options) if callable(self.clamps) else self.clamps

    def signature(self, framework: str) -> str:
        """The constructor as the README shows it, e.g. ``NAU(in_features, out_features, *, ...)``."""
        sizes = "in_features, out_features" if framework == "torch" else "units"
        options = ", ".join(f"{o.name}={_shown(o.default)}" for o in self.options)
        return f"{sizes}, *, {options}" if options else sizes


def _shown(value: Any) -> str:
    """A default as the README writes it: 1e-7, 20, 0.01, "input", True, None."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float):
        return f"{value:g}".replace("e-0", "e-")
    return str(value)


def _choice_of(options: tuple[str, ...]) -> Callable[[str, Any], Any]:
    return lambda name, value: choice(name, value, options)


EPS = Option("eps", 1e-7, positive_float)
"""log(|x| + eps) keeps the log-space paths finite at x = 0."""


NAC_INIT = Option("init", "kaiming", _choice_of(functional.NAC_INITS))
"""How W_hat and M_hat start ([`nalm.functional.NAC_INITS`][nalm.functional.NAC_INITS])."""


def _nac_pair(options: Options, prefix: str = "", kaiming: str = "kaiming_normal") -> tuple[Weight, Weight]:
    """W_hat and M_hat (with ``prefix``), drawn as ``options["init"]`` says; ``kaiming`` is the kind
    the unit's "kaiming" init draws."""
    init = Init(kaiming if options["init"] == "kaiming" else "nac_uniform")
    return Weight(f"W_hat{prefix}", init), Weight(f"M_hat{prefix}", init)


def _or_default(default: Any, check: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    """A check that takes None as the default."""
    return lambda name, value: default if value is None else check(name, value)


def _schedule(options: Options) -> functional.SparsitySchedule:
    return functional.SparsitySchedule(options["lambda_sparse"], options["lambda_start"], options["lambda_end"])


def _strength(step: Any, options: Options, ops: Any) -> Any:
    """lambda(step) of the unit's schedule options: a float for a number ``step`` (None when 0,
    i.e. no penalty yet), else a tensor."""
    number = isinstance(step, numbers.Real)  # Python and NumPy numbers; else a tensor
    strength = _schedule(options)(float(step) if number else step, ops=None if number else ops)
    return None if number and strength == 0 else strength


def _schedule_options(schedule: functional.SparsitySchedule) -> tuple[Option, ...]:
    """``lambda_sparse``, ``lambda_start`` and ``lambda_end``, None taking ``schedule``'s value."""
    return (
        Option("lambda_sparse", schedule.lambda_sparse, _or_default(schedule.lambda_sparse, non_negative_float)),
        Option("lambda_start", schedule.lambda_start, _or_default(schedule.lambda_start, non_negative_int)),
        Option("lambda_end", schedule.lambda_end, _or_default(schedule.lambda_end, non_negative_int)),
    )


def _sparsity(weight_range: tuple[float, float] | None) -> Callable[..., Any]:
    """The penalty lambda(t) mean(min(|W|, |1 - |W||)) of W clamped to ``weight_range`` (None: the raw W)."""

    def penalty(weights: Weights, step: Any, options: Options, ops: Any) -> Any:
        strength = _strength(step, options, ops)
        if strength is None:
            return None
        W = weights["W"] if weight_range is None else functional.clamp(weights["W"], *weight_range, ops=ops)
        # ops.multiply, not *: TensorFlow's * refuses a float32 strength times the penalty of a float64
        # or bfloat16 layer; keras.ops promotes the two as PyTorch and JAX do
        return ops.multiply(strength, functional.sparsity_penalty(W, ops=ops))

    return penalty


def _sparse_unit(
    name: str,
    formula_text: str,
    schedule: functional.SparsitySchedule,
    weight_range: tuple[float, float],
    init: Init,
    formula: Callable[..., Any],
) -> Unit:
    """NAU and NMU: one clamped weight W and the sparsity penalty lambda(t) mean(min(|W|, |1 - |W||))."""
    return Unit(
        name=name,
        formula_text=formula_text,
        paper=MADSEN_2020,
        options=_schedule_options(schedule),
        weights=lambda options: (Weight("W", init),),
        formula=lambda x, w, options, ops: formula(x, w["W"], ops=ops),
        effective=lambda w, options, ops: (functional.clamp(w["W"], *weight_range, ops=ops),),
        penalty=_sparsity(weight_range),
        clamps={"W": weight_range},
        derived=lambda options: {"schedule": _schedule(options), "weight_range": weight_range},
    )


def _nalu_weights(options: Options) -> tuple[Weight, ...]:
    gate_init = Init("kaiming_uniform" if options["init"] == "kaiming" else "glorot_uniform")
    if options["gate"] == "input":
        gate = Weight("G", gate_init)
    else:
        gate = Weight("G", Init("constant", (0.0,)), "output")  # g = 1/2: neither path preferred
    separate = () if options["shared_weights"] else _nac_pair(options, "_mul", "kaiming_uniform")
    return (*_nac_pair(options, kaiming="kaiming_uniform"), gate, *separate)


def _nalu_effective(w: Weights, options: Options, ops: Any) -> tuple[Any, ...]:
    pairs = [("W_hat", "M_hat")] + ([] if options["shared_weights"] else [("W_hat_mul", "M_hat_mul")])
    return tuple(functional.nac_weight(w[a], w[b], ops=ops) for a, b in pairs)


def _nalu(x: Any, w: Weights, options: Options, ops: Any) -> Any:
    separate = not options["shared_weights"]
    return functional.nalu(
        x,
        w["W_hat"],
        w["M_hat"],
        w["G"],
        eps=options["eps"],
        ops=ops,
        W_hat_mul=w["W_hat_mul"] if separate else None,
        M_hat_mul=w["M_hat_mul"] if separate else None,
        max_exponent=options["max_exponent"],
        gate_kind=options["gate"],
    )


_INALU_WEIGHTS = ("W_hat_a", "M_hat_a", "W_hat_m", "M_hat_m", "G")


def _inalu_weights(options: Options) -> tuple[Weight, ...]:
    def init(name: str) -> Init:  # W_hat_a and W_hat_m start as INALU_INIT["W_hat"], and so on
        return Init("normal", functional.INALU_INIT[name if name == "G" else name[:5]])

    weights = [Weight(name, init(name)) for name in _INALU_WEIGHTS[:4]]
    return (*weights, Weight("G", init("G"), "matrix" if options["gate"] == "input" else "output"))


def _inalu_penalty(weights: Weights, step: Any, options: Options, ops: Any) -> Any:
    if isinstance(step, numbers.Real):  # Python and NumPy numbers; else a tensor
        if step <= options["regularization_start"]:
            return None
        active = 1.0
    else:
        active = ops.where(ops.greater(step, options["regularization_start"]), 1.0, 0.0)
    penalty = functional.inalu_penalty([weights[n] for n in _INALU_WEIGHTS], options["threshold"], ops=ops)
    return ops.multiply(active, penalty)  # not *: as the NAU's, for weights of another float dtype than `active`


_REAL_NPU_OPTIONS = (
    Option("weight_init", "glorot_uniform", _choice_of(("glorot_uniform", "nau_uniform"))),
    Option("weight_range", None, lambda name, value: None if value is None else interval(name, value)),
    Option("clip_gate", True, boolean),
    Option("l1_initial", None, lambda name, value: None if value is None else positive_float(name, value)),
    Option("l1_growth", 0, non_negative_int),
    *_schedule_options(functional.NPU_DISCRETIZATION_SCHEDULE),
)
"""The RealNPU's options for the division paper's recipes (Mistry et al. 2021): W's initialization
and clipping, whether g is clipped after each step too (not only in the forward pass), the growing
L1 strength and the discretization penalty's schedule; their defaults are nalm's RealNPU."""


def _npu(imaginary: bool) -> Unit:
    names = ("W_re", "W_im", "g") if imaginary else ("W_re", "g")

    def penalty(weights: Weights, step: Any, options: Options, ops: Any) -> Any:
        number = isinstance(step, numbers.Real)
        growth = 0 if imaginary else options["l1_growth"]
        initial = None if imaginary else options["l1_initial"]
        beta = functional.growing_l1(step, options["l1"], initial, growth, ops=None if number else ops)
        terms = []
        if not (number and beta == 0):
            terms.append(ops.multiply(beta, functional.l1_norm([weights[n] for n in names], ops=ops)))
        strength = None if imaginary else _strength(step, options, ops)
        if strength is not None:
            discretization = functional.npu_discretization_penalty(weights["W_re"], weights["g"], ops=ops)
            terms.append(ops.multiply(strength, discretization))
        return sum(terms[1:], terms[0]) if terms else None

    if imaginary:
        text = "z = exp(log(r) W_re − k W_im) ⊙ cos(log(r) W_im + k W_re), r = g(\\|x\\| + eps) + 1 − g, k = gπ[x < 0]"
    else:
        text = "z = exp(log(r) W) ⊙ cos(k W), r and k as NPU"

    def clamps(options: Options) -> dict[str, tuple[float, float]]:
        weight_range = None if imaginary else options["weight_range"]
        gate = imaginary or options["clip_gate"]
        return {
            **({"g": functional.NPU_GATE_RANGE} if gate else {}),
            **({"W_re": weight_range} if weight_range else {}),
        }

    return Unit(
        name="npu" if imaginary else "realnpu",
        formula_text=text,
        paper=HEIM_2020,
        options=(EPS, Option("l1", 0.0, non_negative_float), *(() if imaginary else _REAL_NPU_OPTIONS)),
        weights=lambda options: (
            Weight("W_re", Init("glorot_uniform" if imaginary else options["weight_init"])),
            *((Weight("W_im", Init("constant", (0.0,))),) if imaginary else ()),
            Weight("g", Init("constant", (0.5,)), "input"),
        ),
        formula=lambda x, w, options, ops: functional.npu(
            x, w["W_re"], w["g"], eps=options["eps"], ops=ops, W_im=w["W_im"] if imaginary else None
        ),
        effective=lambda w, options, ops: tuple(w[n] for n in names if n != "g"),
        penalty=penalty,
        clamps=clamps,
        derived=lambda options: {} if imaginary else {"schedule": _schedule(options)},
    )


NAC = Unit(
    name="nac",
    paper=TRASK_2018,
    formula_text="a = x W, W = tanh(Ŵ) ⊙ σ(M̂)",
    options=(NAC_INIT,),
    weights=_nac_pair,
    formula=lambda x, w, options, ops: functional.nac(x, w["W_hat"], w["M_hat"], ops=ops),
    effective=lambda w, options, ops: (functional.nac_weight(w["W_hat"], w["M_hat"], ops=ops),),
)

NAC_MUL = Unit(
    name="nac_mul",
    paper=TRASK_2018,
    formula_text="NAC•: m = exp(log(\\|x\\| + eps) W), W as NAC",
    options=(EPS, NAC_INIT),
    weights=_nac_pair,
    formula=lambda x, w, options, ops: functional.nac_mul(x, w["W_hat"], w["M_hat"], eps=options["eps"], ops=ops),
    effective=NAC.effective,
)

NALU = Unit(
    name="nalu",
    paper=TRASK_2018,
    formula_text='y = g ⊙ a + (1 − g) ⊙ exp(log(\\|x\\| + eps) W), g = σ(x G) (`gate="independent"`: g = σ(G))',
    options=(
        EPS,
        Option("shared_weights", True, boolean),
        Option("max_exponent", None, optional_float),
        Option("gate", "input", _choice_of(functional.GATES)),
        NAC_INIT,
    ),
    weights=_nalu_weights,
    formula=_nalu,
    effective=_nalu_effective,
)

NAU = _sparse_unit(
    "nau",
    "z = x W, W clamped to [−1, 1]; penalty λ(t) · mean(min(\\|W\\|, \\|1 − \\|W\\|\\|))",
    functional.NAU_SCHEDULE,
    functional.NAU_RANGE,
    Init("nau_uniform"),
    functional.nau,
)

NMU = _sparse_unit(
    "nmu",
    "z_o = ∏ᵢ (W_io xᵢ + 1 − W_io), W clamped to [0, 1]; penalty as NAU",
    functional.NMU_SCHEDULE,
    functional.NMU_RANGE,
    Init("uniform", functional.NMU_INIT_RANGE),
    functional.nmu,
)

INALU = Unit(
    name="inalu",
    paper=SCHLOR_2020,
    formula_text=(
        "y = g ⊙ x W_a + (1 − g) ⊙ exp(min(log(max(\\|x\\|, eps)) W_m, ω)) ⊙ "
        "∏ᵢ (sign(xᵢ) \\|W_m\\| + 1 − \\|W_m\\|), g = σ(G)"
    ),
    options=(
        EPS,
        Option("omega", 20.0, positive_float),
        Option("gate", "independent", _choice_of(functional.GATES)),
        Option("regularization_start", 10_000, non_negative_int),
        Option("threshold", 20.0, positive_float),
    ),
    weights=_inalu_weights,
    formula=lambda x, w, options, ops: functional.inalu(
        x,
        w["W_hat_a"],
        w["M_hat_a"],
        w["W_hat_m"],
        w["M_hat_m"],
        w["G"],
        gate_kind=options["gate"],
        eps=options["eps"],
        omega=options["omega"],
        ops=ops,
    ),
    effective=lambda w, options, ops: (
        functional.nac_weight(w["W_hat_a"], w["M_hat_a"], ops=ops),
        functional.nac_weight(w["W_hat_m"], w["M_hat_m"], ops=ops),
    ),
    penalty=_inalu_penalty,
)

NPU = _npu(imaginary=True)
REAL_NPU = _npu(imaginary=False)


def _division_unit(
    name: str,
    formula_text: str,
    formula: Callable[..., Any],
    shape: str,
    init: Init,
    weight_range: tuple[float, float],
    clamp_forward: bool,
    paper: str = MISTRY_2021,
) -> Unit:
    """NRU, NMRU and SignNMRU: one weight W, a formula with a training and an evaluation mode,
    the sparsity penalty on the division paper's schedule, W clipped to ``weight_range`` after
    every step (and in the forward pass when ``clamp_forward``)."""
    in_forward = weight_range if clamp_forward else None
    return Unit(
        name=name,
        formula_text=formula_text,
        paper=paper,
        options=_schedule_options(functional.DIVISION_SCHEDULE),
        weights=lambda options: (Weight("W", init, shape),),
        formula=lambda x, w, options, ops: formula(x, w["W"], training=False, ops=ops),
        training_formula=lambda x, w, options, ops, uniform: formula(x, w["W"], training=True, ops=ops),
        effective=lambda w, options, ops: (
            w["W"] if in_forward is None else functional.clamp(w["W"], *in_forward, ops=ops),
        ),
        penalty=_sparsity(in_forward),
        clamps={"W": weight_range},
        derived=lambda options: {"schedule": _schedule(options), "weight_range": weight_range},
    )


NRU = _division_unit(
    "nru",
    "yₒ = ∏ᵢ (sign(xᵢ) \\|xᵢ\\|^Wᵢₒ A(Wᵢₒ) + 1 − A(Wᵢₒ)), A(w) = tanh²(1000w) in training, \\|w\\| at evaluation; "
    "W clipped to [−1, 1] after each step",
    functional.nru,
    "matrix",
    Init("nau_uniform"),
    functional.NRU_RANGE,
    clamp_forward=False,
)

NMRU = _division_unit(
    "nmru",
    "NMU over x′ = [x, 1/(x + ε)] (training) or [x, 1/x] (evaluation), W (2·in, out) clamped to [0, 1]",
    functional.nmru,
    "reciprocal",
    Init("uniform", functional.NMU_INIT_RANGE),
    functional.NMRU_RANGE,
    clamp_forward=True,
)

SIGN_NMRU = _division_unit(
    "sign_nmru",
    "y = ∏ⱼ (\\|x′ⱼ\\| Wⱼ + 1 − Wⱼ) ⊙ cos(k W), k = π[x′ < 0], x′ as NMRU",
    functional.sign_nmru,
    "reciprocal",
    Init("uniform", functional.NMU_INIT_RANGE),
    functional.NMRU_RANGE,
    clamp_forward=True,
)

TIED_SIGN_NMRU = _division_unit(
    "tied_sign_nmru",
    "sign NMRU over [w⁺, w⁻], w⁺ = clip(w, 0, 1), w⁻ = clip(−w, 0, 1): one weight w ∈ [−1, 1] per input, "
    "x (w = 1) or 1/x (w = −1), never both",
    functional.tied_sign_nmru,
    "matrix",
    Init("nau_uniform"),
    functional.NRU_RANGE,
    clamp_forward=True,
    paper=NALM,
)


def _noise_range(name: str, value: Any) -> tuple[float, float]:
    """(low, high) with 0 < low <= high, both finite (a list, as a saved config gives it, too)."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{name} must be a pair (low, high), got {value!r}")
    low, high = (positive_float(name, bound) for bound in value)
    if low > high:
        raise ValueError(f"{name} must have low <= high, got {value!r}")
    return low, high


def _snmu_training(x: Any, w: Weights, options: Options, ops: Any, uniform: Callable[..., Any]) -> Any:
    return functional.snmu(x, w["W"], uniform(x, *options["noise_range"]), ops=ops)


SNMU = dataclasses.replace(
    _sparse_unit(
        "snmu",
        "NMU at evaluation; in training y = NMU(x ⊙ n) / NMU(n), n ~ U[1, 5] drawn per call",
        functional.NMU_SCHEDULE,
        functional.NMU_RANGE,
        Init("uniform", functional.NMU_INIT_RANGE),
        functional.nmu,
    ),
    paper=MISTRY_2022,
    options=(
        *_schedule_options(functional.NMU_SCHEDULE),
        Option("noise_range", functional.SNMU_NOISE_RANGE, _noise_range),
    ),
    training_formula=_snmu_training,
    stochastic=True,
)
"""The NMU with the sNMU's training noise: the NMU's weight, clamps, penalty and schedule."""

_MCFC_WEIGHTS = ("R", "w_o", "b_o")


def _mcfc_penalty(weights: Weights, step: Any, options: Options, ops: Any) -> Any:
    strength = _strength(step, options, ops)
    if strength is None:
        return None
    return ops.multiply(strength, functional.mcfc_penalty([weights[n] for n in _MCFC_WEIGHTS], ops=ops))


def _mul_mcfc_penalty(weights: Weights, step: Any, options: Options, ops: Any) -> Any:
    """MC-FC's penalty, and with the "npu" sign the gate's, mean(min(|g|, |1 - g|)), on the same
    ramp at strength 1."""
    penalty = _mcfc_penalty(weights, step, options, ops)
    if options["sign"] != "npu" or penalty is None:
        return penalty
    ramp = _strength(step, {**options, "lambda_sparse": 1.0}, ops)
    return penalty + ops.multiply(ramp, functional.gate_penalty(weights["g"], ops=ops))


def _mcfc(multiplicative: bool) -> Unit:
    mcfc_weights = (
        Weight("R", Init("identity_or_orthogonal")),
        Weight("w_o", Init("orthogonal"), "output"),
        Weight("b_o", Init("constant", (0.0,)), "output"),
    )
    alpha = (Weight("alpha", Init("constant", (0.0,)), "output"),) if multiplicative else ()
    gate = (Weight("g", Init("constant", (0.5,)), "input"),)
    options = _schedule_options(functional.MCFC_SCHEDULE)
    if multiplicative:
        text = "y = exp(MCFC(log x) + α), x > 0; with a sign option, of \\|x\\| times the sign restored"
        options = (*options, Option("sign", "none", _choice_of(functional.MCFC_SIGNS)))

        def formula(x: Any, w: Weights, options: Options, ops: Any) -> Any:
            g = w["g"] if options["sign"] == "npu" else None
            return functional.mul_mcfc(x, w["R"], w["w_o"], w["b_o"], w["alpha"], ops=ops, sign=options["sign"], g=g)
    else:
        text = "y = σ(wₒ + bₒ) ⊙ (x S), S = softmax(R) over the outputs; penalty −λ(t)(mean R² + mean wₒ² + mean bₒ²)"

        def formula(x: Any, w: Weights, options: Options, ops: Any) -> Any:
            return functional.mcfc(x, w["R"], w["w_o"], w["b_o"], ops=ops)

    return Unit(
        name="mul_mcfc" if multiplicative else "mcfc",
        formula_text=text,
        paper=HOEDT_2021,
        options=options,
        weights=lambda options: (
            *mcfc_weights,
            *alpha,
            *(gate if multiplicative and options["sign"] == "npu" else ()),
        ),
        formula=formula,
        effective=lambda w, options, ops: (ops.softmax(w["R"], -1),),
        penalty=_mul_mcfc_penalty if multiplicative else _mcfc_penalty,
        derived=lambda options: {"schedule": _schedule(options)},
    )


MCFC = _mcfc(multiplicative=False)
MUL_MCFC = _mcfc(multiplicative=True)

DEFINITIONS: dict[str, Unit] = {
    unit.name: unit
    for unit in (
        NAC,
        NAC_MUL,
        NALU,
        NAU,
        NMU,
        INALU,
        NPU,
        REAL_NPU,
        NRU,
        NMRU,
        SIGN_NMRU,
        TIED_SIGN_NMRU,
        SNMU,
        MCFC,
        MUL_MCFC,
    )
}
"""Every unit by its registry name, in the order of the README's table."""


@dataclass(frozen=True)
class Recurrence:
    """A unit used as a recurrent cell, framework-free: h_0 = ``initial_state`` in every one of the
    ``hidden_size`` features, h_t = unit([h_{t-1}, z_t]) for a unit of ``hidden_size + input_size``
    inputs and ``hidden_size`` outputs ([`nalm.functional.recur`][nalm.functional.recur]). ``nalm.torch.Recurrent`` and
    ``nalm.keras.Recurrent`` read it. The identity of the fold is the usual ``initial_state``: 0 for
    sums (NAU, NAC), 1 for products (NMU, NAC•).
    """

    unit: str
    hidden_size: int = 1
    initial_state: float = 0.0
    return_sequences: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "unit", choice("unit", self.unit, tuple(DEFINITIONS)))  # "NAU" is "nau"
        positive_int("hidden_size", self.hidden_size)
        initial = self.initial_state
        if isinstance(initial, bool) or not isinstance(initial, numbers.Real) or not math.isfinite(initial):
            raise ValueError(f"initial_state must be a finite number, got {initial!r}")
        object.__setattr__(self, "initial_state", float(initial))
        boolean("return_sequences", self.return_sequences)

    def cell_sizes(self, input_size: int) -> tuple[int, int]:
        """(in_features, out_features) of the cell for ``input_size`` features a step: (hidden + input, hidden)."""
        return self.hidden_size + positive_int("input_size", input_size), self.hidden_size

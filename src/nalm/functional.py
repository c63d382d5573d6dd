"""The units' formulas, written once as plain functions of inputs and weights.

Every function takes ``ops``, a namespace of array functions: the ``torch`` module for the
PyTorch units, ``keras.ops`` for the Keras layers. Only names that both spell the same way are
used (``tanh``, ``sigmoid``, ``matmul``, ``exp``, ``log``, ``cos``, ``abs``, ``sign``, ``clip``,
``minimum``, ``relu``, ``prod``, ``sum``, ``mean``, ``concatenate``, ``stack``, ``zeros_like``), with axes passed positionally, so one formula
serves both frameworks. A vector of weights (a gate per output, a relevance per input) is (n,);
with a leading seed axis it is (S, 1, n), so that it broadcasts over the batch.

Shapes: ``x`` is (..., in_features) and each weight is (..., in_features, out_features). The
matmuls broadcast, so weights with a leading seed axis (S, in, out) applied to inputs
(S, batch, in) train S independent models at once.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nalm.validation import non_negative_float, non_negative_int

Array = Any
"""A tensor of whichever framework ``ops`` belongs to."""


def nac_weight(W_hat: Array, M_hat: Array, *, ops: Any) -> Array:
    """NAC's effective weight W = tanh(W_hat) * sigmoid(M_hat), pushed towards {-1, 0, 1}."""
    return ops.tanh(W_hat) * ops.sigmoid(M_hat)


NAC_INITS = ("kaiming", "glorot_w")
"""The NAC weights' initializations (the ``init`` option of NAC, NAC* and NALU): "kaiming" draws W_hat
and M_hat by He's rule (normal for NAC and NAC*, uniform for NALU, over the fan-in); "glorot_w"
draws both from U[-r, r], r = [`nac_init_limit`][nalm.functional.nac_init_limit], so that W itself has Glorot's variance, as
Madsen and Johansen's published NAC+, NAC* and NALU models start (NALU's G then Glorot uniform)."""


def nac_weight_variance(r: float) -> float:
    """Var[W] of W = tanh(W_hat) * sigmoid(M_hat) with W_hat, M_hat iid U[-r, r]:
    E[tanh^2] E[sigmoid^2] = (1 - tanh(r) / r) * (r - tanh(r / 2)) / (2 r) (E[W] = 0, tanh is odd;
    sigmoid^2 = sigmoid - sigmoid', and sigmoid(v) + sigmoid(-v) = 1)."""
    if r <= 0:
        return 0.0
    return (1 - math.tanh(r) / r) * (r - math.tanh(r / 2)) / (2 * r)


def nac_init_limit(in_features: int, out_features: int) -> float:
    """The r of the "glorot_w" NAC initialization U[-r, r]: the root of
    fan * [`nac_weight_variance`][nalm.functional.nac_weight_variance] (r) = 2 with fan = max(in + out, 5), found by bisection on
    [0, 10] (the variance rises from 0 to below 1/2 there; the floor of 5 keeps a root inside).
    About 0.50 for 100 -> 2 and 9.47 for 2 -> 1."""
    target = 2.0 / max(in_features + out_features, 5)
    low, high = 0.0, 10.0
    for _ in range(60):  # 10 / 2^60: far below float64's resolution of r
        middle = (low + high) / 2
        low, high = (middle, high) if nac_weight_variance(middle) < target else (low, middle)
    return (low + high) / 2


def nac(x: Array, W_hat: Array, M_hat: Array, *, ops: Any) -> Array:
    """Neural accumulator: a = x W with W = tanh(W_hat) * sigmoid(M_hat).

    x: (..., in); W_hat, M_hat: (..., in, out); returns (..., out).
    """
    return ops.matmul(x, nac_weight(W_hat, M_hat, ops=ops))


def log_magnitude(x: Array, eps: float, *, ops: Any) -> Array:
    """log(|x| + eps): the log-space input of the multiplicative paths (finite at x = 0)."""
    return ops.log(ops.abs(x) + eps)


def nac_mul(x: Array, W_hat: Array, M_hat: Array, *, eps: float, ops: Any) -> Array:
    """NAC in log space (NAC*, Madsen & Johansen 2020): m = exp(log(|x| + eps) W), W as in [`nac`][nalm.functional.nac].

    Multiplies (W = 1) and divides (W = -1) the magnitudes of the inputs; the sign of x is lost.
    x: (..., in); W_hat, M_hat: (..., in, out); returns (..., out).
    """
    return ops.exp(nac(log_magnitude(x, eps, ops=ops), W_hat, M_hat, ops=ops))


def nalu(
    x: Array,
    W_hat: Array,
    M_hat: Array,
    G: Array,
    *,
    eps: float,
    ops: Any,
    W_hat_mul: Array | None = None,
    M_hat_mul: Array | None = None,
    max_exponent: float | None = None,
    gate_kind: str = "input",
) -> Array:
    """Neural arithmetic logic unit (Trask et al. 2018, arXiv 1808.00508).

        a = x W                                  additive path, W = tanh(W_hat) * sigmoid(M_hat)
        m = exp(min(log(|x| + eps) W_m, max_exponent))   multiplicative path
        g = sigmoid(x G)                         gate (the paper); sigmoid(G) with
                                                 ``gate_kind="independent"`` (see [`gate`][nalm.functional.gate])
        y = g * a + (1 - g) * m

    W_m is W itself (the paper) unless ``W_hat_mul`` and ``M_hat_mul`` give the multiplicative
    path its own NAC weights. ``max_exponent=None`` applies no cap: m overflows to inf once the
    product exceeds the dtype's range (about 3.4e38 in float32).

    x: (..., in); weights: (..., in, out), G a vector (out,) when independent; returns (..., out).
    """
    W = nac_weight(W_hat, M_hat, ops=ops)
    additive = ops.matmul(x, W)
    W_mul = W if W_hat_mul is None else nac_weight(W_hat_mul, M_hat_mul, ops=ops)
    exponent = ops.matmul(log_magnitude(x, eps, ops=ops), W_mul)
    if max_exponent is not None:
        exponent = ops.clip(exponent, -float("inf"), max_exponent)
    multiplicative = ops.exp(exponent)
    g = gate(x, G, gate_kind, ops=ops)
    return g * additive + (1 - g) * multiplicative


# --- The gate shared by NALU and iNALU ---------------------------------------------------------

GATES = ("input", "independent")
"""How a gate between an additive and a multiplicative path is computed (see [`gate`][nalm.functional.gate])."""


def gate(x: Array, G: Array, kind: str, *, ops: Any) -> Array:
    """The gate g of NALU and iNALU: ``"input"``: g = sigmoid(x G), G (..., in, out);
    ``"independent"``: g = sigmoid(G), G a vector (out,), one learned value per output whatever
    the input (the cheap variant used by later work, e.g. iNALU's independent gating).

    Returns (..., out) for "input", G's shape for "independent"; both broadcast against the
    paths' (..., out).
    """
    if kind == "independent":
        return ops.sigmoid(G)
    return ops.sigmoid(ops.matmul(x, G))


# --- NAU and NMU (Madsen & Johansen 2020, arXiv 2001.05016) --------------------------------------


def clamp(W: Array, low: float, high: float, *, ops: Any) -> Array:
    """W clipped to [low, high], passing the full gradient inside the range and on its bounds.

    The bounds are where the solutions lie (W = -1, 0, 1): ``jax.numpy.clip`` would halve the
    gradient there, ``torch.clamp`` passes all of it; this gives every backend torch's rule.
    """
    if getattr(ops, "__name__", None) == "torch":  # the rule itself, in one op instead of five
        return ops.clamp(W, low, high)
    return ops.where(ops.logical_and(W >= low, W <= high), W, ops.clip(W, low, high))


NAU_RANGE = (-1.0, 1.0)
"""The NAU's weights are clamped to this range."""

NMU_RANGE = (0.0, 1.0)
"""The NMU's weights are clamped to this range."""


def nau(x: Array, W: Array, *, ops: Any) -> Array:
    """Neural addition unit: z = x W with W clamped to [-1, 1].

    x: (..., in); W: (..., in, out); returns (..., out).
    """
    return ops.matmul(x, nau_weight(W, ops=ops))


def nau_weight(W: Array, *, ops: Any) -> Array:
    """The weight the NAU applies: W clamped to [-1, 1] (full gradient on the bounds). (..., in, out)."""
    return clamp(W, *NAU_RANGE, ops=ops)


def selective_product(x: Array, W: Array, *, ops: Any) -> Array:
    """z_o = prod_i (W_io x_i + 1 - W_io): W_io = 1 takes x_i into the product, W_io = 0 the
    neutral 1. The NMU's formula, and iNALU's sign term (x = sign(inputs), W = |W_m|).

    x: (..., in); W: (..., in, out); returns (..., out), broadcasting as ``x @ W`` does.
    """
    if len(x.shape) > 1:  # rows of x: give W a row axis, so a seed axis of W meets the seed axis of x
        W = W[..., None, :, :]
    factors = W * x[..., :, None] + (1 - W)  # not (W x + 1) - W, which rounds a tiny x to 0
    return ops.prod(factors, -2)


def nmu(x: Array, W: Array, *, ops: Any) -> Array:
    """Neural multiplication unit: z_o = prod_i (W_io x_i + 1 - W_io), W clamped to [0, 1].

    Exact for inputs of any sign, zeros included (no logarithm); it cannot divide.
    x: (..., in); W: (..., in, out); returns (..., out).
    """
    return selective_product(x, clamp(W, *NMU_RANGE, ops=ops), ops=ops)


def seed_count(weight: Array) -> int:
    """S for a weight with a leading seed axis, (S, in, out) or (S, 1, n); 1 for one model's weight.

    A penalty that is a mean over one model's entries becomes, times this, the sum over the seeds
    of each seed's own penalty: what a trainer adds to the sum of the seeds' losses.
    """
    return weight.shape[0] if len(weight.shape) == 3 else 1


SPARSITY_PENALTY = "min(|W|, |1 - |W||)"
"""The sparsity penalty's formula as the benchmark's model definitions name it: a definition
without it ran the earlier penalty min(|W|, 1 - |W|), whose gradient on the clamp bound |W| = 1
was -sign(W), not the reference's 0."""


def sparsity_penalty(W: Array, *, ops: Any) -> Array:
    """R = mean(min(|W|, |1 - |W||)) over every entry of W: zero exactly when W is in {-1, 0, 1}.

    Returns a scalar; with a leading seed axis, the sum over the seeds of each seed's R. On the
    clamped weights (|W| <= 1) the value is mean(min(|W|, 1 - |W|)); the outer |.| is the
    reference's (Madsen & Johansen's code), and so is the gradient: sign(W) / n where
    |W| < 1/2, -sign(W) / n where 1/2 < |W| < 1, and 0 at W = 0, at |W| = 1/2 (min splits a tie
    in halves, which cancel) and at |W| = 1, where a clamped weight sits after every step
    (1 - |W| would push it outwards there). Each |u| is written u sign(u), whose gradient sign(u)
    is 0 at u = 0 on every backend (JAX's abs has gradient 1 there).
    """
    W_abs = W * ops.sign(W)
    distance = 1 - W_abs
    return ops.mean(tie_split_minimum(W_abs, distance * ops.sign(distance), ops=ops)) * seed_count(W)


def tie_split_minimum(a: Array, b: Array, *, ops: Any) -> Array:
    """min(a, b), elementwise, whose gradient splits a tie a = b in halves between a and b.

    PyTorch's and JAX's minimum do so; TensorFlow's gives all of it to a. This gives every
    backend the same rule: the tie's value is (a + b) / 2, which is a exactly.
    """
    if getattr(ops, "__name__", None) == "torch":  # the rule itself, in one op instead of four
        return ops.minimum(a, b)
    return ops.where(ops.equal(a, b), (a + b) * 0.5, ops.minimum(a, b))


@dataclass(frozen=True)
class SparsitySchedule:
    """The strength of the sparsity penalty at training step t:

        lambda(t) = lambda_sparse * clip((t - lambda_start) / (lambda_end - lambda_start), 0, 1)

    no penalty up to ``lambda_start``, then a linear ramp to full strength at ``lambda_end``.
    """

    lambda_sparse: float
    lambda_start: int
    lambda_end: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "lambda_sparse", non_negative_float("lambda_sparse", self.lambda_sparse))
        non_negative_int("lambda_start", self.lambda_start)
        non_negative_int("lambda_end", self.lambda_end)
        if self.lambda_end <= self.lambda_start:
            raise ValueError(
                f"lambda_end must be greater than lambda_start, got {self.lambda_end!r} <= {self.lambda_start!r}"
            )

    def replace(self, **changes: float | int | None) -> SparsitySchedule:
        """A copy with the given fields changed; fields given as None keep this schedule's value."""
        kept: dict[str, Any] = {k: v for k, v in changes.items() if v is not None}
        return dataclasses.replace(self, **kept)

    def __call__(self, step: Any, *, ops: Any = None) -> Any:
        """lambda(step): a float for an int ``step``; with ``ops``, a tensor, so that ``step`` may
        be a tensor too (e.g. an optimizer's iteration count inside a compiled training step)."""
        span = self.lambda_end - self.lambda_start
        if ops is None:
            return self.lambda_sparse * min(max((step - self.lambda_start) / span, 0.0), 1.0)
        # ops.divide, not /: TensorFlow's / makes float64 of an integer tensor (keras.ops.divide: float32)
        return self.lambda_sparse * ops.clip(ops.divide(step - self.lambda_start, span), 0.0, 1.0)


NAU_SCHEDULE = SparsitySchedule(0.01, 5_000, 50_000)
"""The NAU's published schedule (their appendix, static arithmetic task)."""

NMU_SCHEDULE = SparsitySchedule(10.0, 1_000_000, 2_000_000)
"""The NMU's published schedule (their appendix, static arithmetic task)."""


def nau_init_limit(in_features: int, out_features: int) -> float:
    """The NAU's initialization is U[-r, r] with r = min(0.5, sqrt(3) * sqrt(2 / (in + out))):
    Glorot's variance, capped so that no weight starts beyond 0.5."""
    return min(0.5, math.sqrt(3.0) * math.sqrt(2.0 / (in_features + out_features)))


NMU_INIT_RANGE = (0.25, 0.75)
"""The NMU's initialization U[1/2 - r, 1/2 + r] with r = min(1/4, sqrt(3) * sqrt(1/4)) = 1/4: mean
1/2 as the paper asks; its optimal variance 1/4 would need r = sqrt(3)/2, far outside [0, 1], so
the authors' implementation caps r at 1/4."""


# --- iNALU (Schlör, Ring & Hotho 2020, arXiv 2003.07629) ---------------------------------------


def inalu(
    x: Array,
    W_hat_a: Array,
    M_hat_a: Array,
    W_hat_m: Array,
    M_hat_m: Array,
    G: Array,
    *,
    gate_kind: str,
    eps: float,
    omega: float,
    ops: Any,
) -> Array:
    """Improved NALU:

        a = x W_a                                        additive path, W_a = tanh(W_hat_a) * sigmoid(M_hat_a)
        m = exp(min(log(max(|x|, eps)) W_m, omega))      multiplicative path, its own W_m
        s = prod_i (sign(x_i) |W_m,io| + 1 - |W_m,io|)   sign of the product (0 for a root of x_i < 0)
        y = g * a + (1 - g) * m * s                      g from [`gate`][nalm.functional.gate]

    x: (..., in); the four NAC weights (..., in, out); G as [`gate`][nalm.functional.gate] takes it; returns (..., out).
    """
    additive = nac(x, W_hat_a, M_hat_a, ops=ops)
    W_m = nac_weight(W_hat_m, M_hat_m, ops=ops)
    log_x = ops.log(ops.clip(ops.abs(x), eps, float("inf")))
    magnitude = ops.exp(ops.clip(ops.matmul(log_x, W_m), -float("inf"), omega))
    sign = selective_product(ops.sign(x), ops.abs(W_m), ops=ops)
    g = gate(x, G, gate_kind, ops=ops)
    return g * additive + (1 - g) * magnitude * sign


INALU_INIT = {"W_hat": (0.88, 0.2), "M_hat": (0.5, 0.2), "G": (0.0, 0.2)}
"""iNALU's initialization, (mean, standard deviation) of a normal distribution per kind of weight
(the authors' code: every W_hat, every M_hat, the gate G): W starts near tanh(0.88) * sigmoid(0.5) = 0.44."""


def inalu_penalty(weights: Any, threshold: float, *, ops: Any) -> Array:
    """iNALU's regularizer: sum over weights of mean(max(min(-w, w) + t, 0)) / t, t = ``threshold``.

    It pushes every raw weight (W_hat, M_hat, G) away from 0 until |w| >= t, where tanh and
    sigmoid saturate. Returns a scalar; with a leading seed axis, the sum over the seeds of each
    seed's penalty.
    """
    return sum(ops.mean(ops.relu(1 - ops.abs(w) / threshold)) * seed_count(w) for w in weights)


def inalu_stalled(losses: Any, threshold: float) -> bool:
    """iNALU's test for a stuck run: the older half of ``losses`` has a mean no higher than the
    newer half's mean plus its standard deviation (no real progress), and the newer half's mean is above
    ``threshold``. Plain Python on a sequence of floats; False with fewer than two losses."""
    losses = [float(loss) for loss in losses]
    if len(losses) < 2:
        return False
    older, newer = losses[: len(losses) // 2], losses[len(losses) // 2 :]
    newer_mean = sum(newer) / len(newer)
    newer_std = math.sqrt(sum((loss - newer_mean) ** 2 for loss in newer) / len(newer))
    return sum(older) / len(older) <= newer_mean + newer_std and newer_mean > threshold


# --- NPU and RealNPU (Heim, Pevný & Šmídl 2020, arXiv 2006.01681) -------------------------------


NPU_GATE_RANGE = (0.0, 1.0)
"""The NPU's relevance gate g is clamped to [0, 1]."""

NPU_DISCRETIZATION_SCHEDULE = SparsitySchedule(0.0, 0, 1)
"""The RealNPU's discretization penalty is off by default; the division paper's modified Real NPU
ramps it to 1 from step 40,000 to 50,000 (two inputs) or 50,000 to 75,000 (ten)."""


def npu(x: Array, W_re: Array, g: Array, *, eps: float, ops: Any, W_im: Array | None = None) -> Array:
    """Neural power unit: the real part of prod_i x_i^(W_re,io + i W_im,io), inputs gated by relevance.

        g' = clip(g, 0, 1)                   relevance of each input (g' = 0: the input is ignored)
        r = g' (|x| + eps) + (1 - g')        magnitude, 1 for an irrelevant input
        k = g' pi [x < 0]                    phase of a negative input
        z = exp(log(r) W_re - k W_im) * cos(log(r) W_im + k W_re)

    ``W_im=None`` is the RealNPU: z = exp(log(r) W) * cos(k W).
    x: (..., in); W_re, W_im: (..., in, out); g: (in,); returns (..., out).
    """
    g = clamp(g, *NPU_GATE_RANGE, ops=ops)
    r = g * (ops.abs(x) + eps) + (1 - g)  # not (g (|x| + eps) + 1) - g, which rounds |x| + eps away
    k = g * math.pi * ops.clip(-ops.sign(x), 0, 1)
    log_r = ops.log(r)
    if W_im is None:
        return ops.exp(ops.matmul(log_r, W_re)) * ops.cos(ops.matmul(k, W_re))
    return ops.exp(ops.matmul(log_r, W_re) - ops.matmul(k, W_im)) * ops.cos(
        ops.matmul(log_r, W_im) + ops.matmul(k, W_re)
    )


def l1_norm(weights: Any, *, ops: Any) -> Array:
    """The sum of |w| over every entry of every weight (the NPU paper's L1 penalty): a scalar;
    with a leading seed axis, the sum over the seeds of each seed's penalty."""
    return sum(ops.sum(ops.abs(w)) for w in weights)


def growing_l1(step: Any, l1: float, initial: float | None, growth: int, *, ops: Any = None) -> Any:
    """The division paper's L1 strength for the Real NPU: beta(t) = min(l1, initial * 10^floor(t / growth)),
    tenfold every ``growth`` steps from ``initial`` up to ``l1`` (1e-9, 1e-8 from step 10,000, 1e-7
    from 20,000 in its runs); ``l1`` throughout when ``growth`` is 0. A float for a number ``step``;
    with ``ops``, a tensor, so that ``step`` may be one."""
    if growth == 0 or initial is None:
        return l1
    if ops is None:
        return min(l1, initial * 10.0 ** math.floor(step / growth))
    decades = ops.clip(ops.floor(ops.divide(step, float(growth))), 0.0, math.log10(l1 / initial))
    return initial * 10.0**decades


def npu_discretization_penalty(W: Array, g: Array, *, ops: Any) -> Array:
    """R = mean(|1 - |W||) + mean(min(|g|, |1 - g|)): the division paper's modified Real NPU pushes
    its exponents towards +-1 and its gate towards 0 or 1 (zero exactly there). A scalar; with a
    leading seed axis, the sum over the seeds of each seed's R. Each |u| is u sign(u), as in
    [`sparsity_penalty`][nalm.functional.sparsity_penalty], so that the gradient at u = 0 is 0 on every backend."""
    W_distance = 1 - W * ops.sign(W)
    return ops.mean(W_distance * ops.sign(W_distance)) * seed_count(W) + gate_penalty(g, ops=ops)


def recur(
    cell: Callable[[Array], Array],
    z: Array,
    hidden_size: int,
    initial_state: float,
    *,
    ops: Any,
    return_sequences: bool = False,
    mask: Array | None = None,
) -> Array:
    """Fold a sequence with a recurrent cell: h_0 = initial_state, h_t = cell([h_{t-1}, z_t]).

    z: (..., T, features) with T >= 1; ``cell`` maps (..., hidden_size + features) to
    (..., hidden_size). Returns h_T (..., hidden_size), or every h_1 .. h_T as (..., T, hidden_size)
    with ``return_sequences``. Where the boolean ``mask`` (..., T) is False, step t is skipped:
    h_t = h_{t-1}. With an NAU cell of W = [[1], [1]] (hidden 1, one feature) and h_0 = 0,
    h_T = z_1 + ... + z_T; with an NMU cell of the same W and h_0 = 1, h_T = z_1 ... z_T.

    ``ops`` with a ``scan`` (keras.ops) folds with it, which JAX compiles once for any T (an
    unrolled loop of a few hundred steps overflows XLA's stack); PyTorch runs a Python loop.
    """
    steps = z.shape[-2]
    if steps == 0:
        raise ValueError(f"a recurrent unit needs at least one time step, got input shape {tuple(z.shape)}")
    first = z[..., 0, :1]
    h = ops.concatenate([ops.zeros_like(first) + initial_state] * hidden_size, -1)

    def step(h: Array, inputs: tuple[Array, ...]) -> tuple[Array, Array]:
        """(z_t,) or (z_t, mask_t) -> (h_t, h_t)."""
        new = cell(ops.concatenate([h, inputs[0]], -1))
        if len(inputs) == 2:
            new = ops.where(inputs[1][..., None], new, h)
        return new, new

    if hasattr(ops, "scan"):
        time_first = (ops.moveaxis(z, -2, 0), *(() if mask is None else (ops.moveaxis(mask, -1, 0),)))
        h, states = ops.scan(step, h, time_first)
        return ops.moveaxis(states, 0, -2) if return_sequences else h
    states = []
    for t in range(steps):
        h, _ = step(h, (z[..., t, :], *(() if mask is None else (mask[..., t],))))
        states.append(h)
    return ops.stack(states, -2) if return_sequences else h


# --- NRU and NMRU (Mistry, Li, Weng & Barrett 2021, arXiv 2110.05177) -----------------------------


RECIPROCAL_EPS = 1.1920929e-07
"""float32's machine epsilon: the NMRU adds it to x before 1/x in training (whatever the dtype,
as the authors' code does), so that a zero input gives 1/eps = 8.4e6, not inf."""

NRU_RANGE = (-1.0, 1.0)
"""The NRU's weights are clipped to this range after every step."""

NMRU_RANGE = (0.0, 1.0)
"""The NMRU's weights are clipped to this range (in the forward pass and after every step)."""

DIVISION_SCHEDULE = SparsitySchedule(10.0, 20_000, 35_000)
"""The division paper's sparsity schedule for two inputs (ramp from step 20,000 to 35,000, lambda
10); its ten-input runs ramp from 50,000 to 75,000."""


def nru(x: Array, W: Array, *, training: bool, ops: Any) -> Array:
    """Neural reciprocal unit: y_o = prod_i (sign(x_i) |x_i|^W_io A(W_io) + 1 - A(W_io)).

    A(w) = tanh(1000 w)^2 in training and |w| at evaluation. W = 1 takes x_i into the product,
    W = -1 its reciprocal 1/x_i (with its sign), W = 0 the neutral 1. W is the raw weight (the
    authors clip it to [-1, 1] after each step, not in the forward pass). There is no eps:
    x_i = 0 with W_io < 0 gives sign(0) |0|^W = 0 * inf = NaN.

    x: (..., in); W: (..., in, out); returns (..., out).
    """
    if len(x.shape) > 1:  # as in selective_product: a seed axis of W meets the seed axis of x
        W = W[..., None, :, :]
    x = x[..., :, None]
    A = ops.square(ops.tanh(1000.0 * W)) if training else ops.abs(W)
    factors = ops.sign(x) * ops.abs(x) ** W * A + (1 - A)  # **: torch.pow, keras.ops.power
    return ops.prod(factors, -2)


def reciprocal(x: Array, *, training: bool) -> Array:
    """1/(x + eps) in training (eps = [`RECIPROCAL_EPS`][nalm.functional.RECIPROCAL_EPS]), 1/x at evaluation, where x = 0
    gives 1/0 = inf (-0.0 gives -inf). The NMRU's inputs are x' = [x, this]."""
    return 1 / (x + RECIPROCAL_EPS) if training else 1 / x


def _over_reciprocal_inputs(product: Callable[[Array, Array], Array], x: Array, W: Array, training: bool) -> Array:
    """product([x, 1/x], W) for a product over the input axis, computed as product(x, W_x) * product(1/x, W_r)
    with W = [W_x; W_r] (2 in, out): the same factors, without concatenating x and 1/x (which
    ``torch.autocast`` on the CPU refuses for float16 inputs)."""
    n = x.shape[-1]
    return product(x, W[..., :n, :]) * product(reciprocal(x, training=training), W[..., n:, :])


def nmru(x: Array, W: Array, *, training: bool, ops: Any) -> Array:
    """Neural multiplicative reciprocal unit: the NMU over x' = [x, 1/x] ([`reciprocal`][nalm.functional.reciprocal]):

        y_o = prod_j (x'_j W_jo + 1 - W_jo),  W clamped to [0, 1]

    W over x_a and 1/x_b gives x_a / x_b. At evaluation a zero input makes 1/x = inf: the output
    is inf (or -inf) where that reciprocal's weight is above 0, NaN where it is exactly 0
    (0 * inf), so a zero in an input the solution ignores still gives NaN.

    x: (..., in); W: (..., 2 in, out), rows for x first, then for 1/x; returns (..., out).
    """
    W = clamp(W, *NMRU_RANGE, ops=ops)
    return _over_reciprocal_inputs(lambda v, w: selective_product(v, w, ops=ops), x, W, training)


def sign_nmru(x: Array, W: Array, *, training: bool, ops: Any) -> Array:
    """The NMRU with its sign restored (the paper's "NMRU", the authors' SignNMRU), over x' = [x, 1/x]:

        m_o = prod_j (|x'_j| W_jo + 1 - W_jo),  W clamped to [0, 1]
        k = pi [x' < 0]
        y = m * cos(k W)

    The magnitude uses the clamped W, the sign term cos(k W) the raw W, as the authors' code does
    (the two agree once W is clipped after the step). Zero inputs at evaluation: as
    [`nmru`][nalm.functional.nmru] for m (1/(-0.0) = -inf counts as negative).

    x: (..., in); W: (..., 2 in, out); returns (..., out).
    """
    clamped = clamp(W, *NMRU_RANGE, ops=ops)
    magnitude = _over_reciprocal_inputs(lambda v, w: selective_product(ops.abs(v), w, ops=ops), x, clamped, training)
    n = x.shape[-1]
    phase = ops.matmul(_pi_if_negative(x, ops=ops), W[..., :n, :]) + ops.matmul(
        _pi_if_negative(reciprocal(x, training=training), ops=ops), W[..., n:, :]
    )
    return magnitude * ops.cos(phase)


def tied_sign_nmru(x: Array, W: Array, *, training: bool, ops: Any) -> Array:
    """The sign NMRU with one signed weight per input and output, W clamped to [-1, 1]: w > 0
    takes x_i into the product, w < 0 its reciprocal, never both:

        y = sign_nmru(x, [w+, w-]),  w+ = clip(w, 0, 1),  w- = clip(-w, 0, 1)

    so factor_i = 1 + w+ (|x_i| - 1) + w- (1/|x_i| - 1) and the sign is cos(pi sum_i [x_i < 0] |w_i|).
    The sign NMRU's x_i and 1/x_i can both stay selected with weights whose factors nearly cancel
    on the training range (e.g. 0.73 and 0.97 for |x| in [10, 20]), a valley this unit does not
    have. W = (1, -1) gives x_0 / x_1. x: (..., in); W: (..., in, out); returns (..., out).
    """
    W = clamp(W, *NRU_RANGE, ops=ops)
    halves = ops.concatenate([clamp(W, *NMRU_RANGE, ops=ops), clamp(-W, *NMRU_RANGE, ops=ops)], -2)
    return sign_nmru(x, halves, training=training, ops=ops)


def _pi_if_negative(x: Array, *, ops: Any) -> Array:
    """pi [x < 0], elementwise."""
    return math.pi * ops.clip(-ops.sign(x), 0, 1)


# --- sNMU (Mistry, Li, Weng & Barrett 2022, arXiv 2211.05624) -------------------------------------


SNMU_NOISE_RANGE = (1.0, 5.0)
"""The sNMU's noise n ~ U[1, 5] (the paper's default)."""


def snmu(x: Array, W: Array, noise: Array, *, ops: Any) -> Array:
    """Stochastic NMU in training: y = NMU(x * n; W) / NMU(n; W), n (..., in) drawn by the caller.

    The noise cancels exactly when W is in {0, 1}: NMU(x n; W) = NMU(x; W) NMU(n; W). With
    n >= 1 > 0 the denominator is at least 1. At evaluation the sNMU is the plain [`nmu`][nalm.functional.nmu].

    x, noise: (..., in); W: (..., in, out); returns (..., out).
    """
    return nmu(x * noise, W, ops=ops) / nmu(noise, W, ops=ops)


# --- MC-FC (Hoedt et al. 2021, arXiv 2101.05186; Mistry et al.'s benchmark) ----------------------


MCFC_SCHEDULE = SparsitySchedule(10.0, 20_000, 35_000)
"""The MC-FC benchmark's regularizer schedule (lambda 10, ramp from step 20,000 to 35,000)."""


def mcfc(x: Array, R: Array, w_o: Array, b_o: Array, *, ops: Any) -> Array:
    """Mass-conserving fully connected layer: y = o * (x S),

        S = softmax(R) over the output axis (each input's row sums to 1: its mass is split
            among the outputs), o = sigmoid(w_o + b_o) (the share of each output kept)

    With one output S is all ones, so y = sigmoid(w + b) * sum(x).
    x: (..., in); R: (..., in, out); w_o, b_o: (out,); returns (..., out).
    """
    return ops.sigmoid(w_o + b_o) * ops.matmul(x, ops.softmax(R, -1))


MCFC_SIGNS = ("none", "inalu", "npu")
"""How MulMCFC restores the sign of its product: not at all (positive inputs only), as iNALU's
sign term, or as the Real NPU's gated phase."""


def mul_mcfc(
    x: Array,
    R: Array,
    w_o: Array,
    b_o: Array,
    alpha: Array,
    *,
    ops: Any,
    sign: str = "none",
    g: Array | None = None,
) -> Array:
    """MC-FC in log space: y = exp(MCFC(log x) + alpha). Positive inputs only: log of a negative
    input is NaN, and x = 0 gives log 0 = -inf (an output of 0 and NaN gradients).

    With ``sign`` "inalu" or "npu" it reads |x| and restores the sign, S = softmax(R):

        inalu:  y = exp(MCFC(log |x|) + alpha) * s,  s_o = prod_i (sign(x_i) S_io + 1 - S_io)
        npu:    y = exp(MCFC(log |x|) + alpha) * cos((g' pi [x < 0]) S),  g' = clip(g, 0, 1)

    (inputs of any sign but 0). x: (..., in); R: (..., in, out); w_o, b_o, alpha: (out,); g: (in,);
    returns (..., out).
    """
    if sign == "none":
        return ops.exp(mcfc(ops.log(x), R, w_o, b_o, ops=ops) + alpha)
    magnitude = ops.exp(mcfc(ops.log(ops.abs(x)), R, w_o, b_o, ops=ops) + alpha)
    S = ops.softmax(R, -1)
    if sign == "inalu":
        return magnitude * selective_product(ops.sign(x), S, ops=ops)
    if g is None:
        raise ValueError('mul_mcfc with sign "npu" needs its gate g')
    phase = clamp(g, *NPU_GATE_RANGE, ops=ops) * _pi_if_negative(x, ops=ops)
    return magnitude * ops.cos(ops.matmul(phase, S))


def gate_penalty(g: Array, *, ops: Any) -> Array:
    """mean(min(|g|, |1 - g|)): zero where every gate is 0 or 1. A scalar; with a leading seed
    axis, the sum over the seeds of each seed's penalty."""
    g_abs = g * ops.sign(g)
    distance = 1 - g
    return ops.mean(tie_split_minimum(g_abs, distance * ops.sign(distance), ops=ops)) * seed_count(g)


def mcfc_penalty(weights: Any, *, ops: Any) -> Array:
    """-(mean(R^2) + mean(w_o^2) + mean(b_o^2)) for ``weights`` = (R, w_o, b_o): the benchmark's
    regularizer, which rewards large weights and is unbounded below. A scalar; with a leading
    seed axis, the sum over the seeds of each seed's penalty."""
    return -sum(ops.mean(ops.square(w)) * seed_count(w) for w in weights)

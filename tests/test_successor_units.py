"""The units that fixed NALU: NAU and NMU, iNALU, NPU and RealNPU, and NALU's independent gate.

Hand-set weights must compute exactly the operation they stand for; the regularizers follow
their schedules; the clamps hold; and with fixed seeds the units learn their operation and
extrapolate.
"""

import cmath
import math

import pytest
import torch

from nalm import functional
from nalm.torch import INALU, NALU, NAU, NMU, NPU, UNITS, RealNPU, reinitialize_if_stuck

SAT = 40.0  # tanh(40) and sigmoid(40) round to exactly 1.0 in float64
EPS = 1e-12  # the log-space floor used with hand-set weights, far below every input here


def column(*values):
    """An (in, 1) float64 weight."""
    return torch.tensor(values, dtype=torch.float64).unsqueeze(1)


def rows(*values):
    """A batch of float64 inputs, one row per tuple."""
    return torch.tensor(values, dtype=torch.float64)


def set_weights(unit, **weights):
    with torch.no_grad():
        for name, value in weights.items():
            getattr(unit, name).copy_(torch.as_tensor(value, dtype=torch.float64))
    return unit


# --- NAU ---------------------------------------------------------------------------------------


def nau(*weights):
    return set_weights(NAU(len(weights), 1).double(), W=column(*weights))


def test_nau_adds_and_subtracts_inputs_of_any_sign_and_size_exactly():
    x = rows((7.0, 3.0, -2.0), (-1.5, 2.0, 1e12), (0.0, -0.0, 5e-300))
    assert nau(1, -1, 0)(x).flatten().tolist() == [4.0, -3.5, 0.0]
    assert nau(1, 1, 1)(x).flatten().tolist() == [8.0, 1e12 + 0.5, 5e-300]


def test_nau_clamps_its_weights_in_the_forward_pass_and_in_place():
    unit = nau(3.0, -2.0, 0.5)
    x = rows((7.0, 3.0, 2.0))
    assert unit(x).item() == 7.0 - 3.0 + 1.0  # W acts as (1, -1, 0.5)
    unit.apply_constraints()
    assert unit.W.flatten().tolist() == [1.0, -1.0, 0.5]


def test_nau_initialization_is_the_capped_glorot_uniform():
    torch.manual_seed(0)
    wide = NAU(400, 300)
    limit = math.sqrt(3.0) * math.sqrt(2.0 / 700)
    assert limit < 0.5
    assert limit * 0.99 < wide.W.abs().max().item() <= limit
    assert wide.W.std().item() == pytest.approx(limit / math.sqrt(3.0), rel=0.02)
    narrow = NAU(2, 1)  # sqrt(3) * sqrt(2 / 3) > 0.5: the cap applies
    assert functional.nau_init_limit(2, 1) == 0.5
    assert narrow.W.abs().max().item() <= 0.5


# --- NMU ---------------------------------------------------------------------------------------


def nmu(*weights):
    return set_weights(NMU(len(weights), 1).double(), W=column(*weights))


def test_nmu_multiplies_inputs_of_any_sign_including_zero_exactly():
    x = rows((-2.0, 3.0, 5.0), (-2.0, -3.0, 5.0), (0.0, -7.0, 5.0), (1e-200, 1e100, 5.0))
    assert nmu(1, 1, 0)(x).flatten().tolist() == [-6.0, 6.0, -0.0, 1e-100]
    assert nmu(1, 1, 1)(x).flatten().tolist() == [-30.0, 30.0, -0.0, 5e-100]


def test_nmu_weight_zero_is_the_neutral_element_and_a_repeated_input_squares():
    x = rows((-3.0, -3.0), (0.5, 0.5))
    assert nmu(0, 0)(x).flatten().tolist() == [1.0, 1.0]
    assert nmu(1, 0)(x).flatten().tolist() == [-3.0, 0.5]
    assert nmu(1, 1)(x).flatten().tolist() == [9.0, 0.25]


def test_nmu_clamps_its_weights_to_0_1():
    unit = nmu(1.7, -0.3)
    assert unit(rows((-4.0, 9.0))).item() == -4.0  # W acts as (1, 0)
    unit.apply_constraints()
    assert unit.W.flatten().tolist() == [1.0, 0.0]


def test_nmu_initialization_is_uniform_on_a_quarter_around_one_half():
    torch.manual_seed(0)
    W = NMU(400, 300).W
    assert 0.25 <= W.min().item() < 0.251 and 0.749 < W.max().item() <= 0.75
    assert W.mean().item() == pytest.approx(0.5, abs=1e-3)


# --- The sparsity regularizer and its schedule -------------------------------------------------

HAND_W = column(0.25, -0.5, 1.0, 0.0)  # min(|W|, 1 - |W|) = 0.25, 0.5, 0, 0: mean 0.1875


@pytest.mark.parametrize(
    "unit_class, step, expected",
    [
        (NAU, 0, 0.0),
        (NAU, 5_000, 0.0),
        (NAU, 27_500, 0.005 * 0.1875),  # half-way through the ramp: lambda = 0.01 / 2
        (NAU, 50_000, 0.01 * 0.1875),
        (NAU, 10**8, 0.01 * 0.1875),
        (NMU, 999_999, 0.0),
        (NMU, 1_250_000, 2.5 * 0.1875),
        (NMU, 2_000_000, 10.0 * 0.1875),
    ],
)
def test_sparsity_penalty_follows_the_published_schedule(unit_class, step, expected):
    unit = set_weights(unit_class(4, 1).double(), W=HAND_W.abs() if unit_class is NMU else HAND_W)
    assert unit.regularization_loss(step).item() == pytest.approx(expected, rel=1e-12, abs=1e-300)


def test_sparsity_penalty_is_zero_on_the_exact_solution_and_reads_the_clamped_weight():
    unit = NAU(4, 1, lambda_start=0, lambda_end=1).double()
    set_weights(unit, W=column(1.0, -1.0, 0.0, 1.0))
    assert unit.regularization_loss(10).item() == 0.0
    set_weights(unit, W=column(3.0, -2.0, 0.0, 1.0))  # beyond the range counts as the clamped +-1
    assert unit.regularization_loss(10).item() == 0.0


@pytest.mark.parametrize(
    "unit_class, values",
    [
        (NAU, (-1.0, -0.5, 0.0, 0.3, 0.5, 0.7, 1.0)),
        (NMU, (0.0, 0.3, 0.5, 0.7, 1.0)),
    ],
    ids=["nau", "nmu"],
)
def test_sparsity_penalty_gradient_is_the_references_and_zero_on_the_bounds(unit_class, values):
    # After every clamp a weight sits exactly on its bound, +-1 (NAU) or 1 (NMU): the reference's
    # mean(min(|W|, |1 - |W||)) has gradient 0 there, as it has at 0 and at the ties |W| = 1/2.
    unit = set_weights(unit_class(len(values), 1, lambda_start=0, lambda_end=1).double(), W=column(*values))
    (gradient,) = torch.autograd.grad(unit.regularization_loss(10), unit.W)
    W = column(*values).requires_grad_()
    W_abs = torch.abs(W)
    reference = unit.lambda_sparse * torch.mean(torch.min(W_abs, torch.abs(1 - W_abs)))
    (expected,) = torch.autograd.grad(reference, W)
    assert torch.equal(gradient, expected)
    assert gradient[torch.tensor(values).abs() == 1].abs().max().item() == 0.0


def test_schedule_options_are_checked():
    with pytest.raises(ValueError, match="lambda_end must be greater than lambda_start, got 5 <= 5"):
        NAU(2, 1, lambda_start=5, lambda_end=5)
    with pytest.raises(ValueError, match="lambda_sparse must be a non-negative finite number, got -1"):
        NMU(2, 1, lambda_sparse=-1)
    with pytest.raises(ValueError, match="lambda_start must be a non-negative integer, got 5000.0"):
        NAU(2, 1, lambda_start=5e3)


# --- iNALU ------------------------------------------------------------------------------------


def inalu(W_m, W_a=None, gate=-SAT, **options):
    """An iNALU with saturated hand-set weights: W_m, W_a in {-1, 0, 1} (0.5 allowed in W_m via
    M_hat = 0), and an input-independent gate G (-SAT: multiplicative path, +SAT: additive)."""
    n = len(W_m)
    unit = INALU(n, 1, eps=1e-7, **options).double()
    W_a = W_m if W_a is None else W_a

    def hats(weights):
        signs = torch.tensor([math.copysign(1.0, w) for w in weights], dtype=torch.float64)
        magnitude = torch.tensor([abs(w) for w in weights], dtype=torch.float64)
        M_hat = torch.where(magnitude == 1, SAT, torch.where(magnitude == 0, -SAT, 0.0))
        return (SAT * signs).unsqueeze(1), M_hat.unsqueeze(1)

    (W_hat_m, M_hat_m), (W_hat_a, M_hat_a) = hats(W_m), hats(W_a)
    return set_weights(unit, W_hat_m=W_hat_m, M_hat_m=M_hat_m, W_hat_a=W_hat_a, M_hat_a=M_hat_a, G=[gate])


@pytest.mark.parametrize(
    "W_m, x, expected",
    [
        ((1, 1), (-2.0, 3.0), -6.0),  # products keep their sign
        ((1, 1), (-2.0, -3.0), 6.0),
        ((1, -1), (-6.0, 3.0), -2.0),  # and so do quotients
        ((1, -1), (-6.0, -3.0), 2.0),
        ((1, 1), (-3.0, -3.0), 9.0),  # a square, from a repeated input
        ((0.5,), (9.0,), 3.0),  # a square root
        ((0.5,), (-9.0,), 0.0),  # no real square root: the sign term is 0
        ((1, 0), (-4.0, 100.0), -4.0),
    ],
)
def test_inalu_multiplicative_path_with_sign(W_m, x, expected):
    assert inalu(W_m)(rows(x)).item() == pytest.approx(expected, rel=1e-6, abs=1e-12)


def test_inalu_additive_path_has_its_own_weights():
    x = rows((7.0, -3.0))
    assert inalu((1, -1), W_a=(1, 1), gate=SAT)(x).item() == pytest.approx(4.0, rel=1e-12)
    assert inalu((1, 1), W_a=(1, -1), gate=SAT)(x).item() == pytest.approx(10.0, rel=1e-12)
    assert inalu((1, 1), W_a=(1, -1), gate=-SAT)(x).item() == pytest.approx(-21.0, rel=1e-6)


def test_inalu_log_space_clipping_keeps_zeros_tiny_and_huge_inputs_finite():
    product, quotient = inalu((1, 1), W_a=(0, 0)), inalu((1, -1), W_a=(0, 0))
    # An exact zero has sign 0, so the sign term zeroes products with it, and quotients by it too.
    assert product(rows((0.0, 5.0))).item() == pytest.approx(0.0, abs=1e-30)  # g a = 1e-34 remains
    assert quotient(rows((5.0, 0.0))).item() == pytest.approx(0.0, abs=1e-30)
    assert quotient(rows((5.0, 1e-30))).item() == pytest.approx(5.0 / 1e-7, rel=1e-9)  # |x| floored at eps
    assert product(rows((1e-300, -1e-300))).item() == pytest.approx(-1e-14, rel=1e-9)
    assert product(rows((1e20, -1e20))).item() == pytest.approx(-math.exp(20.0), rel=1e-9)  # omega caps it
    big = INALU(2, 1, omega=5.0).double()
    set_weights(big, **{k: v for k, v in product.state_dict().items()})
    assert big(rows((1e20, 1e20))).item() == pytest.approx(math.exp(5.0), rel=1e-9)


def test_inalu_input_dependent_gate():
    unit = INALU(2, 1, gate="input").double()
    assert unit.G.shape == (2, 1)
    hand = inalu((1, 1), W_a=(1, 1))
    set_weights(unit, **{k: v for k, v in hand.state_dict().items() if k != "G"}, G=torch.zeros(2, 1))
    x = rows((-2.0, 3.0))  # g = sigmoid(0) = 1/2: the mean of the sum and the signed product
    assert unit(x).item() == pytest.approx(0.5 * 1.0 + 0.5 * -6.0, rel=1e-6)
    with torch.no_grad():
        unit.G.fill_(SAT / 4)  # g = sigmoid(x G) = sigmoid(10): the gate depends on the input
    assert unit(x).item() != unit(-x).item()


def test_inalu_regularizer_pushes_raw_weights_away_from_zero_once_started():
    unit = INALU(3, 2, regularization_start=100).double()
    with torch.no_grad():
        for weight in unit.parameters():
            weight.zero_()
    assert unit.regularization_loss(100).item() == 0.0
    assert unit.regularization_loss(101).item() == pytest.approx(5.0, rel=1e-12)  # 5 weights, each 1
    with torch.no_grad():
        for weight in unit.parameters():
            weight.fill_(-10.0)  # half-way to t = 20
    assert unit.regularization_loss(101).item() == pytest.approx(2.5, rel=1e-12)
    with torch.no_grad():
        for weight in unit.parameters():
            weight.fill_(25.0)
    assert unit.regularization_loss(101).item() == 0.0


def test_inalu_initialization_follows_the_authors_code():
    torch.manual_seed(0)
    unit = INALU(300, 200)
    for name, (mean, std) in [("W_hat_a", (0.88, 0.2)), ("M_hat_m", (0.5, 0.2)), ("G", (0.0, 0.2))]:
        weight = getattr(unit, name)
        assert weight.mean().item() == pytest.approx(mean, abs=0.05 if name == "G" else 0.002)
        assert weight.std().item() == pytest.approx(std, rel=0.1 if name == "G" else 0.01)


@pytest.mark.parametrize(
    "losses, stalled",
    [
        ([5.0] * 20, True),  # flat and high: stuck
        ([5.0 - 0.2 * i for i in range(20)], False),  # still improving
        ([0.5] * 20, False),  # flat but already below the threshold
        ([5.0], False),  # too short to judge
    ],
)
def test_inalu_stall_rule(losses, stalled):
    assert functional.inalu_stalled(losses, threshold=1.0) is stalled


def test_reinitialize_if_stuck_redraws_every_unit_of_a_model():
    torch.manual_seed(0)
    model = INALU.stack(3, 2, 1)
    before = [p.clone() for p in model.parameters()]
    assert not reinitialize_if_stuck(model, [3.0, 2.0, 1.5, 1.2])
    assert all(torch.equal(p, q) for p, q in zip(before, model.parameters()))
    assert reinitialize_if_stuck(model, [3.0] * 10)
    assert all(not torch.equal(p, q) for p, q in zip(before, model.parameters()))
    with pytest.raises(ValueError, match="threshold must be a positive finite number"):
        reinitialize_if_stuck(model, [3.0] * 10, threshold=0)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"gate": "sometimes"}, "unknown gate 'sometimes'"),
        ({"omega": 0}, "omega must be a positive"),
        ({"eps": -1e-7}, "eps must be a positive"),
        ({"regularization_start": -1}, "regularization_start must be"),
        ({"threshold": float("inf")}, "threshold must be a positive finite"),
    ],
)
def test_inalu_rejects_bad_options(options, message):
    with pytest.raises(ValueError, match=message):
        INALU(2, 1, **options)


# --- NPU and RealNPU ---------------------------------------------------------------------------


def real_npu(*weights, g=None):
    unit = RealNPU(len(weights), 1, eps=EPS).double()
    return set_weights(unit, W_re=column(*weights), g=[1.0] * len(weights) if g is None else g)


@pytest.mark.parametrize(
    "weights, x, expected",
    [
        ((1, 1), (-2.0, 3.0), -6.0),
        ((1, 1), (-2.0, -3.0), 6.0),
        ((1, -1), (-6.0, 3.0), -2.0),
        ((1, -1), (-6.0, -3.0), 2.0),
        ((2,), (-3.0,), 9.0),  # powers beyond 1 in one layer
        ((-1,), (-4.0,), -0.25),
        ((0.5,), (9.0,), 3.0),
        ((0.5,), (-9.0,), 0.0),  # (-9)^(1/2) = 3i: its real part
        ((3, -2), (-2.0, 4.0), -0.5),
    ],
)
def test_real_npu_computes_powers_products_and_quotients_of_signed_inputs(weights, x, expected):
    assert real_npu(*weights)(rows(x)).item() == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_npu_is_the_real_part_of_a_complex_power():
    W_re, W_im = column(1.5, -0.5, 0.25), column(0.3, -0.7, 1.1)
    unit = set_weights(NPU(3, 1, eps=EPS).double(), W_re=W_re, W_im=W_im, g=[1.0, 1.0, 1.0])
    for x in [(2.0, 3.0, 0.5), (-2.0, 3.0, -0.5), (-1.0, -7.0, -4.0)]:
        expected = math.prod(complex(v) ** complex(a, b) for v, a, b in zip(x, W_re.flatten(), W_im.flatten()))
        assert unit(rows(x)).item() == pytest.approx(expected.real, rel=1e-9)
    assert cmath.isclose(complex(-8.0) ** (1 / 3), complex(1.0, math.sqrt(3.0)))  # the principal branch


def test_npu_relevance_gate_ignores_or_blends_an_input():
    unit = real_npu(1, -1, g=[1.0, 0.0])  # the second input is irrelevant: no division by it
    assert unit(rows((-5.0, 0.0), (-5.0, 123.0))).flatten().tolist() == pytest.approx([-5.0, -5.0], rel=1e-12)
    half = real_npu(2, g=[0.5])  # r = (|x| + 1) / 2, k = pi / 2: 1.5^2 * cos(pi) for x = -2
    assert half(rows((-2.0,))).item() == pytest.approx(-2.25, rel=1e-12)


def test_npu_clamps_the_gate_in_the_forward_pass_and_in_place():
    unit = real_npu(1, 1, g=[1.7, -0.2])
    assert unit(rows((-2.0, 100.0))).item() == pytest.approx(-2.0, rel=1e-12)  # g acts as (1, 0)
    unit.apply_constraints()
    assert unit.g.tolist() == [1.0, 0.0]


def test_npu_dividing_by_zero_gives_a_large_finite_value():
    unit = set_weights(RealNPU(2, 1), W_re=column(1.0, -1.0), g=[1.0, 1.0])
    y = unit(torch.tensor([[3.0, 0.0], [3.0, 1e-30], [0.0, 0.0]]))
    assert torch.isfinite(y).all()
    assert y[0].item() == pytest.approx(3.0 / 1e-7, rel=1e-5)


def test_npu_initialization_and_l1_regularizer():
    torch.manual_seed(0)
    unit = NPU(400, 300, l1=0.1)
    limit = math.sqrt(6.0 / 700)
    assert limit * 0.99 < unit.W_re.abs().max().item() <= limit
    assert torch.equal(unit.W_im, torch.zeros(400, 300)) and torch.equal(unit.g, torch.full((400,), 0.5))
    expected = 0.1 * (unit.W_re.abs().sum() + 0.5 * 400)
    assert unit.regularization_loss(0).item() == pytest.approx(expected.item(), rel=1e-6)
    assert unit.regularization_loss(10**7).item() == unit.regularization_loss(0).item()
    assert RealNPU(3, 2).regularization_loss(5).item() == 0.0  # off by default


@pytest.mark.parametrize("options, message", [({"eps": 0}, "eps must be"), ({"l1": -0.1}, "l1 must be a non-negative")])
def test_npu_rejects_bad_options(options, message):
    with pytest.raises(ValueError, match=message):
        NPU(2, 1, **options)


# --- NALU's input-independent gate -------------------------------------------------------------


def test_nalu_independent_gate_mixes_the_paths_by_a_learned_constant():
    unit = NALU(2, 1, gate="independent", eps=EPS).double()
    assert unit.G.shape == (1,) and unit.G.item() == 0.0  # g = 1/2 at the start
    set_weights(unit, W_hat=column(SAT, SAT), M_hat=column(SAT, SAT))
    x = rows((2.0, 3.0), (-2.0, 3.0))
    assert unit(x).flatten().tolist() == pytest.approx([0.5 * 5 + 0.5 * 6, 0.5 * 1 + 0.5 * 6], rel=1e-9)
    set_weights(unit, G=[-SAT])
    assert unit(x).flatten().tolist() == pytest.approx([6.0, 6.0], rel=1e-9)
    shown = repr(NALU(3, 2, gate="independent"))
    assert shown.endswith("shared_weights=True, max_exponent=None, gate='independent', init='kaiming')")


# --- Every configuration: gradients, finiteness, seeds ---------------------------------------

CONFIGURATIONS = [
    pytest.param(lambda: NALU(4, 3, gate="independent", shared_weights=False), id="nalu-independent"),
    pytest.param(lambda: INALU(4, 3, gate="input"), id="inalu-input"),
    pytest.param(lambda: set_weights(NPU(4, 3), W_im=0.3 * torch.randn(4, 3), g=[0.2, 0.5, 0.9, 0.95]), id="npu"),
    pytest.param(lambda: set_weights(RealNPU(4, 3), g=[0.2, 0.5, 0.9, 0.95]), id="realnpu"),
    pytest.param(lambda: set_weights(NMU(4, 3), W=torch.rand(4, 3)), id="nmu"),
]


@pytest.mark.parametrize("make", CONFIGURATIONS)
def test_float64_gradcheck_with_inputs_of_both_signs(make):
    torch.manual_seed(0)
    unit = make().double()
    x = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    params = tuple(unit.parameters())

    def f(x, *weights):
        return torch.func.functional_call(unit, dict(zip(dict(unit.named_parameters()), weights)), (x,))

    assert torch.autograd.gradcheck(f, (x, *params))


@pytest.mark.parametrize("make", CONFIGURATIONS)
@pytest.mark.parametrize("x", [torch.zeros(2, 4), torch.full((2, 4), -1e-30), torch.tensor([[0.0, -1e-20, 3.0, -2.0]])])
def test_finite_outputs_and_gradients_on_zeros_and_tiny_inputs(make, x):
    torch.manual_seed(0)
    unit = make()
    y = unit(x)
    assert torch.isfinite(y).all()
    y.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in unit.parameters())


def test_inalu_stays_finite_on_huge_inputs_where_nalu_overflows():
    torch.manual_seed(0)
    x = torch.full((3, 4), 1e30) * torch.tensor([1.0, -1.0, 1.0, 1.0])
    assert torch.isfinite(INALU(4, 3)(x)).all()
    plain = set_weights(NALU(4, 3), W_hat=torch.full((4, 3), SAT), M_hat=torch.full((4, 3), SAT), G=-torch.ones(4, 3))
    assert torch.isinf(plain(x.abs())).any()


@pytest.mark.parametrize(
    "formula, weights",
    [
        (lambda x, w: functional.nau(x, *w, ops=torch), [(4, 2)]),
        (lambda x, w: functional.nmu(x, *w, ops=torch), [(4, 2)]),
        (
            lambda x, w: functional.inalu(x, *w, gate_kind="independent", eps=1e-7, omega=20.0, ops=torch),
            [(4, 2)] * 4 + [(1, 2)],
        ),
        (lambda x, w: functional.npu(x, w[0], w[2], eps=1e-7, ops=torch, W_im=w[1]), [(4, 2), (4, 2), (1, 4)]),
    ],
    ids=["nau", "nmu", "inalu", "npu"],
)
def test_formulas_broadcast_a_leading_seed_axis(formula, weights):
    seeds = 3
    x = torch.randn(seeds, 5, 4, dtype=torch.float64)
    batched = [torch.rand(seeds, *shape, dtype=torch.float64) for shape in weights]
    y = formula(x, batched)
    assert y.shape == (seeds, 5, 2)
    for s in range(seeds):
        alone = [w[s].squeeze(0) if w.shape[1] == 1 else w[s] for w in batched]
        torch.testing.assert_close(y[s], formula(x[s], alone))


def test_every_successor_unit_is_registered():
    assert UNITS.names()[3:8] == ("nau", "nmu", "inalu", "npu", "realnpu")  # the units after 2020 follow
    assert [UNITS.get(n) for n in UNITS.names()[3:8]] == [NAU, NMU, INALU, NPU, RealNPU]


# --- Learning ------------------------------------------------------------------------------------


def fit(unit, target, low, high, seed, steps, lr=0.05):
    """Adam on fresh batches of x ~ U[low, high]^in, with the unit's training hooks."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(unit.parameters(), lr=lr)
    for step in range(1, steps + 1):
        x = torch.rand(64, unit.in_features, generator=generator) * (high - low) + low
        loss = (unit(x) - target(x)).pow(2).mean() + unit.regularization_loss(step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        unit.apply_constraints()
    return unit


def extrapolation_error(unit, target, magnitudes, signs=False):
    """max |unit(x) - target(x)| / max |target(x)| over 1,000 points with |x| in ``magnitudes``."""
    generator = torch.Generator().manual_seed(123)
    low, high = magnitudes
    x = torch.rand(1000, unit.in_features, generator=generator) * (high - low) + low
    if signs:
        x = x * torch.where(torch.rand(1000, unit.in_features, generator=generator) < 0.5, -1.0, 1.0)
    with torch.no_grad():
        return ((unit(x) - target(x)).abs().max() / target(x).abs().max()).item()


def test_nau_learns_a_minus_b_with_sparse_weights_and_extrapolates():
    torch.manual_seed(0)
    target = lambda x: x[:, :1] - x[:, 2:3]
    unit = fit(NAU(4, 1, lambda_start=500, lambda_end=1_000), target, 1.0, 2.0, seed=0, steps=1_500)
    torch.testing.assert_close(unit.weight, torch.tensor([[1.0], [0.0], [-1.0], [0.0]]), rtol=0, atol=1e-3)
    assert extrapolation_error(unit, target, (0.0, 100.0), signs=True) < 1e-3


def test_nmu_learns_a_times_b_from_negative_inputs_and_extrapolates():
    torch.manual_seed(0)
    target = lambda x: x[:, :1] * x[:, 1:2]
    unit = fit(NMU(3, 1, lambda_sparse=1.0, lambda_start=500, lambda_end=1_000), target, -2.0, 2.0, seed=0, steps=1_500)
    assert unit.W.flatten().tolist() == [1.0, 1.0, 0.0]  # clamped exactly onto the solution
    assert extrapolation_error(unit, target, (0.0, 10.0), signs=True) < 1e-6


@pytest.mark.parametrize("seed", [0, 1])
def test_real_npu_learns_a_divided_by_b_and_extrapolates_to_both_signs(seed):
    # Trained on positive inputs only; W = (1, -1) with g = 1 then divides inputs of either sign.
    torch.manual_seed(seed)
    target = lambda x: x[:, :1] / x[:, 1:2]
    unit = fit(RealNPU(2, 1), target, 0.5, 2.0, seed=seed, steps=1_500)
    torch.testing.assert_close(unit.W_re, torch.tensor([[1.0], [-1.0]]), rtol=0, atol=1e-4)
    torch.testing.assert_close(unit.g, torch.ones(2), rtol=0, atol=1e-4)
    assert extrapolation_error(unit, target, (0.2, 8.0), signs=True) < 1e-4

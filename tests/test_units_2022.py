"""The units published after 2020: NRU, NMRU, SignNMRU and the Real NPU's division recipe
(Mistry et al. 2021), sNMU (Mistry et al. 2022), MC-FC and MulMCFC (Hoedt et al. 2021).

Hand-worked golden numbers for each formula in training and evaluation, the switch between the
two (``train()``/``eval()`` in PyTorch, ``training=`` in Keras), the documented behaviour at
x = 0, the clamps, penalties and initializations, and PyTorch <-> Keras agreement in both modes.
The Keras side runs on the environment's backend (``KERAS_BACKEND``; torch when unset).
"""

import math

import numpy as np
import pytest
import torch

from nalm import functional
from nalm.torch import MCFC, NMRU, NRU, SNMU, MulMCFC, RealNPU, SignNMRU, TiedSignNMRU

EPS32 = functional.RECIPROCAL_EPS


def unit_with(cls, W=None, **options):
    """A float64 unit (in_features from W) with its weights set: W as a nested list (in, out), or
    MC-FC's weights by name in ``options`` (R, w_o, b_o, alpha)."""
    weights = {name: options.pop(name) for name in ("R", "w_o", "b_o", "alpha") if name in options}
    if W is not None:
        weights["W"] = W
    first = torch.as_tensor(weights.get("W", weights.get("R")), dtype=torch.float64)
    in_features = first.shape[0] // (2 if cls in (NMRU, SignNMRU) else 1)
    unit = cls(in_features, first.shape[1], **options).double()
    with torch.no_grad():
        for name, value in weights.items():
            getattr(unit, name).copy_(torch.as_tensor(value, dtype=torch.float64))
    return unit


def rows(*values):
    return torch.tensor(values, dtype=torch.float64)


def both_modes(unit, x):
    """(output in train() mode, output in eval() mode)."""
    trained = unit.train()(x)
    evaluated = unit.eval()(x)
    return trained, evaluated


# --- NRU --------------------------------------------------------------------------------------------


def test_nru_with_weights_one_and_minus_one_divides_in_both_modes():
    unit = unit_with(NRU, [[1.0], [-1.0]])
    x = rows((6.0, 3.0), (-6.0, 3.0), (6.0, -4.0), (1.5, 0.5))
    for y in both_modes(unit, x):  # tanh(1000)^2 and |±1| are both exactly 1
        assert y.flatten().tolist() == pytest.approx([2.0, -2.0, -1.5, 3.0], rel=1e-12)


def test_nru_gate_a_is_tanh_squared_in_training_and_abs_at_evaluation():
    # W = (0.5, 0), x = (4, 7): eval A(0.5) = 0.5 -> 4^0.5 * 0.5 + 0.5 = 1.5; train A = tanh(500)^2 = 1 -> 2.
    # W = 0 contributes 1 in both modes.
    unit = unit_with(NRU, [[0.5], [0.0]])
    trained, evaluated = both_modes(unit, rows((4.0, 7.0)))
    assert trained.item() == pytest.approx(2.0, rel=1e-12)
    assert evaluated.item() == pytest.approx(1.5, rel=1e-12)
    # a small weight: A(0.001) = tanh(1)^2 in training, 0.001 at evaluation
    unit = unit_with(NRU, [[0.001]])
    trained, evaluated = both_modes(unit, rows((9.0,)))
    a = math.tanh(1.0) ** 2
    assert trained.item() == pytest.approx(9.0**0.001 * a + 1 - a, rel=1e-12)
    assert evaluated.item() == pytest.approx(9.0**0.001 * 0.001 + 1 - 0.001, rel=1e-12)


def test_nru_forward_uses_the_raw_weight_and_apply_constraints_clips_it():
    unit = unit_with(NRU, [[2.0], [0.0]])
    x = rows((3.0, 5.0))
    trained, evaluated = both_modes(unit, x)
    assert evaluated.item() == pytest.approx(3.0**2 * 2 + 1 - 2)  # A(2) = |2| = 2: 17, the raw W
    assert trained.item() == pytest.approx(9.0)  # A(2) = tanh(2000)^2 = 1
    unit.apply_constraints()
    assert unit.W.flatten().tolist() == [1.0, 0.0]
    assert unit.eval()(x).item() == pytest.approx(3.0)


def test_nru_at_zero_with_a_negative_weight_is_nan_in_both_modes():
    # no eps: sign(0) * |0|^-1 = 0 * inf = NaN (documented); W >= 0 stays finite
    unit = unit_with(NRU, [[1.0], [-1.0]])
    for y in both_modes(unit, rows((6.0, 0.0))):
        assert torch.isnan(y).all()
    for y in both_modes(unit, rows((0.0, 2.0))):
        assert y.item() == 0.0


def test_nru_penalty_on_the_raw_weight_follows_the_division_schedule():
    unit = unit_with(NRU, [[0.25], [-0.75]])
    assert (unit.lambda_sparse, unit.lambda_start, unit.lambda_end) == (10.0, 20_000, 35_000)
    assert unit.regularization_loss(20_000).item() == 0.0
    assert unit.regularization_loss(27_500).item() == pytest.approx(5.0 * 0.25)
    assert unit.regularization_loss(35_000).item() == pytest.approx(10.0 * 0.25)
    assert NRU(2, 1, lambda_start=50_000, lambda_end=75_000).regularization_loss(35_000).item() == 0.0


def test_nru_initialization_is_the_naus():
    torch.manual_seed(0)
    unit = NRU(400, 300)
    r = functional.nau_init_limit(400, 300)
    assert 0.99 * r < unit.W.abs().max().item() <= r
    assert NRU(2, 1).W.abs().max().item() <= 0.5


# --- NMRU and SignNMRU ------------------------------------------------------------------------------


def test_nmru_selecting_x0_and_the_reciprocal_of_x1_divides():
    # rows of W: x0, x1, 1/x0, 1/x1
    unit = unit_with(NMRU, [[1.0], [0.0], [0.0], [1.0]])
    x = rows((6.0, 3.0), (-6.0, 3.0), (5.0, -0.5))
    trained, evaluated = both_modes(unit, x)
    assert evaluated.flatten().tolist() == pytest.approx([2.0, -2.0, -10.0], rel=1e-12)
    expected = [6.0 / (3.0 + EPS32), -6.0 / (3.0 + EPS32), 5.0 / (-0.5 + EPS32)]  # eps in training
    assert trained.flatten().tolist() == pytest.approx(expected, rel=1e-12)
    assert trained[2].item() != evaluated[2].item()


def test_nmru_half_weights_hand_value():
    # W = 0.5 everywhere, x = (2, 4): (0.5*2+0.5)(0.5*4+0.5)(0.5*0.5+0.5)(0.5*0.25+0.5) at evaluation
    unit = unit_with(NMRU, [[0.5]] * 4)
    trained, evaluated = both_modes(unit, rows((2.0, 4.0)))
    assert evaluated.item() == pytest.approx(1.5 * 2.5 * 0.75 * 0.625, rel=1e-12)
    expected = 1.5 * 2.5 * (0.5 / (2 + EPS32) + 0.5) * (0.5 / (4 + EPS32) + 0.5)
    assert trained.item() == pytest.approx(expected, rel=1e-12)


def test_nmru_at_zero_is_finite_in_training_and_inf_or_nan_at_evaluation():
    unit = unit_with(NMRU, [[1.0], [0.0], [0.0], [1.0]])
    trained, evaluated = both_modes(unit, rows((6.0, 0.0)))
    assert trained.item() == pytest.approx(6.0 / EPS32, rel=1e-12)  # 1/(0 + eps)
    assert evaluated.item() == math.inf  # 1/0 = inf
    # a zero in an input the weights ignore: its reciprocal's weight 0 times inf is NaN at evaluation
    ignoring = unit_with(NMRU, [[1.0], [0.0], [0.0], [0.0], [1.0], [0.0]])  # x0 / x1, x2 ignored
    trained, evaluated = both_modes(ignoring, rows((6.0, 3.0, 0.0)))
    assert trained.item() == pytest.approx(6.0 / (3.0 + EPS32), rel=1e-12)
    assert math.isnan(evaluated.item())


def test_nmru_clamps_to_0_1_in_the_forward_pass_and_in_place():
    unit = unit_with(NMRU, [[1.7], [0.0], [0.0], [-0.3]])
    assert unit.eval()(rows((6.0, 3.0))).item() == pytest.approx(6.0)  # W = (1, 0, 0, 0)
    unit.apply_constraints()
    assert unit.W.flatten().tolist() == [1.0, 0.0, 0.0, 0.0]
    torch.manual_seed(0)
    fresh = NMRU(3, 2)
    assert fresh.W.shape == (6, 2) and 0.25 <= fresh.W.min() and fresh.W.max() <= 0.75


def test_nmru_penalty_reads_the_clamped_weight():
    unit = unit_with(NMRU, [[0.25], [1.5], [0.0], [1.0]])  # clamped: 0.25, 1, 0, 1 -> mean 0.0625
    assert unit.regularization_loss(35_000).item() == pytest.approx(10 * 0.0625)
    assert unit.regularization_loss(0).item() == 0.0


@pytest.mark.parametrize(
    "x, expected",
    [((6.0, 3.0), 2.0), ((-6.0, 3.0), -2.0), ((6.0, -3.0), -2.0), ((-6.0, -3.0), 2.0)],
)
def test_sign_nmru_divides_inputs_of_any_sign(x, expected):
    unit = unit_with(SignNMRU, [[1.0], [0.0], [0.0], [1.0]])
    trained, evaluated = both_modes(unit, rows(x))
    assert evaluated.item() == pytest.approx(expected, rel=1e-12)
    # training: |x'| = 1/|x + eps|, whose sign is x's here
    assert trained.item() == pytest.approx(expected * 3.0 / abs(x[1] + EPS32), rel=1e-12)


def test_sign_nmru_cos_term_reads_the_unclamped_weight():
    # W for 1/x1 = 1.5: the magnitude clamps it to 1 (6 * 1/3 = 2), cos(pi * 1.5) = 0 does not
    unit = unit_with(SignNMRU, [[1.0], [0.0], [0.0], [1.5]])
    assert unit.eval()(rows((6.0, -3.0))).item() == pytest.approx(0.0, abs=1e-12)
    unit.apply_constraints()  # after the clip the two agree again
    assert unit.eval()(rows((6.0, -3.0))).item() == pytest.approx(-2.0, rel=1e-12)


def test_sign_nmru_at_zero_is_finite_in_training_and_inf_at_evaluation():
    unit = unit_with(SignNMRU, [[1.0], [0.0], [0.0], [1.0]])
    trained, evaluated = both_modes(unit, rows((6.0, 0.0), (6.0, -0.0)))
    assert torch.isfinite(trained).all()
    assert evaluated.flatten().tolist() == [math.inf, -math.inf]  # 1/(-0.0) = -inf is negative


# --- TiedSignNMRU (nalm) -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "x, expected",
    [((6.0, 3.0), 2.0), ((-6.0, 3.0), -2.0), ((6.0, -3.0), -2.0), ((-6.0, -3.0), 2.0)],
)
def test_tied_sign_nmru_with_weights_one_and_minus_one_divides(x, expected):
    unit = unit_with(TiedSignNMRU, [[1.0], [-1.0]])
    trained, evaluated = both_modes(unit, rows(x))
    assert evaluated.item() == pytest.approx(expected, rel=1e-12)
    assert trained.item() == pytest.approx(expected * 3.0 / abs(x[1] + EPS32), rel=1e-12)


def test_tied_sign_nmru_hand_values():
    # W = (0.5, -0.25), x = (2, 4): (1 + 0.5 (2 - 1)) (1 + 0.25 (1/4 - 1)) = 1.5 * 0.8125, no sign term
    unit = unit_with(TiedSignNMRU, [[0.5], [-0.25]])
    trained, evaluated = both_modes(unit, rows((2.0, 4.0)))
    assert evaluated.item() == pytest.approx(1.5 * 0.8125, rel=1e-12)
    assert trained.item() == pytest.approx(1.5 * (1 + 0.25 * (1 / (4 + EPS32) - 1)), rel=1e-12)
    # x = (-2, -4): the phase is pi (0.5 + 0.25), so the sign term is cos(0.75 pi)
    evaluated = unit.eval()(rows((-2.0, -4.0)))
    assert evaluated.item() == pytest.approx(1.5 * 0.8125 * math.cos(0.75 * math.pi), rel=1e-12)


def test_tied_sign_nmru_is_the_sign_nmru_over_the_weights_split_by_sign():
    torch.manual_seed(0)
    W = torch.rand(3, 2, dtype=torch.float64) * 2 - 1
    tied = unit_with(TiedSignNMRU, W.tolist())
    split = unit_with(SignNMRU, torch.cat([W.clamp(min=0), (-W).clamp(min=0)]).tolist())
    x = torch.randn(7, 3, dtype=torch.float64)
    for mode in ("train", "eval"):
        getattr(tied, mode)(), getattr(split, mode)()
        assert torch.equal(tied(x), split(x))


def test_tied_sign_nmru_clamps_to_minus_one_one_and_penalizes_the_clamped_weight():
    unit = unit_with(TiedSignNMRU, [[1.5], [-1.7]])
    assert unit.eval()(rows((6.0, 3.0))).item() == pytest.approx(2.0, rel=1e-12)  # W = (1, -1)
    unit.apply_constraints()
    assert unit.W.flatten().tolist() == [1.0, -1.0]
    penalized = unit_with(TiedSignNMRU, [[0.25], [-1.5]])  # clamped: 0.25, -1 -> mean(0.25, 0) = 0.125
    assert penalized.regularization_loss(35_000).item() == pytest.approx(10 * 0.125)
    torch.manual_seed(0)
    fresh = TiedSignNMRU(10, 1)
    assert fresh.W.shape == (10, 1) and -0.5 <= fresh.W.min() < 0 < fresh.W.max() <= 0.5


@pytest.mark.parametrize("cls", [NRU, NMRU, SignNMRU, TiedSignNMRU, SNMU])
def test_float64_gradcheck_at_evaluation(cls):
    # the contract tests check train() mode; here eval(), inputs of both signs away from 0
    torch.manual_seed(0)
    unit = cls(3, 2).double().eval()
    x = torch.randn(5, 3, dtype=torch.float64)
    x = (x + x.sign() * 0.5).requires_grad_()
    params = tuple(unit.parameters())

    def f(x, *weights):
        return torch.func.functional_call(unit, dict(zip(dict(unit.named_parameters()), weights)), (x,))

    assert torch.autograd.gradcheck(f, (x, *params))


# --- sNMU --------------------------------------------------------------------------------------------


def test_snmu_constant_noise_hand_values():
    # noise_range (2, 2): n = 2. W = 0.5, x = 3: train (0.5*6 + 0.5) / (0.5*2 + 0.5) = 3.5 / 1.5;
    # eval: the NMU, 0.5*3 + 0.5 = 2
    unit = unit_with(SNMU, [[0.5]], noise_range=(2.0, 2.0))
    trained, evaluated = both_modes(unit, rows((3.0,)))
    assert trained.item() == pytest.approx(3.5 / 1.5, rel=1e-12)
    assert evaluated.item() == pytest.approx(2.0, rel=1e-12)


def test_snmu_with_weights_in_0_1_gives_the_nmus_product_even_with_noise():
    unit = unit_with(SNMU, [[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    x = rows((2.0, -3.0, 7.0), (0.5, 4.0, -1.0))
    expected = rows((-6.0, -3.0), (2.0, 4.0))
    torch.manual_seed(0)
    for y in (unit.train()(x), unit.train()(x), unit.eval()(x)):
        torch.testing.assert_close(y, expected, rtol=1e-12, atol=0)


def test_snmu_noise_is_fresh_each_call_repeatable_with_a_seed_and_in_the_inputs_dtype():
    unit = unit_with(SNMU, [[0.5, 0.3], [0.7, 0.9]])
    x = rows((2.0, 3.0), (1.5, -2.0))
    first, second = unit(x), unit(x)  # train() mode, the default
    assert not torch.equal(first, second)
    torch.manual_seed(5)
    a = unit(x)
    torch.manual_seed(5)
    assert torch.equal(a, unit(x)) and a.dtype == torch.float64
    # every output lies between the products of the noise's extremes (a ratio of NMUs with n in [1, 5])
    assert torch.isfinite(first).all()
    assert torch.equal(unit.eval()(x), unit.eval()(x))


def test_snmu_is_the_nmu_otherwise():
    unit = SNMU(3, 2)
    assert (unit.lambda_sparse, unit.lambda_start, unit.lambda_end) == (10.0, 1_000_000, 2_000_000)
    assert unit.noise_range == (1.0, 5.0) and unit.weight_range == (0.0, 1.0)
    assert SNMU(3, 2, noise_range=[1, 2]).noise_range == (1.0, 2.0)
    assert "noise_range=(1.0, 5.0)" in repr(unit)


@pytest.mark.parametrize("value", [(0.0, 1.0), (3.0, 2.0), (1.0,), "wide", (1.0, math.inf)])
def test_snmu_rejects_bad_noise_ranges(value):
    with pytest.raises(ValueError, match="noise_range"):
        SNMU(2, 1, noise_range=value)


# --- MC-FC and MulMCFC -------------------------------------------------------------------------------


def test_mcfc_with_one_output_is_the_kept_share_of_the_sum():
    unit = unit_with(MCFC, R=[[0.3], [-2.0], [5.0]], w_o=[0.3], b_o=[-0.1])
    x = rows((1.0, 2.0, 3.0), (-4.0, 0.5, 0.0))
    sigmoid = 1 / (1 + math.exp(-0.2))
    assert unit(x).flatten().tolist() == pytest.approx([sigmoid * 6.0, sigmoid * -3.5], rel=1e-12)


def test_mcfc_splits_each_input_by_the_softmax_over_the_outputs():
    # R rows (0, log 3): input 0 goes 1/4 to output 0, 3/4 to output 1; o = sigmoid(0) = 1/2
    unit = unit_with(MCFC, R=[[0.0, math.log(3.0)], [0.0, 0.0]], w_o=[0.0, 0.0], b_o=[0.0, 0.0])
    y = unit(rows((8.0, 2.0)))
    assert y.flatten().tolist() == pytest.approx([0.5 * (2.0 + 1.0), 0.5 * (6.0 + 1.0)], rel=1e-12)


def test_mcfc_initialization_and_its_unbounded_penalty():
    torch.manual_seed(0)
    square = MCFC(3, 3)
    assert torch.equal(square.R, torch.eye(3))
    assert square.w_o.norm().item() == pytest.approx(1.0, rel=1e-6)
    assert torch.equal(square.b_o, torch.zeros(3))
    wide = MCFC(4, 3)
    torch.testing.assert_close(wide.R.T @ wide.R, torch.eye(3), rtol=0, atol=1e-5)  # orthonormal columns
    # -10 ramp(20k, 35k) (mean R^2 + mean w_o^2 + mean b_o^2)
    unit = unit_with(MCFC, R=[[1.0, 2.0], [0.0, 1.0]], w_o=[2.0, 0.0], b_o=[1.0, 1.0])
    assert unit.regularization_loss(20_000).item() == 0.0
    assert unit.regularization_loss(35_000).item() == pytest.approx(-10 * (1.5 + 2.0 + 1.0))
    with torch.no_grad():
        unit.R.mul_(10.0)
    assert unit.regularization_loss(35_000).item() == pytest.approx(-10 * (150.0 + 2.0 + 1.0))  # no floor
    assert unit.apply_constraints() is None and unit.R.max().item() == 20.0  # no clamps


def test_mul_mcfc_multiplies_powers_of_positive_inputs():
    # o = sigmoid(0) = 1/2, one output: exp(0.5 (log 2 + log 8) + alpha) = 4 e^alpha
    unit = unit_with(MulMCFC, R=[[0.0], [0.0]], w_o=[0.0], b_o=[0.0], alpha=[math.log(3.0)])
    assert unit(rows((2.0, 8.0))).item() == pytest.approx(12.0, rel=1e-12)
    assert math.isnan(unit(rows((-2.0, 8.0))).item())  # log of a negative input (documented)
    assert unit(rows((0.0, 8.0))).item() == 0.0
    assert MulMCFC(2, 3).alpha.tolist() == [0.0, 0.0, 0.0]


def test_mul_mcfc_inalu_sign_hand_values():
    # Two outputs, S = softmax(R) by row: R = [[ln 3, 0], [0, 0]] gives S = [[3/4, 1/4], [1/2, 1/2]].
    # x = (-2, 4): s_0 = (-1 * 3/4 + 1/4) (1 * 1/2 + 1/2) = -1/2, s_1 = (-1/4 + 3/4) * 1 = 1/2.
    # magnitude_o = exp(o (|x| S)_log) with o = sigmoid(0) = 1/2: exp(0.5 (3/4 ln 2 + 1/2 ln 4)) = 2^(7/8),
    # and exp(0.5 (1/4 ln 2 + 1/2 ln 4)) = 2^(5/8).
    unit = unit_with(
        MulMCFC, R=[[math.log(3.0), 0.0], [0.0, 0.0]], w_o=[0.0, 0.0], b_o=[0.0, 0.0], alpha=[0.0, 0.0], sign="inalu"
    )
    y = unit(rows((-2.0, 4.0)))[0].tolist()
    assert y == pytest.approx([-0.5 * 2 ** (7 / 8), 0.5 * 2 ** (5 / 8)], rel=1e-12)


def test_mul_mcfc_npu_sign_hand_values_and_its_gate():
    # One output (S = 1): y = exp(1/2 (ln 2 + ln 8)) cos(pi (g'_0 [x0 < 0] + g'_1 [x1 < 0])) = 4 cos(...).
    unit = unit_with(MulMCFC, R=[[0.0], [0.0]], w_o=[0.0], b_o=[0.0], alpha=[0.0], sign="npu")
    assert [name for name, _ in unit.named_parameters()] == ["R", "w_o", "b_o", "alpha", "g"]
    assert unit.g.tolist() == [0.5, 0.5]
    with torch.no_grad():
        unit.g.copy_(rows(1.0, 1.7))  # clipped to 1 in the forward pass only
    assert unit(rows((-2.0, 8.0))).item() == pytest.approx(-4.0, rel=1e-12)
    assert unit(rows((-2.0, -8.0))).item() == pytest.approx(4.0, rel=1e-12)
    unit.apply_constraints()
    assert unit.g.tolist() == [1.0, 1.7]
    # the gate's penalty mean(min(|g|, |1 - g|)) = (0 + 0.7) / 2 on the ramp at strength 1
    plain = unit_with(MulMCFC, R=[[0.0], [0.0]], w_o=[0.0], b_o=[0.0], alpha=[0.0])
    at = 27_500  # half way up the ramp: lambda = 5, the gate's strength 1/2
    extra = unit.regularization_loss(at).item() - plain.regularization_loss(at).item()
    assert extra == pytest.approx(0.5 * 0.35, rel=1e-9)
    assert unit.regularization_loss(0).item() == 0.0


@pytest.mark.parametrize("sign", ["inalu", "npu"])
def test_mul_mcfc_signs_float64_gradcheck(sign):
    torch.manual_seed(0)
    unit = MulMCFC(3, 2, sign=sign).double()
    x = torch.tensor([[1.5, -0.7, 2.0], [-1.2, -0.4, 0.9]], dtype=torch.float64, requires_grad=True)
    params = tuple(unit.parameters())
    names = [name for name, _ in unit.named_parameters()]

    def output(x, *weights):
        w = dict(zip(names, weights))
        return functional.mul_mcfc(x, w["R"], w["w_o"], w["b_o"], w["alpha"], ops=torch, sign=sign, g=w.get("g"))

    inputs = (x, *(p.detach().clone().requires_grad_() for p in params))
    assert torch.autograd.gradcheck(output, inputs)


@pytest.mark.parametrize("cls", [MCFC, MulMCFC])
def test_mcfc_is_the_same_in_both_modes(cls):
    torch.manual_seed(0)
    unit = cls(3, 2)
    x = torch.rand(4, 3) + 0.5
    trained, evaluated = both_modes(unit, x)
    assert torch.equal(trained, evaluated)


# --- The Real NPU's division recipe -------------------------------------------------------------------

RECIPE = {
    "weight_init": "nau_uniform",
    "weight_range": (-1.0, 1.0),
    "l1": 1e-7,
    "l1_initial": 1e-9,
    "l1_growth": 10_000,
    "lambda_sparse": 1.0,
    "lambda_start": 40_000,
    "lambda_end": 50_000,
}
"""The modified Real NPU of the division paper at two inputs."""


@pytest.mark.parametrize(
    ("step", "beta"), [(0, 1e-9), (9_999, 1e-9), (10_000, 1e-8), (19_999, 1e-8), (20_000, 1e-7), (90_000, 1e-7)]
)
def test_growing_l1_is_tenfold_every_growth_steps_up_to_l1(step, beta):
    assert functional.growing_l1(step, 1e-7, 1e-9, 10_000) == pytest.approx(beta, rel=1e-12)
    tensor_step = torch.tensor(float(step), dtype=torch.float64)
    assert functional.growing_l1(tensor_step, 1e-7, 1e-9, 10_000, ops=torch).item() == pytest.approx(beta, rel=1e-12)
    assert functional.growing_l1(step, 1e-7, None, 0) == 1e-7  # no growth: l1 throughout


def test_npu_discretization_penalty_hand_values():
    # W = (0.25, -1.5): |1 - 0.25| = 0.75, |1 - 1.5| = 0.5, mean 0.625; g = (0.25, 0.9, 1.0):
    # min(0.25, 0.75) = 0.25, min(0.9, 0.1) = 0.1, 0 -> mean 0.35/3.
    W, g = rows((0.25,), (-1.5,)), rows(0.25, 0.9, 1.0)
    value = functional.npu_discretization_penalty(W, g, ops=torch).item()
    assert value == pytest.approx(0.625 + 0.35 / 3, rel=1e-12)


def test_real_npu_recipe_penalty_is_growing_l1_plus_the_ramped_discretization():
    unit = RealNPU(2, 1, **RECIPE).double()
    with torch.no_grad():
        unit.W_re.copy_(rows((0.25,), (-0.5,)))
        unit.g.copy_(rows(0.5, 0.9))
    l1 = 0.25 + 0.5 + 0.5 + 0.9
    discretization = (0.75 + 0.5) / 2 + (0.5 + 0.1) / 2
    assert unit.regularization_loss(0).item() == pytest.approx(1e-9 * l1, rel=1e-9)
    assert unit.regularization_loss(45_000).item() == pytest.approx(1e-7 * l1 + 0.5 * discretization, rel=1e-9)
    assert RealNPU(2, 1).regularization_loss(45_000).item() == 0.0  # the NPU paper's unit: no penalty


def test_real_npu_recipe_clips_w_and_g_and_starts_w_within_a_half():
    torch.manual_seed(0)
    unit = RealNPU(10, 1, **RECIPE)
    assert unit.W_re.abs().max().item() <= 0.5  # U[-r, r], r = min(0.5, sqrt(3) sqrt(2 / 11)) = 0.5
    assert unit.W_re.abs().max().item() > 0.3
    with torch.no_grad():
        unit.W_re.fill_(3.0), unit.g.fill_(-2.0)
    unit.apply_constraints()
    assert unit.W_re.unique().tolist() == [1.0] and unit.g.unique().tolist() == [0.0]
    plain = RealNPU(10, 1)
    with torch.no_grad():
        plain.W_re.fill_(3.0)
    plain.apply_constraints()
    assert plain.W_re.unique().tolist() == [3.0]  # the NPU paper's unit clips only g
    free = RealNPU(10, 1, clip_gate=False)  # the division paper's baseline: g clipped in the forward pass only
    with torch.no_grad():
        free.g.fill_(1.5)
    free.apply_constraints()
    assert free.g.unique().tolist() == [1.5]
    x = torch.rand(3, 10) - 0.5
    clipped = RealNPU(10, 1)
    with torch.no_grad():
        clipped.W_re.copy_(free.W_re), clipped.g.fill_(1.0)
    assert torch.equal(free(x), clipped(x))  # the forward pass reads g clipped to [0, 1]


@pytest.mark.parametrize("value", [(1.0, -1.0), (0.0,), "wide", (0.0, math.nan)])
def test_real_npu_rejects_bad_weight_ranges(value):
    with pytest.raises(ValueError, match="weight_range"):
        RealNPU(2, 1, weight_range=value)


def test_real_npu_recipe_penalty_float64_gradcheck():
    torch.manual_seed(0)
    unit = RealNPU(3, 2, **RECIPE).double()
    with torch.no_grad():
        unit.W_re.copy_(torch.tensor([[0.3, -0.7], [0.2, 0.6], [-0.4, 0.1]], dtype=torch.float64))
        unit.g.copy_(torch.tensor([0.2, 0.7, 0.4], dtype=torch.float64))

    def penalty(W, g):
        return functional.npu_discretization_penalty(W, g, ops=torch) + 1e-3 * functional.l1_norm([W, g], ops=torch)

    assert torch.autograd.gradcheck(penalty, (unit.W_re.detach().requires_grad_(), unit.g.detach().requires_grad_()))


# --- Keras: the same units, the same numbers ---------------------------------------------------------

keras = pytest.importorskip("keras")

import nalm.keras  # noqa: E402
import nalm.torch  # noqa: E402

NEW = ("nru", "nmru", "sign_nmru", "tied_sign_nmru", "snmu", "mcfc", "mul_mcfc")
SIGNED = {"mul_mcfc_inalu": ("mul_mcfc", {"sign": "inalu"}), "mul_mcfc_npu": ("mul_mcfc", {"sign": "npu"})}
"""MulMCFC's sign-retrieving forms, by a name for the test ids: (unit, options)."""


def paired(name, **options):
    """A float32 torch unit 3 -> 2 and a Keras layer with the same weights (snmu: constant noise)."""
    if name == "snmu":
        options.setdefault("noise_range", (2.0, 2.0))
    torch.manual_seed(0)
    module = nalm.torch.UNITS.get(name)(3, 2, **options)
    layer = nalm.keras.UNITS.get(name)(2, input_dim=3, **options)
    for weight in layer.trainable_weights:
        weight.assign(getattr(module, weight.name).detach().numpy())
    return module, layer


def sample(name, rows=6):
    x = np.random.default_rng(0).uniform(0.5, 2.0, size=(rows, 3)).astype("float32")
    return x if name == "mul_mcfc" else x * np.array([1.0, -1.0, 1.0], dtype="float32")


@pytest.mark.parametrize("name", NEW)
def test_torch_and_keras_agree_in_training_and_at_evaluation(name):
    module, layer = paired(name)
    x = sample(name)
    with torch.no_grad():
        trained = module.train()(torch.from_numpy(x)).numpy()
        evaluated = module.eval()(torch.from_numpy(x)).numpy()
    tolerance = {"rtol": 1e-5, "atol": 1e-6}
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x, training=True)), trained, **tolerance)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), evaluated, **tolerance)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x, training=False)), evaluated, **tolerance)
    if name in ("nru", "snmu"):  # the NMRUs' eps changes these outputs by less than the tolerance
        assert not np.allclose(trained, evaluated)  # the modes do differ on these weights


def test_keras_real_npu_recipe_agrees_on_outputs_penalties_and_clamps():
    module, layer = paired("realnpu", **RECIPE)
    x = sample("realnpu")
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), expected, rtol=1e-5, atol=1e-6)
    for step in (0, 10_000, 45_000, 60_000):
        keras_penalty = float(keras.ops.convert_to_numpy(layer.regularization_loss(step)))
        assert keras_penalty == pytest.approx(module.regularization_loss(step).item(), rel=1e-5)
    layer.W_re.assign(np.full((3, 2), 3.0, dtype="float32"))
    layer.apply_constraints()
    assert keras.ops.convert_to_numpy(layer.W_re).max() == 1.0
    free = nalm.keras.RealNPU(2, input_dim=3, clip_gate=False)
    free(x)
    free.g.assign(np.full((3,), 1.5, dtype="float32"))
    free.apply_constraints()
    assert keras.ops.convert_to_numpy(free.g).tolist() == [1.5, 1.5, 1.5]


@pytest.mark.parametrize("form", SIGNED)
def test_keras_mul_mcfc_signs_agree_on_outputs_and_penalties(form, tmp_path):
    name, options = SIGNED[form]
    module, layer = paired(name, **options)
    x = sample(name) * np.array([1.0, -1.0, 1.0], dtype="float32")  # a negative input
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    assert np.isfinite(expected).all()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), expected, rtol=1e-5, atol=1e-6)
    for step in (0, 27_500, 40_000):
        keras_penalty = float(keras.ops.convert_to_numpy(layer.regularization_loss(step)))
        assert keras_penalty == pytest.approx(module.regularization_loss(step).item(), rel=1e-5)
    model = keras.Sequential([layer])
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.layers[0].get_config()["sign"] == options["sign"]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_keras_training_argument_switches_the_nru_gate():
    layer = nalm.keras.NRU(1, input_dim=2)
    layer.W.assign(np.array([[0.5], [0.0]], dtype="float32"))
    x = np.array([[4.0, 7.0]], dtype="float32")
    assert float(keras.ops.convert_to_numpy(layer(x))[0, 0]) == pytest.approx(1.5)
    assert float(keras.ops.convert_to_numpy(layer(x, training=True))[0, 0]) == pytest.approx(2.0)


def test_keras_nmru_at_zero_is_inf_at_evaluation_and_finite_in_training():
    layer = nalm.keras.NMRU(1, input_dim=2)
    layer.W.assign(np.array([[1.0], [0.0], [0.0], [1.0]], dtype="float32"))
    x = np.array([[6.0, 0.0]], dtype="float32")
    assert np.isinf(keras.ops.convert_to_numpy(layer(x))).all()
    assert float(keras.ops.convert_to_numpy(layer(x, training=True))[0, 0]) == pytest.approx(6.0 / EPS32, rel=1e-5)


def test_keras_snmu_noise_comes_from_the_layers_seed_generator():
    layer = nalm.keras.SNMU(2, input_dim=3)
    assert isinstance(layer.seed_generator, keras.random.SeedGenerator)
    assert [w.name for w in layer.weights] == ["W", "step"]  # the seed state is a variable, not a weight
    x = sample("snmu")
    first = keras.ops.convert_to_numpy(layer(x, training=True))
    second = keras.ops.convert_to_numpy(layer(x, training=True))
    assert np.isfinite(first).all() and not np.allclose(first, second)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)), keras.ops.convert_to_numpy(layer(x)))
    layer.W.assign(np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]], dtype="float32"))  # noise cancels
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x, training=True)),
        x[:, :1] * x[:, 1:2] * [[1.0, 0.0]] + [[0.0, 1.0]] * x[:, 1:2] * x[:, 2:],
        rtol=1e-5,
    )


@pytest.mark.parametrize("name", NEW)
def test_keras_config_and_save_load_keep_options_weights_and_predictions(name, tmp_path):
    options = {"noise_range": (1.5, 3.0)} if name == "snmu" else {"lambda_start": 10, "lambda_end": 20}
    layer = nalm.keras.UNITS.get(name)(2, input_dim=3, **options)
    config = layer.get_config()
    assert {k: config[k] for k in options} == options
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    model = keras.Sequential([layer])
    model.compile(keras.optimizers.SGD(0.01), "mse")
    x = sample(name)
    model.fit(x, np.ones((6, 2), dtype="float32"), epochs=1, batch_size=3, verbose=0)  # the training formula
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    copy = loaded.layers[0]
    assert copy.get_config() == layer.get_config()
    assert int(keras.ops.convert_to_numpy(copy.step)) == 2  # two batches
    for weight in layer.trainable_weights:
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(getattr(copy, weight.name)), keras.ops.convert_to_numpy(weight)
        )


@pytest.mark.parametrize("name", NEW)
def test_torch_state_dict_round_trip_keeps_both_modes(name):
    torch.manual_seed(0)
    unit = nalm.torch.UNITS.get(name)(3, 2)
    other = nalm.torch.UNITS.get(name)(3, 2)
    other.load_state_dict(unit.state_dict())
    x = torch.from_numpy(sample(name))
    for mode in (True, False):
        unit.train(mode), other.train(mode)
        torch.manual_seed(1)
        a = unit(x)
        torch.manual_seed(1)
        assert torch.equal(a, other(x))


def test_keras_mcfc_initialization():
    square = nalm.keras.MCFC(3, input_dim=3)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(square.R), np.eye(3))
    assert np.linalg.norm(keras.ops.convert_to_numpy(square.w_o)) == pytest.approx(1.0, rel=1e-5)
    wide = keras.ops.convert_to_numpy(nalm.keras.MCFC(3, input_dim=4).R)
    np.testing.assert_allclose(wide.T @ wide, np.eye(3), atol=1e-5)

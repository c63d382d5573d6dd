"""The formulas of nalm.functional against values worked out by hand."""

import math

import pytest
import torch

from nalm import functional

SAT = 20.0  # tanh(20) and sigmoid(20) are 1 to within float64's 4e-9


def test_nac_weight_saturates_to_minus_one_zero_and_one():
    W_hat = torch.tensor([[SAT, -SAT, SAT]], dtype=torch.float64)
    M_hat = torch.tensor([[SAT, SAT, -SAT]], dtype=torch.float64)
    W = functional.nac_weight(W_hat, M_hat, ops=torch)
    torch.testing.assert_close(W, torch.tensor([[1.0, -1.0, 0.0]], dtype=torch.float64), rtol=0, atol=1e-8)


def test_nac_weight_at_zero_is_zero_and_at_one_matches_hand_value():
    zero = functional.nac_weight(torch.zeros(1, 1), torch.zeros(1, 1), ops=torch)
    assert zero.item() == 0.0
    one = functional.nac_weight(torch.ones(1, 1, dtype=torch.float64), torch.ones(1, 1, dtype=torch.float64), ops=torch)
    assert one.item() == pytest.approx(math.tanh(1.0) / (1.0 + math.exp(-1.0)), rel=1e-12)


def test_nac_computes_a_minus_b():
    W_hat = torch.tensor([[SAT], [-SAT]], dtype=torch.float64)
    M_hat = torch.full((2, 1), SAT, dtype=torch.float64)
    x = torch.tensor([[7.0, 3.0], [-1.5, 2.0]], dtype=torch.float64)
    assert functional.nac(x, W_hat, M_hat, ops=torch).flatten().tolist() == pytest.approx([4.0, -3.5], abs=1e-6)


def test_nalu_hand_worked_value_with_open_gate():
    # W = tanh(1) * sigmoid(1) everywhere, G = 0 so g = 1/2.
    x = torch.tensor([[2.0, 3.0]], dtype=torch.float64)
    ones = torch.ones(2, 1, dtype=torch.float64)
    w = math.tanh(1.0) / (1.0 + math.exp(-1.0))
    eps = 1e-7
    additive = 5.0 * w
    multiplicative = math.exp(w * (math.log(2.0 + eps) + math.log(3.0 + eps)))
    y = functional.nalu(x, ones, ones, torch.zeros(2, 1, dtype=torch.float64), eps=eps, ops=torch)
    assert y.item() == pytest.approx(0.5 * additive + 0.5 * multiplicative, rel=1e-12)


def test_nalu_gate_selects_multiplication_and_division():
    x = torch.tensor([[6.0, 3.0]], dtype=torch.float64)
    M_hat = torch.full((2, 1), SAT, dtype=torch.float64)
    closed_gate = torch.full((2, 1), -SAT, dtype=torch.float64)  # g = sigmoid(-180) ~ 0
    product = functional.nalu(x, torch.full((2, 1), SAT, dtype=torch.float64), M_hat, closed_gate, eps=1e-12, ops=torch)
    quotient = functional.nalu(
        x, torch.tensor([[SAT], [-SAT]], dtype=torch.float64), M_hat, closed_gate, eps=1e-12, ops=torch
    )
    assert product.item() == pytest.approx(18.0, rel=1e-6)
    assert quotient.item() == pytest.approx(2.0, rel=1e-6)


def test_nalu_separate_multiplicative_weights_are_used_only_in_log_space():
    x = torch.tensor([[6.0, 3.0]], dtype=torch.float64)
    sat = torch.full((2, 1), SAT, dtype=torch.float64)
    add_W_hat = torch.full((2, 1), SAT, dtype=torch.float64)  # additive path: 6 + 3
    mul_W_hat = torch.tensor([[SAT], [-SAT]], dtype=torch.float64)  # multiplicative path: 6 / 3
    half_gate = torch.zeros(2, 1, dtype=torch.float64)
    y = functional.nalu(x, add_W_hat, sat, half_gate, eps=1e-12, ops=torch, W_hat_mul=mul_W_hat, M_hat_mul=sat)
    assert y.item() == pytest.approx(0.5 * 9.0 + 0.5 * 2.0, rel=1e-6)


def test_max_exponent_caps_the_multiplicative_path():
    x = torch.tensor([[1e30, 1e30]])
    sat = torch.full((2, 1), SAT)
    closed_gate = torch.full((2, 1), -SAT)
    assert torch.isinf(functional.nalu(x, sat, sat, closed_gate, eps=1e-7, ops=torch)).all()
    capped = functional.nalu(x, sat, sat, closed_gate, eps=1e-7, ops=torch, max_exponent=20.0)
    assert capped.item() == pytest.approx(math.exp(20.0), rel=1e-5)


def test_weights_with_a_seed_axis_broadcast():
    seeds, batch, n_in, n_out = 3, 5, 4, 2
    x = torch.randn(seeds, batch, n_in, dtype=torch.float64)
    W_hat, M_hat, G = (torch.randn(seeds, n_in, n_out, dtype=torch.float64) for _ in range(3))
    batched = functional.nalu(x, W_hat, M_hat, G, eps=1e-7, ops=torch)
    assert batched.shape == (seeds, batch, n_out)
    for s in range(seeds):
        alone = functional.nalu(x[s], W_hat[s], M_hat[s], G[s], eps=1e-7, ops=torch)
        torch.testing.assert_close(batched[s], alone)


# --- NAC's "glorot_w" initialization ------------------------------------------------------------


@pytest.mark.parametrize("fan_in, fan_out", [(100, 2), (2, 1), (1, 1), (400, 300)])
def test_nac_init_limit_gives_w_glorots_variance(fan_in, fan_out):
    r = functional.nac_init_limit(fan_in, fan_out)
    target = 2.0 / max(fan_in + fan_out, 5)  # fans below 5 count as 5: 2 -> 1 and 1 -> 1 share r
    assert functional.nac_weight_variance(r) == pytest.approx(target, rel=1e-12)
    # the closed form against W = tanh(W_hat) sigmoid(M_hat) drawn in float64
    generator = torch.Generator().manual_seed(0)
    n = 2_000_000
    W_hat, M_hat = (torch.empty(n, dtype=torch.float64).uniform_(-r, r, generator=generator) for _ in range(2))
    W = functional.nac_weight(W_hat, M_hat, ops=torch)
    standard_error = W.pow(2).std().item() / math.sqrt(n)
    assert abs(W.var().item() - target) < 4 * standard_error
    assert abs(W.mean().item()) < 4 * W.std().item() / math.sqrt(n)


def test_nac_weight_variance_rises_from_zero():
    values = [functional.nac_weight_variance(r) for r in (0.0, 0.1, 1.0, 5.0, 10.0)]
    assert values[0] == 0.0
    assert values == sorted(values)
    assert values[-1] < 0.5


# --- the sparsity penalty against the reference's ------------------------------------------------

PENALTY_POINTS = [-1.0, -0.5, 0.0, 0.3, 0.5, 0.7, 1.0]
"""Weights where the penalty's gradient has its special cases: the bounds +-1 (where a clamped
weight sits), the ties +-1/2, 0, and one point inside each branch."""


def reference_penalty(W):
    """Madsen & Johansen's code (stable-nalu, ``_nac_bias_linear``): mean(min(|W|, |1 - |W||))."""
    W_abs = torch.abs(W)
    return torch.mean(torch.min(W_abs, torch.abs(1 - W_abs)))


def penalty_and_gradient(penalty, values):
    W = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    value = penalty(W)
    return value.detach(), torch.autograd.grad(value, W)[0]


def test_sparsity_penalty_and_its_gradient_equal_the_references_in_float64():
    value, gradient = penalty_and_gradient(lambda W: functional.sparsity_penalty(W, ops=torch), PENALTY_POINTS)
    expected_value, expected_gradient = penalty_and_gradient(reference_penalty, PENALTY_POINTS)
    assert value.item() == expected_value.item()
    assert torch.equal(gradient, expected_gradient)
    # 0 on the bounds, at 0 and at the ties 1/2 (torch.min splits a tie in halves, which cancel)
    n = len(PENALTY_POINTS)
    assert gradient.tolist() == [0.0, 0.0, 0.0, 1 / n, 0.0, -1 / n, 0.0]


def test_sparsity_penalty_with_a_seed_axis_sums_the_seeds_penalties_and_gradients():
    W = torch.tensor(PENALTY_POINTS, dtype=torch.float64).reshape(1, 7, 1).repeat(3, 1, 1).requires_grad_()
    value = functional.sparsity_penalty(W, ops=torch)
    _, expected_gradient = penalty_and_gradient(reference_penalty, PENALTY_POINTS)
    assert value.item() == pytest.approx(3 * reference_penalty(W[0]).item(), rel=1e-15)
    assert torch.equal(torch.autograd.grad(value, W)[0], expected_gradient.reshape(1, 7, 1).expand(3, 7, 1))

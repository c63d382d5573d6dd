"""The published static models: layer pairs, schedules, initializations, baselines, sparsity error."""

import math

import pytest
import torch

from nalm.bench.engine import stack_seeds
from nalm.bench.models import ACTIVATIONS, MODELS, Dense, build_published_model
from nalm.bench.models.sparsity import sparsity_error
from nalm.functional import NAU_SCHEDULE, NMU_SCHEDULE, nac_init_limit, sparsity_penalty
from nalm.torch import UNITS


def test_sparsity_error_is_the_worst_distance_to_minus_one_zero_or_one():
    W1 = torch.tensor([[1.0, 0.0], [-1.0, 0.1]])
    W2 = torch.tensor([[0.7], [-1.2]])  # min(0.7, 0.3) = 0.3; min(1.2, 0.2) = 0.2
    assert sparsity_error([W1, W2]).item() == pytest.approx(0.3)
    stacked = torch.stack([W1, torch.zeros(2, 2)])  # a leading seed axis is kept
    assert sparsity_error([stacked]).tolist() == pytest.approx([0.1, 0.0])


@pytest.mark.parametrize("unit", UNITS.names())
def test_every_unit_exposes_its_effective_weights(unit):
    layer = UNITS.get(unit)(3, 2)
    weights = layer.weights()
    rows = 6 if unit in ("nmru", "sign_nmru") else 3  # the NMRUs weigh [x, 1/x]: (2 in, out)
    assert weights and all(W.shape == (rows, 2) for W in weights)


def test_nac_weights_are_the_effective_weight():
    layer = UNITS.get("nac")(3, 2)
    (W,) = layer.weights()
    assert torch.equal(W, torch.tanh(layer.W_hat) * torch.sigmoid(layer.M_hat))


@pytest.mark.parametrize("model", list(MODELS))
def test_every_model_builds_and_stacks_over_seeds(model):
    network = build_published_model(model, 6)
    assert network(torch.rand(5, 6)).shape == (5, 1)
    stacked = stack_seeds(lambda: build_published_model(model, 6), [0, 1, 2])
    assert stacked(torch.rand(3, 5, 6)).shape == (3, 5, 1)
    assert sparsity_error(W for layer in stacked for W in layer.weights()).shape == (3,)


def test_models_are_the_published_layer_pairs():
    nmu = build_published_model("nmu", 6)
    assert [type(layer).__name__ for layer in nmu] == ["NAU", "NMU"]
    assert [type(layer).__name__ for layer in build_published_model("nmu", 2, hidden_size=0)] == ["NMU"]
    relu = build_published_model("relu", 6)
    assert [layer.activation for layer in relu] == ["relu", "linear"]


@pytest.mark.parametrize("model", ["linear", "relu", "relu6"])
def test_baseline_models_have_the_published_zero_started_biases(model):
    network = build_published_model(model, 6)
    assert [tuple(layer.bias.shape) for layer in network] == [(2,), (1,)]
    assert all(layer.bias.abs().sum().item() == 0 for layer in network)
    assert MODELS[model].describe() == f"{MODELS[model].first} -> linear, bias"
    assert network[0].linear_weight() is None  # x @ W alone is not the layer any more


@pytest.mark.parametrize("activation", ["linear", "relu", "relu6"])
def test_a_dense_layer_adds_its_bias_before_the_activation(activation):
    layer = Dense(3, 2, activation=activation, bias=True).double()
    with torch.no_grad():
        layer.bias.copy_(torch.tensor([-5.0, 7.0], dtype=torch.float64))
    x = torch.rand(4, 3, dtype=torch.float64)
    assert torch.equal(layer(x), ACTIVATIONS[activation](x @ layer.W + layer.bias))
    assert Dense(3, 2, activation=activation).bias is None
    assert torch.autograd.gradcheck(layer, (x.requires_grad_(),))


def test_a_dense_layer_refuses_a_bias_that_is_not_a_bool():
    with pytest.raises(ValueError, match="bias must be True or False, got 1"):
        Dense(3, 2, bias=1)


def test_models_carry_the_published_schedules_on_both_layers():
    nmu, nau = build_published_model("nmu", 6), build_published_model("nau", 6)
    assert [layer.schedule for layer in nmu] == [NMU_SCHEDULE, NMU_SCHEDULE]
    assert [layer.schedule for layer in nau] == [NAU_SCHEDULE, NAU_SCHEDULE]
    # loss = MSE + lambda(t) * (R_first + R_second): nothing before 1e6, 10 * the sum from 2e6 on
    assert nmu.regularization_loss(1_000_000).item() == 0
    penalties = sum(sparsity_penalty(layer.weight, ops=torch) for layer in nmu)
    assert torch.allclose(nmu.regularization_loss(2_000_000), 10 * penalties)
    assert torch.allclose(nmu.regularization_loss(1_500_000), 5 * penalties)
    assert MODELS["nmu"].describe() == "nau -> nmu, sparsity 10 from step 1000000 to 2000000 of min(|W|, |1 - |W||)"
    assert MODELS["nac"].describe() == "nac -> nac, init glorot_w"
    # a unit built by hand keeps its own default
    assert UNITS.get("nau")(6, 2).schedule == NAU_SCHEDULE


@pytest.mark.parametrize("model", ["nac", "nac_mul", "nalu"])
def test_nac_models_start_their_nac_weights_as_published(model):
    torch.manual_seed(0)
    first, second = build_published_model(model, 100)
    assert first.init == second.init == "glorot_w"
    # U[-r, r] with r from each layer's own fans: 0.50 for 100 -> 2, 9.47 for 2 -> 1
    for layer, r in ((first, nac_init_limit(100, 2)), (second, nac_init_limit(2, 1))):
        assert max(layer.W_hat.abs().max().item(), layer.M_hat.abs().max().item()) <= r
    assert first.W_hat.abs().max().item() > 0.95 * nac_init_limit(100, 2)  # 200 draws
    assert second.W_hat.abs().max().item() > math.sqrt(3.0)  # beyond Kaiming's bound for fan-in 2
    assert build_published_model(model, 10, time_steps=3)[0].cell.init == "glorot_w"


def test_nac_mul_is_the_log_space_nac():
    model = build_published_model("nac_mul", 6)
    assert [type(layer).__name__ for layer in model] == ["NAC", "NACMul"]
    layer = model[1]
    h = torch.tensor([[2.0, 3.0], [-4.0, 0.5]])
    expected = torch.exp(torch.log(h.abs() + layer.eps) @ layer.weight)
    assert torch.allclose(layer(h), expected)


@pytest.mark.parametrize(
    ("activation", "bound"), [("linear", (6 / 700) ** 0.5), ("relu", (6 / 400) ** 0.5), ("relu6", (6 / 400) ** 0.5)]
)
def test_baseline_layers_start_as_published(activation, bound):
    """Glorot uniform for linear layers, He uniform with the ReLU gain over the fan-in for ReLU(6)."""
    torch.manual_seed(0)
    W = Dense(400, 300, activation=activation).W
    assert bound * 0.99 < W.abs().max().item() <= bound


def test_nalms_static_division_and_root_models_put_a_unit_that_can_hold_the_exponent_after_a_nau():
    division, roots = build_published_model("nau_sign_nmru", 6), build_published_model("nau_nac_mul", 6)
    assert [type(layer).__name__ for layer in division] == ["NAU", "SignNMRU"]
    assert [type(layer).__name__ for layer in roots] == ["NAU", "NACMul"]
    assert division[1].schedule == MODELS["nmu"].schedule  # the NMU model's schedule, on both layers
    assert MODELS["nau_nac_mul"].attempts == 20 and "20 attempts" in MODELS["nau_nac_mul"].describe()

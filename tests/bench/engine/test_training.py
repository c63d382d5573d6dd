"""Units learn their operation from data and extrapolate; the trainer is deterministic."""

import pytest
import torch

from nalm.bench.engine import TrainConfig, train
from nalm.bench.models import build_unit_stack
from nalm.bench.tasks import StaticArithmeticTask
from nalm.torch import NAC, NALU


def fit(unit, target, low, high, seed, steps=2000, lr=0.1):
    """Adam on fresh batches of x ~ U[low, high]^2; returns the unit."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(unit.parameters(), lr=lr)
    for _ in range(steps):
        x = torch.rand(64, 2, generator=generator) * (high - low) + low
        loss = (unit(x) - target(x)).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return unit


def max_relative_error(unit, target, low, high):
    x = torch.rand(1000, 2, generator=torch.Generator().manual_seed(123)) * (high - low) + low
    with torch.no_grad():
        return ((unit(x) - target(x)).abs() / target(x).abs()).max().item()


def add(x):
    return x.sum(-1, keepdim=True)


def mul(x):
    return x.prod(-1, keepdim=True)


@pytest.mark.parametrize("seed", [0, 1])
def test_nac_learns_addition_on_0_1_and_extrapolates_to_0_10(seed):
    torch.manual_seed(seed)
    unit = fit(NAC(2, 1), add, 0.0, 1.0, seed)
    assert max_relative_error(unit, add, 0.0, 10.0) < 0.02
    torch.testing.assert_close(unit.weight, torch.ones(2, 1), atol=0.01, rtol=0)


@pytest.mark.parametrize("seed", [0, 1])
def test_nalu_learns_multiplication_of_positive_inputs_and_extrapolates(seed):
    torch.manual_seed(seed)
    unit = fit(NALU(2, 1), mul, 1.0, 2.0, seed)
    assert max_relative_error(unit, mul, 2.0, 10.0) < 0.05


def test_fit_is_deterministic_for_a_fixed_seed():
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        runs.append(fit(NALU(2, 1), mul, 1.0, 2.0, seed=0, steps=200).state_dict())
    for key in runs[0]:
        assert torch.equal(runs[0][key], runs[1][key])


def run_static(seed, steps=300):
    torch.manual_seed(seed)
    task = StaticArithmeticTask(operation="sub", input_size=10)
    model = build_unit_stack("nac", task.input_size)
    return train(model, task, TrainConfig(steps=steps, eval_every=100, eval_size=500, seed=seed)), model


def test_trainer_evaluates_on_schedule_and_repeats_exactly():
    (first, model_a), (second, model_b) = run_static(3), run_static(3)
    assert [e.step for e in first.evaluations] == [100, 200, 300]
    assert first.evaluations == second.evaluations
    assert all(torch.equal(p, q) for p, q in zip(model_a.parameters(), model_b.parameters()))
    assert not first.diverged
    assert first.best.interpolation_mse == min(e.interpolation_mse for e in first.evaluations)
    assert first.final.interpolation_mse < first.evaluations[0].interpolation_mse


def test_trainer_adds_the_last_step_and_differs_across_seeds():
    result, _ = run_static(0, steps=250)
    assert [e.step for e in result.evaluations] == [100, 200, 250]
    assert run_static(1, steps=250)[0].evaluations != result.evaluations


def test_trainer_stops_and_reports_divergence():
    torch.manual_seed(0)
    task = StaticArithmeticTask(operation="mul", input_size=10, interpolation_range=(1e18, 2e18))
    model = build_unit_stack("nalu", task.input_size)
    result = train(model, task, TrainConfig(steps=50, eval_every=10, eval_size=100))
    assert result.diverged
    assert result.final.step < 50


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"steps": 0}, "steps"),
        ({"batch_size": -1}, "batch_size"),
        ({"learning_rate": 0}, "learning_rate"),
        ({"seed": -1}, "seed"),
        ({"eval_size": 1.5}, "eval_size"),
    ],
)
def test_bad_training_configuration_raises(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)

"""The recurrent task of Trask et al.: the static task's input vector over T time steps."""

import dataclasses

import pytest
import torch

from nalm.bench.engine import TrainConfig, train_seeds
from nalm.bench.models import build_published_model, build_unit_stack
from nalm.bench.runs import PRESETS, Benchmark
from nalm.bench.tasks import StaticArithmeticTask
from nalm.bench.tasks.streams import SeedStreams
from nalm.bench.tasks.thresholds import success_threshold
from nalm.torch import Recurrent

TASK = StaticArithmeticTask("mul", input_size=6, subset_ratio=0.5, overlap_ratio=0.0, time_steps=3)


def test_a_sequence_is_the_static_rows_in_turn_and_a_b_are_summed_over_them():
    subsets = [TASK.subsets(4)]
    x, target = TASK.sample(5, TASK.interpolation_range, subsets, SeedStreams([4], "train"), torch.float64)
    static = dataclasses.replace(TASK, time_steps=1)
    rows, _ = static.sample(15, TASK.interpolation_range, subsets, SeedStreams([4], "train"), torch.float64)
    assert x.shape == (1, 5, 3, 6) and target.shape == (1, 5, 1)
    assert torch.equal(x.reshape(1, 15, 6), rows)
    a, b = (x[0][..., s].sum(dim=(1, 2)) for s in subsets[0])
    assert torch.allclose(target[0, :, 0], a * b, rtol=1e-12)


def test_the_threshold_perturbs_the_recurrent_weights_too():
    task = StaticArithmeticTask("add", time_steps=10)
    recurrent = success_threshold(task, samples=2_000)
    static = success_threshold(dataclasses.replace(task, time_steps=1), samples=2_000)
    assert 0 < static < recurrent


def test_the_exact_recurrent_model_solves_the_task_and_its_perturbation_sits_at_the_threshold():
    task = StaticArithmeticTask("add", time_steps=4)
    model = build_published_model("nau", task.input_size, 2, task.time_steps).double()
    assert isinstance(model[0], Recurrent)
    a, b = task.subsets(0)
    exact = torch.zeros(102, 2, dtype=torch.float64)
    exact[:2] = torch.eye(2)
    exact[2:][a, 0] = 1.0
    exact[2:][b, 1] = 1.0
    eps = 1e-5
    with torch.no_grad():
        model[1].W.fill_(1.0)
        x, target = task.sample(4_000, task.extrapolation_range, [(a, b)], SeedStreams([0], "threshold"), torch.float64)
        model[0].cell.W.copy_(exact)
        assert torch.allclose(model(x[0]), target[0], rtol=1e-12)
        model[0].cell.W.copy_(exact * (1 - 2 * eps) + eps)
        mse = torch.mean((model(x[0]) - target[0]) ** 2).item()
    assert mse == pytest.approx(success_threshold(task, samples=4_000), rel=1e-9)


def test_recurrent_seeds_side_by_side_train_as_they_would_alone():
    config = TrainConfig(steps=6, batch_size=4, eval_every=3, eval_size=7)
    build = lambda: build_unit_stack("nau", TASK.input_size, 2, TASK.time_steps).double()
    together = train_seeds(build, TASK, config, [1, 2])
    alone = train_seeds(build, TASK, config, [2])
    assert len(together[1].evaluations) == len(alone[0].evaluations) == 2
    for mine, theirs in zip(together[1].evaluations, alone[0].evaluations):
        assert mine.step == theirs.step
        assert mine.extrapolation_mse == pytest.approx(theirs.extrapolation_mse, rel=1e-9)


def test_a_feed_forward_model_on_the_recurrent_task_is_refused():
    build = lambda: build_unit_stack("nau", TASK.input_size, 2)
    with pytest.raises(ValueError, match="must fold the time steps"):
        train_seeds(build, TASK, TrainConfig(steps=2, eval_every=1, eval_size=3), [0])


def test_bad_recurrent_benchmarks_are_refused():
    with pytest.raises(ValueError, match="needs a unit as first layer; model 'relu'"):
        Benchmark(models=("relu",), time_steps=3)
    with pytest.raises(ValueError, match="needs hidden_size > 0"):
        Benchmark(time_steps=3, hidden_size=0)
    with pytest.raises(ValueError, match="time_steps must be a positive integer"):
        StaticArithmeticTask(time_steps=0)


def test_the_static_task_names_no_time_steps_so_committed_results_still_match():
    assert "time_steps" not in Benchmark().settings()
    assert PRESETS["trask2018-recurrent"].settings()["time_steps"] == 10

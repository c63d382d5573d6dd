"""The success threshold against values worked out by hand."""

import pytest
import torch

from nalm.bench.tasks import StaticArithmeticTask
from nalm.bench.tasks.thresholds import success_threshold

# With x ~ U[2, 6] (mean 4, variance 4/3), 100 inputs, subsets of 25 overlapping by 12:
# add: the perturbed sum differs by eps * (2 * sum(62 inputs in neither subset) - 2 * sum(12 in both)),
#      so the threshold is eps^2 * (400^2 + 4 * 74 * 4/3).
# sub: the difference is 2 * eps * (b - a) = 2 * eps * (sum of 13 inputs - sum of 13 others),
#      so the threshold is 4 * eps^2 * 26 * 4/3.
HAND_WORKED = {"add": 1e-10 * (400.0**2 + 4 * 74 * 4 / 3), "sub": 4e-10 * 26 * 4 / 3}


@pytest.mark.parametrize("operation", sorted(HAND_WORKED))
def test_threshold_matches_the_hand_worked_value(operation):
    threshold = success_threshold(StaticArithmeticTask(operation=operation), samples=200_000)
    assert threshold == pytest.approx(HAND_WORKED[operation], rel=0.01)


def test_threshold_grows_with_the_square_of_the_perturbation_for_linear_operations():
    task = StaticArithmeticTask(operation="add", input_size=10)
    small, large = (success_threshold(task, eps=eps, samples=10_000) for eps in (1e-5, 2e-5))
    assert large / small == pytest.approx(4.0, rel=1e-6)


def test_threshold_is_zero_without_perturbation_and_positive_for_every_operation():
    for operation in ("add", "sub", "mul", "div", "square", "sqrt"):
        task = StaticArithmeticTask(operation=operation, input_size=10)
        assert success_threshold(task, eps=0.0, samples=1000) == 0.0
        assert success_threshold(task, samples=1000) > 0.0


def test_single_layer_threshold_perturbs_only_the_ones():
    # One unit on (a, b) = (x0, x1): a selection perturbation would cancel for a + b; scaling the
    # ones gives eps^2 E[(a + b)^2], with a, b ~ U[2, 6]: E[(a + b)^2] = 64 + 2 * 4/3.
    task = StaticArithmeticTask(operation="add", input_size=2, subset_ratio=0.5, overlap_ratio=0.0)
    assert success_threshold(task, samples=10_000) < 1e-20
    threshold = success_threshold(task, samples=200_000, hidden_layer=False)
    assert threshold == pytest.approx(1e-10 * (64 + 8 / 3), rel=0.01)


@pytest.mark.parametrize("operation", ["add", "sub", "mul", "div", "square", "sqrt"])
def test_single_layer_threshold_never_cancels(operation):
    task = StaticArithmeticTask(operation=operation, input_size=2, subset_ratio=0.5, overlap_ratio=0.0)
    assert success_threshold(task, samples=10_000, hidden_layer=False) > 1e-14


def test_the_threshold_draws_its_samples_in_chunks_of_bounded_size(monkeypatch):
    """So that a task of a million inputs does not ask for 745 GiB at once."""
    from nalm.bench.tasks import thresholds

    task = StaticArithmeticTask("mul", input_size=1000)
    rows = []
    sample = StaticArithmeticTask.sample

    def counted(self, n, *args, **kwargs):
        rows.append(n)
        return sample(self, n, *args, **kwargs)

    monkeypatch.setattr(StaticArithmeticTask, "sample", counted)
    success_threshold(task, samples=30_000)
    assert sum(rows) == 30_000
    assert max(rows) * task.input_size <= thresholds.CHUNK_ELEMENTS


@pytest.mark.parametrize("time_steps", [1, 10])
def test_the_threshold_takes_the_same_bits_on_any_number_of_pytorch_threads(time_steps):
    """Its sums do not split over PyTorch's threads (a matmul and a sum did, and the threshold in a
    row took the last bits of whatever thread count the process had)."""
    task = StaticArithmeticTask("sub", time_steps=time_steps)
    previous = torch.get_num_threads()
    try:
        values = set()
        for threads in (1, 2, 3, 4):
            torch.set_num_threads(threads)
            values.add(success_threshold(task, samples=200_000))
    finally:
        torch.set_num_threads(previous)
    assert len(values) == 1

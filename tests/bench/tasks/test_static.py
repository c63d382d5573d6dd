"""The static arithmetic task's data."""

import pytest
import torch

from nalm.bench.tasks import OPERATIONS, StaticArithmeticTask
from nalm.bench.tasks.streams import SeedStreams


def test_published_subset_layout():
    task = StaticArithmeticTask()
    assert (task.subset_size, task.overlap_size) == (25, 12)
    for seed in range(50):
        a, b = task.subsets(seed)
        assert a.stop - a.start == b.stop - b.start == 25
        assert b.start == a.stop - 12
        assert 0 <= a.start and b.stop <= 100


def test_offset_varies_with_the_seed_and_repeats_for_the_same_seed():
    task = StaticArithmeticTask()
    offsets = {task.subsets(s)[0].start for s in range(30)}
    assert len(offsets) > 5
    assert task.subsets(3) == task.subsets(3)


@pytest.mark.parametrize(
    "operation, expected",
    [("add", 5.0 + 9.0), ("sub", 5.0 - 9.0), ("mul", 45.0), ("div", 5.0 / 9.0), ("square", 25.0), ("sqrt", 5.0**0.5)],
)
def test_targets_of_every_operation(operation, expected):
    x = torch.tensor([[2.0, 3.0, 6.0, 100.0]])  # a = 2 + 3, b = 3 + 6
    a, b = x[:, 0:2].sum(-1, keepdim=True), x[:, 1:3].sum(-1, keepdim=True)
    assert OPERATIONS[operation](a, b).item() == pytest.approx(expected)


def test_samples_lie_in_the_range_and_targets_match_the_subsets():
    task = StaticArithmeticTask(operation="mul")
    subsets = (slice(10, 35), slice(23, 48))
    x, target = task.sample(500, (2.0, 6.0), [subsets], SeedStreams([1], "train"))
    assert x.shape == (1, 500, 100) and target.shape == (1, 500, 1) and x.dtype == torch.float32
    x, target = x[0], target[0]
    assert x.min() >= 2.0 and x.max() <= 6.0
    expected = x[:, 10:35].double().sum(-1) * x[:, 23:48].double().sum(-1)
    torch.testing.assert_close(target.squeeze(1).double(), expected, rtol=1e-6, atol=0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"operation": "pow"}, "unknown operation 'pow'"),
        ({"input_size": 0}, "input_size must be a positive integer"),
        ({"subset_ratio": 0.7}, "subset_ratio must be in"),
        ({"overlap_ratio": 1.0}, "overlap_ratio must be in"),
        ({"input_size": 2, "subset_ratio": 0.25}, "leaves an empty subset"),
        ({"interpolation_range": (2.0, 1.0)}, r"interpolation_range must have low < high, got \(2, 1\)"),
        ({"extrapolation_range": (1.0, float("inf"))}, "extrapolation_range must be a pair"),
    ],
)
def test_bad_configuration_raises(kwargs, message):
    with pytest.raises(ValueError, match=message):
        StaticArithmeticTask(**kwargs)


def test_a_union_range_is_sampled_uniformly_over_its_intervals():
    task = StaticArithmeticTask(input_size=4, subset_ratio=0.5, extrapolation_range=((-6.0, -2.0), (2.0, 6.0)))
    x, _ = task.sample(20_000, task.extrapolation_range, [(slice(0, 2), slice(1, 3))], SeedStreams([0], "train"))
    inside = ((x >= -6) & (x < -2)) | ((x >= 2) & (x < 6))
    assert inside.all()
    assert (x < 0).double().mean().item() == pytest.approx(0.5, abs=0.01)  # both intervals are 4 long
    assert x[x > 0].mean().item() == pytest.approx(4.0, abs=0.02)


@pytest.mark.parametrize(
    "bounds, message",
    [
        (((2.0, 6.0), (-6.0, -2.0)), "sorted and disjoint"),
        (((-6.0, 0.0), (-1.0, 6.0)), "sorted and disjoint"),
        (((-6.0, -2.0), (3.0, 2.0)), "low < high"),
    ],
)
def test_bad_unions_raise(bounds, message):
    with pytest.raises(ValueError, match=message):
        StaticArithmeticTask(extrapolation_range=bounds)


@pytest.mark.parametrize(
    ("operation", "extrapolation_range"),
    [("add", (1e308, 1.7e308)), ("mul", (1e17, 1e18)), ("square", (-1e18, -1e17)), ("div", (1e39, 2e39))],
)
def test_ranges_whose_data_overflow_float32_are_refused(operation, extrapolation_range):
    with pytest.raises(ValueError, match="beyond float32's 3.4e\\+38"):
        StaticArithmeticTask(operation, extrapolation_range=extrapolation_range)


def test_the_largest_ranges_that_fit_float32_are_accepted():
    StaticArithmeticTask("mul", extrapolation_range=(1e17, 1e17 * 1.1))  # products up to 7.6e36
    StaticArithmeticTask("div", extrapolation_range=(1e36, 2e36))  # sums of 25 inputs up to 5e37

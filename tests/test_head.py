"""build_head: a CNN backbone followed by a stack of arithmetic units."""

import pytest
import torch
from torch import nn

from nalm.torch import UNITS, ArithmeticHead, build_head


def backbone(channels=8):
    return nn.Sequential(nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(), nn.Conv2d(channels, channels, 3, stride=2))


@pytest.mark.parametrize("unit", UNITS.names())
@pytest.mark.parametrize("hidden", [(), (16,), (16, 8)])
@pytest.mark.parametrize("task, outputs", [("classification", 10), ("regression", 1)])
def test_head_maps_images_of_two_sizes_to_outputs(unit, hidden, task, outputs):
    head = build_head(backbone(), 8, hidden, task, outputs, unit=unit)
    assert isinstance(head, ArithmeticHead)
    assert head.network.dims == (8, *hidden, outputs)
    for size in [(28, 28), (40, 33)]:
        assert head(torch.randn(2, 1, *size)).shape == (2, outputs)


def test_head_trains_end_to_end():
    torch.manual_seed(0)
    head = build_head(backbone(), 8, [4], "regression", 1, unit="nac")
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-2)
    images, target = torch.randn(8, 1, 16, 16), torch.randn(8, 1)
    losses = []
    for _ in range(30):
        loss = (head(images) - target).pow(2).mean() + head.regularization_loss(0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        head.apply_constraints()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert all(p.grad is not None for p in head.backbone.parameters())


def test_without_pooling_the_feature_map_is_flattened_and_its_size_fixed():
    head = build_head(backbone(), 8, [16], "classification", 3, unit="nalu", pool=None, feature_shape=(13, 13))
    assert head.pool is None
    assert head.network.dims == (8 * 13 * 13, 16, 3)
    assert head(torch.randn(2, 1, 28, 28)).shape == (2, 3)
    with pytest.raises(ValueError, match=r"spatial size \(13, 13\), got \(19, 16\).*pool='adaptive'"):
        head(torch.randn(2, 1, 40, 33))


def test_unit_options_reach_every_unit():
    head = build_head(backbone(), 8, [4], "regression", 1, unit="nalu", eps=1e-8, shared_weights=False)
    assert all(unit.eps == 1e-8 and not unit.shared_weights for unit in head.network)


def test_backbone_with_other_channels_gets_a_clear_error():
    head = build_head(backbone(4), 8, [], "regression", 1)
    with pytest.raises(ValueError, match=r"features of shape \(N, 8, H, W\), got \(2, 4, 13, 13\)"):
        head(torch.randn(2, 1, 28, 28))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"task": "segmentation"}, "unknown task 'segmentation'"),
        ({"unit": "lstm"}, "unknown unit 'lstm'"),
        ({"pool": "max"}, "unknown pool 'max'"),
        ({"channels": 0}, "channels must be a positive integer, got 0"),
        ({"num_outputs": 0}, "num_outputs must be a positive integer, got 0"),
        ({"num_outputs": 1}, "classification needs num_outputs >= 2"),
        ({"hidden_dims": [4, 0]}, "hidden size must be a positive integer, got 0"),
        ({"hidden_dims": 4}, "hidden_dims must be a sequence"),
        ({"pool": None}, r"pool=None needs feature_shape=\(H, W\)"),
        ({"feature_shape": (3, 3)}, "feature_shape is only used with pool=None"),
        ({"backbone": "resnet"}, "backbone must be a torch.nn.Module"),
    ],
)
def test_bad_arguments_get_one_clear_error(kwargs, message):
    arguments = {"backbone": backbone(), "channels": 8, "hidden_dims": [4], "task": "classification", "num_outputs": 10}
    arguments.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=message):
        build_head(**arguments)

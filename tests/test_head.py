"""build_head: a CNN backbone followed by a stack of arithmetic units."""

import pytest
import torch
from torch import nn

from nalm.torch import NAC, UNITS, ArithmeticHead, build_head


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
        ({"normalize": "batch"}, "unknown normalize 'batch'; choose from 'layer', None"),
        ({"backbone": "resnet"}, "backbone must be a torch.nn.Module"),
    ],
)
def test_bad_arguments_get_one_clear_error(kwargs, message):
    arguments = {"backbone": backbone(), "channels": 8, "hidden_dims": [4], "task": "classification", "num_outputs": 10}
    arguments.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=message):
        build_head(**arguments)


def patterns(n, seed):
    """n noisy copies (n, 1, 8, 8) of ten fixed 8 x 8 patterns of values 0..16, and each one's index (n, 1)."""
    templates = torch.randint(0, 17, (10, 1, 8, 8), generator=torch.Generator().manual_seed(0)).float()
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=generator)
    images = (templates[labels] + 4 * torch.randn(n, 1, 8, 8, generator=generator)).clamp(0, 16)
    return images, labels.float()[:, None]


def test_default_head_beats_predicting_the_mean():
    """The default unit (NAC) learns a pattern's index in 100 steps; the former default, NALU, did not (0.97)."""
    torch.manual_seed(0)
    features = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, stride=2, padding=1), nn.ReLU()
    )
    head = build_head(features, 16, [8], "regression", 1)
    assert isinstance(head.network[0], NAC) and head.normalize is None
    images, labels = patterns(128, seed=1)
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-2)
    for step in range(1, 101):
        loss = nn.functional.mse_loss(head(images), labels) + head.regularization_loss(step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        head.apply_constraints()
    test_images, test_labels = patterns(256, seed=2)
    with torch.no_grad():
        assert nn.functional.mse_loss(head(test_images), test_labels) < 0.6 * test_labels.var()


@pytest.mark.parametrize("normalize", ["layer", None])
def test_nmu_head_on_digit_like_features_stays_finite_only_when_normalized(normalize):
    """64 ReLU features of scale > 1 from images of values 0..16: an NMU multiplies them all at its initialization
    (W near 1/2), which overflows float32 at the first step unless the features are normalized."""
    torch.manual_seed(0)
    features = nn.Sequential(nn.Conv2d(1, 64, 3, padding=1), nn.ReLU())
    head = build_head(features, 64, [16], "regression", 1, unit="nmu", normalize=normalize)
    images, targets = torch.randint(0, 17, (32, 1, 8, 8)).float(), torch.randint(0, 10, (32, 1)).float()
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-3)
    finite = []
    for step in range(1, 4):
        loss = nn.functional.mse_loss(head(images), targets) + head.regularization_loss(step)
        optimizer.zero_grad()
        loss.backward()
        finite.append(loss.isfinite().item() and all(p.grad.isfinite().all() for p in head.parameters()))
        optimizer.step()
        head.apply_constraints()
    assert finite == ([True] * 3 if normalize == "layer" else [False] * 3)


def test_layer_normalization_gives_unit_scale_features_and_drops_each_images_scale():
    features = nn.Sequential(nn.Conv2d(1, 8, 3, bias=False), nn.ReLU())  # scaling an image scales its features
    images = torch.rand(4, 1, 10, 10) * 16
    plain = build_head(features, 8, [], "regression", 1)
    normalized = build_head(features, 8, [], "regression", 1, normalize="layer", pool=None, feature_shape=(8, 8))
    x = normalized.features(images)
    assert x.shape == (4, 8 * 8 * 8)
    torch.testing.assert_close(x.mean(1), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(x.var(1, unbiased=False), torch.ones(4), atol=1e-3, rtol=0)
    torch.testing.assert_close(normalized.features(3 * images), x, atol=1e-5, rtol=1e-5)  # a magnitude is lost
    torch.testing.assert_close(plain.features(3 * images), 3 * plain.features(images))  # kept without it
    assert len(normalized.state_dict()) == len(plain.state_dict())  # no parameters added

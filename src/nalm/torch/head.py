"""An arithmetic head for CNN backbones: backbone -> pooling -> flatten -> stack of units."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from nalm.torch.base import UNITS, UnitStack
from nalm.validation import choice, positive_int

TASKS = ("classification", "regression")
POOLS = ("adaptive", None)
NORMALIZATIONS = ("layer", None)


class ArithmeticHead(nn.Module):
    """A CNN backbone followed by a stack of arithmetic units.

    images (N, ...) -> backbone -> features (N, channels, H, W) -> [adaptive average pool to 1x1]
    -> flatten -> [layer normalization] -> units -> (N, num_outputs): class logits, or regression
    outputs.

    Without pooling the units' input size is channels * H * W for the ``feature_shape`` (H, W)
    given when the head was built, and features of any other shape raise a ValueError.
    ``normalize="layer"`` rescales each image's flattened features to zero mean and unit variance
    (``nn.LayerNorm`` without parameters) before the units, whatever scale the backbone outputs;
    it also divides out each image's overall feature scale. Build it with [`build_head`][nalm.torch.head.build_head].

    Training: add ``regularization_loss(step)`` (step counted from 1) to the loss and call
    ``apply_constraints()`` after each optimizer step, as for any unit; NAU and NMU heads need both
    to train as their paper does (both are no-ops for units without them; see the README's loop).
    """

    def __init__(
        self,
        backbone: nn.Module,
        network: UnitStack,
        *,
        channels: int,
        task: str,
        pool: str | None,
        feature_shape: tuple[int, int] | None,
        normalize: str | None = None,
    ) -> None:
        super().__init__()
        normalize = choice("normalize", normalize, NORMALIZATIONS)
        self.backbone = backbone
        self.pool = nn.AdaptiveAvgPool2d(1) if pool == "adaptive" else None
        self.normalize = nn.LayerNorm(network.dims[0], elementwise_affine=False) if normalize == "layer" else None
        self.network = network
        self.channels = channels
        self.task = task
        self.feature_shape = feature_shape

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """What the units receive: images (N, ...) -> (N, in_features), pooled, flattened and normalized."""
        features = self.backbone(images)
        if features.dim() != 4 or features.shape[1] != self.channels:
            raise ValueError(
                f"the backbone must return features of shape (N, {self.channels}, H, W), got {tuple(features.shape)}"
            )
        if self.pool is not None:
            features = self.pool(features)
        elif tuple(features.shape[2:]) != self.feature_shape:
            raise ValueError(
                f"this head was built without pooling for backbone features of spatial size "
                f"{self.feature_shape}, got {tuple(features.shape[2:])} (from images of shape "
                f"{tuple(images.shape)}); use pool='adaptive' to accept any image size"
            )
        features = features.flatten(1)
        return features if self.normalize is None else self.normalize(features)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.network(self.features(images))

    def regularization_loss(self, step: int) -> torch.Tensor:
        """The units' regularization loss at training step ``step``."""
        return self.network.regularization_loss(step)

    @torch.no_grad()
    def apply_constraints(self) -> None:
        """Apply the units' post-step constraints."""
        self.network.apply_constraints()

    def extra_repr(self) -> str:
        return f"task={self.task!r}, channels={self.channels}, feature_shape={self.feature_shape}"


def build_head(
    backbone: nn.Module,
    channels: int,
    hidden_dims: Sequence[int],
    task: str,
    num_outputs: int,
    unit: str = "nac",
    pool: str | None = "adaptive",
    *,
    feature_shape: tuple[int, int] | None = None,
    normalize: str | None = None,
    **unit_options: Any,
) -> ArithmeticHead:
    """Attach a stack of arithmetic units to a CNN backbone.

    Args:
        backbone: module mapping images to features (N, channels, H, W).
        channels: the number of channels the backbone outputs.
        hidden_dims: sizes of the hidden units, e.g. ``(64, 32)``; ``()`` for a single unit.
        task: ``"classification"`` (``num_outputs`` >= 2 class logits) or ``"regression"``.
        num_outputs: classes, or regression outputs (usually 1).
        unit: a registered unit name. ``"nac"`` (the default) and ``"nau"`` learn as heads;
            units that multiply their inputs (``"nmu"``, ``"nalu"``'s log path) do not on many
            backbone features: see the README's head section and ``benchmarks/head_digits.py``.
        pool: ``"adaptive"`` averages the features to 1x1, so images of any size pass;
            ``None`` flattens the full feature map, whose spatial size ``feature_shape`` (H, W)
            must then be given.
        normalize: ``None`` feeds the features to the units as they are; ``"layer"`` rescales
            each image's features to zero mean and unit variance first (no parameters). It helps
            a backbone without batch normalization and keeps an NMU head finite, but it divides
            out each image's feature scale: leave it ``None`` when the output must grow with a
            magnitude in the image (a count, a sum), or the head cannot extrapolate.
        unit_options: passed to every unit, e.g. ``eps=1e-8``.

    Returns:
        An [`ArithmeticHead`][nalm.torch.head.ArithmeticHead] mapping images to (N, num_outputs).
    """
    if not isinstance(backbone, nn.Module):
        raise TypeError(f"backbone must be a torch.nn.Module, got {type(backbone).__name__}")
    positive_int("channels", channels)
    task = choice("task", task, TASKS)
    positive_int("num_outputs", num_outputs)
    if task == "classification" and num_outputs < 2:
        raise ValueError(f"classification needs num_outputs >= 2 classes, got {num_outputs}")
    pool = choice("pool", pool, POOLS)
    unit_class = UNITS.get(unit)
    if isinstance(hidden_dims, (str, bytes)) or not isinstance(hidden_dims, Sequence):
        raise ValueError(f"hidden_dims must be a sequence of positive integers, got {hidden_dims!r}")
    hidden = tuple(positive_int("hidden size", h) for h in hidden_dims)
    if pool is None:
        if feature_shape is None or len(feature_shape) != 2:
            raise ValueError(f"pool=None needs feature_shape=(H, W), the backbone's output size, got {feature_shape!r}")
        feature_shape = (
            positive_int("feature height", feature_shape[0]),
            positive_int("feature width", feature_shape[1]),
        )
        in_features = channels * feature_shape[0] * feature_shape[1]
    else:
        if feature_shape is not None:
            raise ValueError("feature_shape is only used with pool=None")
        in_features = channels
    network = unit_class.stack(in_features, *hidden, num_outputs, **unit_options)
    return ArithmeticHead(
        backbone, network, channels=channels, task=task, pool=pool, feature_shape=feature_shape, normalize=normalize
    )

"""Models for the arithmetic tasks: registered units and baseline layers stacked input -> hidden -> output.

The benchmark names a model by the layer pair of Madsen and Johansen, "Neural Arithmetic Units",
ICLR 2020 (arXiv 2001.05016), Table 1: ``MODELS["nmu"] = ("nau", "nmu")`` is NAU -> NMU.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from nalm.torch import UNITS, ArithmeticUnit, UnitStack
from nalm.validation import choice, non_negative_int, positive_int

ACTIVATIONS = {"linear": lambda z: z, "relu": torch.relu, "relu6": nn.functional.relu6}
"""The baseline layers' activations, by layer name."""


class Dense(ArithmeticUnit):
    """The baselines' layer: y = activation(x W), no bias, W (in_features, out_features) Glorot uniform.

    Laid out like the units (output ``x @ W``), so a leading seed axis on W, (S, in, out),
    broadcasts over inputs (S, batch, in). ``activation`` is one of :data:`ACTIVATIONS`.

    Shapes: input (..., in_features), output (..., out_features).
    """

    def __init__(self, in_features: int, out_features: int, *, activation: str = "linear") -> None:
        super().__init__(in_features, out_features)
        self.activation = choice("activation", activation, tuple(ACTIVATIONS))
        self.W = nn.Parameter(torch.empty(in_features, out_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.W)

    def weights(self) -> tuple[torch.Tensor, ...]:
        """(W,)."""
        return (self.W,)

    def linear_weight(self) -> torch.Tensor | None:
        """W for the linear activation (the layer is x @ W), else None."""
        return self.W if self.activation == "linear" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return ACTIVATIONS[self.activation](x @ self.W)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, activation={self.activation!r}"


MODELS: dict[str, tuple[str, str]] = {
    "nac": ("nac", "nac"),
    "nalu": ("nalu", "nalu"),
    "nau": ("nau", "nau"),
    "nmu": ("nau", "nmu"),
    "inalu": ("inalu", "inalu"),
    "npu": ("npu", "npu"),
    "realnpu": ("realnpu", "realnpu"),
    "linear": ("linear", "linear"),
    "relu": ("relu", "linear"),
    "relu6": ("relu6", "linear"),
}
"""Each benchmark model's (first layer, second layer): the published pairs of Madsen and Johansen
(NALU, NAU, NMU = NAU -> NMU, NAC+ = NAC -> NAC, Linear, ReLU, ReLU6 = activation -> linear).
iNALU, NPU and RealNPU have no published pair for this task: they are stacked unit -> unit.
A layer name is a registered unit or one of :data:`ACTIVATIONS` (a :class:`Dense` layer)."""


def build_layer(name: str, in_features: int, out_features: int) -> ArithmeticUnit:
    """The layer ``name``: a registered unit with its paper's defaults, or a :class:`Dense` baseline."""
    if name in ACTIVATIONS:
        return Dense(in_features, out_features, activation=name)
    return UNITS.get(name)(in_features, out_features)


def build_network(model: str, input_size: int, hidden_size: int = 2) -> UnitStack:
    """The benchmark model ``model`` (a key of :data:`MODELS`): (..., input_size) -> (..., 1).

    With ``hidden_size`` > 0 it is the pair input -> hidden -> 1; with ``hidden_size`` = 0 it is
    the pair's second layer alone, input -> 1 (the single-unit task, e.g. "nmu" is one NMU).
    """
    first, second = MODELS[choice("model", model, tuple(MODELS))]
    if non_negative_int("hidden_size", hidden_size) == 0:
        return UnitStack(build_layer(second, input_size, 1))
    return UnitStack(build_layer(first, input_size, hidden_size), build_layer(second, hidden_size, 1))


def build_model(unit: str, input_size: int, hidden_size: int = 2, **unit_options: Any) -> UnitStack:
    """Two layers of the unit ``unit``: (..., input_size) -> (..., hidden_size) -> (..., 1).

    This is the published model of the static task (e.g. "NALU" = NALU -> NALU, hidden size 2).
    """
    positive_int("hidden_size", hidden_size)
    return UNITS.get(unit).stack(input_size, hidden_size, 1, **unit_options)

"""Madsen and Johansen's sparsity error of a model's weights: how far they are from {-1, 0, 1}."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

import torch


def sparsity_error(weights: Iterable[torch.Tensor]) -> torch.Tensor:
    """Madsen and Johansen's sparsity error: max over every entry of every W of min(|W|, |1 - |W||).

    Zero exactly when all weights are in {-1, 0, 1}. Each W is (..., in, out); the leading axes
    (e.g. a seed axis S) are kept, so weights (S, in, out) give errors (S,).
    """
    errors = [torch.minimum(W.abs(), (1 - W.abs()).abs()).amax(dim=(-2, -1)) for W in weights]
    if not errors:
        raise ValueError("sparsity_error needs at least one weight, got none")
    return torch.stack(errors).amax(dim=0)


@runtime_checkable
class _Weighted(Protocol):
    """A layer with effective weights ([`nalm.torch.ArithmeticUnit.weights`][nalm.torch.base.ArithmeticUnit.weights])."""

    def weights(self) -> tuple[torch.Tensor, ...]: ...


@torch.no_grad()
def network_sparsity(network: torch.nn.Module) -> torch.Tensor | None:
    """[`sparsity_error`][nalm.bench.models.sparsity.sparsity_error] over the effective weights (``layer.weights()``) of every layer of a
    stack (or of one unit): () for one model, (S,) for a model with a leading seed axis; None if
    a layer has no ``weights()``."""
    layers = list(network) if isinstance(network, torch.nn.Sequential) else [network]
    weighted = [layer for layer in layers if isinstance(layer, _Weighted)]
    if len(weighted) != len(layers):
        return None
    return sparsity_error(W for layer in weighted for W in layer.weights())

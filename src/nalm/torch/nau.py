"""NAU and NMU as PyTorch modules.

Paper: Madsen, Johansen, "Neural Arithmetic Units", ICLR 2020, arXiv 2001.05016. The formulas
live in [`nalm.functional`][nalm.functional]; each module holds one weight W, (in_features, out_features),
clamped to its range in every forward pass and, by `apply_constraints`, in place after every
optimizer step (the paper clamps W each iteration).
"""

from __future__ import annotations

import torch

from nalm import functional, units
from nalm.torch.base import DefinedUnit


class SparseArithmeticUnit(DefinedUnit):
    """What NAU and NMU share: one weight W clamped to ``weight_range``, and the paper's sparsity
    penalty lambda(t) * mean(min(|W|, |1 - |W||)) on the schedule ``schedule``
    ([`nalm.functional.SparsitySchedule`][nalm.functional.SparsitySchedule]; options ``lambda_sparse``, ``lambda_start``,
    ``lambda_end``, None taking the paper's value)."""

    @property
    def weight(self) -> torch.Tensor:
        """The weight the formula uses: W clamped to ``weight_range``, (in_features, out_features)."""
        return self.weights()[0]


class NAU(SparseArithmeticUnit):
    """Neural addition unit (Madsen & Johansen, "Neural Arithmetic Units", 2020, arXiv 2001.05016).

        z = x W,  W clamped to [-1, 1], no bias

    Adds and subtracts inputs exactly once W is in {-1, 0, 1}, for inputs of any sign and size.
    W starts U[-r, r], r = min(0.5, sqrt(3) * sqrt(2 / (in + out))). The sparsity penalty
    ``regularization_loss(step)`` = lambda(step) * mean(min(|W|, |1 - |W||)) pulls W onto
    {-1, 0, 1}; lambda ramps linearly from 0 at ``lambda_start`` to ``lambda_sparse`` at
    ``lambda_end`` (the paper's NAU: 0.01, from step 5,000 to 50,000).

    Shapes: input (..., in_features), output (..., out_features).
    """

    definition = units.NAU

    def linear_weight(self) -> torch.Tensor:
        """W clamped to [-1, 1] with the full gradient on the bounds: the NAU is x @ that."""
        return functional.nau_weight(self.W, ops=torch)


class NMU(SparseArithmeticUnit):
    """Neural multiplication unit (Madsen & Johansen, "Neural Arithmetic Units", 2020, arXiv 2001.05016).

        z_o = prod_i (W_io x_i + 1 - W_io),  W clamped to [0, 1], no bias

    Multiplies the inputs with W = 1 (W = 0 contributes the neutral 1), exactly, for inputs of
    any sign, zero included: there is no logarithm. It cannot divide. W starts U[0.25, 0.75].
    Sparsity penalty as in [`NAU`][nalm.torch.nau.NAU], with the paper's NMU schedule by default: 10, from
    step 1,000,000 to 2,000,000.

    Shapes: input (..., in_features), output (..., out_features).
    """

    definition = units.NMU

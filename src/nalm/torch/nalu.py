"""NAC and NALU as PyTorch modules.

Paper: Trask, Hill, Reed, Rae, Dyer, Blunsom, "Neural Arithmetic Logic Units", NeurIPS 2018,
arXiv 1808.00508. The formulas live in [`nalm.functional`][nalm.functional]; these modules hold the
parameters, laid out (in_features, out_features) so that the output is ``x @ W``; options,
weights, initialization and formula are each unit's definition in [`nalm.units`][nalm.units].
"""

from __future__ import annotations

import torch

from nalm import units
from nalm.torch.base import DefinedUnit


class NAC(DefinedUnit):
    """Neural accumulator: a = x W, W = tanh(W_hat) * sigmoid(M_hat), no bias.

    W is pushed towards {-1, 0, 1}, so the unit adds and subtracts inputs without scaling them.
    W_hat and M_hat are (in_features, out_features), Kaiming normal initialized; ``init="glorot_w"``
    draws them from U[-r, r] so that W has Glorot's variance (the published NAC+,
    [`nalm.functional.nac_init_limit`][nalm.functional.nac_init_limit]).

    Shapes: input (..., in_features), output (..., out_features).
    """

    definition = units.NAC

    @property
    def weight(self) -> torch.Tensor:
        """The effective weight W = tanh(W_hat) * sigmoid(M_hat), (in_features, out_features)."""
        return self.weights()[0]

    def linear_weight(self) -> torch.Tensor | None:
        """The effective weight W: the NAC is x @ W."""
        return self.weight


class NACMul(NAC):
    """NAC in log space, NAC* (Madsen & Johansen 2020, arXiv 2001.05016, the published model for
    multiplication before the NMU):

        m = exp(log(|x| + eps) W),  W = tanh(W_hat) * sigmoid(M_hat), no bias

    NALU's multiplicative path alone: multiplies (W = 1) and divides (W = -1) the magnitudes of
    the inputs; the sign of x is lost. Weights and initialization as [`NAC`][nalm.torch.nalu.NAC]. Numerics as
    NALU's path: finite at x = 0 while the weights on zeros are moderate, inf once the exponent
    passes the dtype's limit (88.7 in float32).

    Shapes: input (..., in_features), output (..., out_features).
    """

    definition = units.NAC_MUL

    def linear_weight(self) -> None:
        """None: the NAC* is not linear in x."""
        return None


class NALU(DefinedUnit):
    """Neural arithmetic logic unit: a gate between an additive and a log-space NAC path.

        a = x W,  m = exp(log(|x| + eps) W_m),  g = sigmoid(x G),  y = g * a + (1 - g) * m

    with W = tanh(W_hat) * sigmoid(M_hat). ``shared_weights=True`` (the paper) uses W_m = W;
    ``False`` gives the multiplicative path its own pair ``W_hat_mul``, ``M_hat_mul``. All weights
    are (in_features, out_features), Kaiming uniform initialized; ``init="glorot_w"`` draws the
    NAC weights as [`NAC`][nalm.torch.nalu.NAC] does then and G Glorot uniform (the published NALU). No bias.

    ``gate="input"`` is the paper's gate; ``gate="independent"`` is the cheap variant later work
    uses (e.g. iNALU, arXiv 2003.07629): g = sigmoid(G) with G a vector (out_features,), one
    learned value per output whatever the input, initialized to 0 (g = 1/2).

    Numerics: ``eps`` keeps log(|x| + eps) finite at x = 0 (|log(eps)| = 16.1 for 1e-7), so
    zeros, negatives and tiny inputs give finite outputs while the weights on them are moderate
    (the sign of x is lost in the multiplicative path, as in the paper). With
    ``max_exponent=None`` (the paper), m overflows to inf once the exponent passes the dtype's
    limit (88.7 in float32): a product beyond about 3.4e38, e.g. |x|^2 for |x| > 1.8e19, or a
    quotient by zero inputs whose negative weights sum below about -5.5. y is then inf, or NaN
    where the gate is exactly 1. Set ``max_exponent`` (e.g. 20) to cap the exponent, so that
    m <= exp(max_exponent). The gradient of log(|x| + eps) is up to 1/eps near x = 0.

    Shapes: input (..., in_features), output (..., out_features).
    """

    definition = units.NALU

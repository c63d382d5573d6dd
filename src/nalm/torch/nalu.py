"""NAC and NALU as PyTorch modules.

Paper: Trask, Hill, Reed, Rae, Dyer, Blunsom, "Neural Arithmetic Logic Units", NeurIPS 2018,
arXiv 1808.00508. The formulas live in :mod:`nalm.functional`; these modules hold the
parameters, laid out (in_features, out_features) so that the output is ``x @ W``.
"""

from __future__ import annotations

import torch
from torch import nn

from nalm import functional
from nalm.torch.base import UNITS, ArithmeticUnit
from nalm.validation import boolean, choice, optional_float, positive_float


def _kaiming(weight: torch.Tensor, init: str) -> None:
    # The layout is (in, out): torch's "fan_out" mode reads size(0), the true fan-in here.
    if init == "normal":
        nn.init.kaiming_normal_(weight, mode="fan_out")
    else:
        nn.init.kaiming_uniform_(weight, mode="fan_out")


@UNITS.register("nac")
class NAC(ArithmeticUnit):
    """Neural accumulator: a = x W, W = tanh(W_hat) * sigmoid(M_hat), no bias.

    W is pushed towards {-1, 0, 1}, so the unit adds and subtracts inputs without scaling them.
    W_hat and M_hat are (in_features, out_features), Kaiming normal initialized.

    Shapes: input (..., in_features), output (..., out_features).
    """

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__(in_features, out_features)
        self.W_hat = nn.Parameter(torch.empty(in_features, out_features))
        self.M_hat = nn.Parameter(torch.empty(in_features, out_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _kaiming(self.W_hat, "normal")
        _kaiming(self.M_hat, "normal")

    @property
    def weight(self) -> torch.Tensor:
        """The effective weight W = tanh(W_hat) * sigmoid(M_hat), (in_features, out_features)."""
        return functional.nac_weight(self.W_hat, self.M_hat, ops=torch)

    def weights(self) -> tuple[torch.Tensor, ...]:
        """(W,), the effective weight."""
        return (self.weight,)

    def linear_weight(self) -> torch.Tensor:
        """The effective weight W: the NAC is x @ W."""
        return self.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return functional.nac(x, self.W_hat, self.M_hat, ops=torch)


@UNITS.register("nac_mul")
class NACMul(NAC):
    """NAC in log space, NAC* (Madsen & Johansen 2020, arXiv 2001.05016, the published model for
    multiplication before the NMU):

        m = exp(log(|x| + eps) W),  W = tanh(W_hat) * sigmoid(M_hat), no bias

    NALU's multiplicative path alone: multiplies (W = 1) and divides (W = -1) the magnitudes of
    the inputs; the sign of x is lost. Weights and initialization as :class:`NAC`. Numerics as
    NALU's path: finite at x = 0 while the weights on zeros are moderate, inf once the exponent
    passes the dtype's limit (88.7 in float32).

    Shapes: input (..., in_features), output (..., out_features).
    """

    def __init__(self, in_features: int, out_features: int, *, eps: float = 1e-7) -> None:
        self.eps = positive_float("eps", eps)
        super().__init__(in_features, out_features)

    def linear_weight(self) -> None:
        """None: the NAC* is not linear in x."""
        return None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return functional.nac_mul(x, self.W_hat, self.M_hat, eps=self.eps, ops=torch)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, eps={self.eps:g}"


@UNITS.register("nalu")
class NALU(ArithmeticUnit):
    """Neural arithmetic logic unit: a gate between an additive and a log-space NAC path.

        a = x W,  m = exp(log(|x| + eps) W_m),  g = sigmoid(x G),  y = g * a + (1 - g) * m

    with W = tanh(W_hat) * sigmoid(M_hat). ``shared_weights=True`` (the paper) uses W_m = W;
    ``False`` gives the multiplicative path its own pair ``W_hat_mul``, ``M_hat_mul``. All weights
    are (in_features, out_features), Kaiming uniform initialized. No bias.

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

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        eps: float = 1e-7,
        shared_weights: bool = True,
        max_exponent: float | None = None,
        gate: str = "input",
    ) -> None:
        super().__init__(in_features, out_features)
        boolean("shared_weights", shared_weights)
        self.eps = positive_float("eps", eps)
        self.shared_weights = shared_weights
        self.max_exponent = optional_float("max_exponent", max_exponent)
        self.gate = choice("gate", gate, functional.GATES)
        shape = (in_features, out_features)
        self.W_hat = nn.Parameter(torch.empty(shape))
        self.M_hat = nn.Parameter(torch.empty(shape))
        self.G = nn.Parameter(torch.empty(shape if gate == "input" else (out_features,)))
        if not shared_weights:
            self.W_hat_mul = nn.Parameter(torch.empty(shape))
            self.M_hat_mul = nn.Parameter(torch.empty(shape))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for weight in self.parameters(recurse=False):
            if weight is self.G and self.gate == "independent":
                nn.init.zeros_(weight)  # g = 1/2: neither path is preferred at the start
            else:
                _kaiming(weight, "uniform")

    def weights(self) -> tuple[torch.Tensor, ...]:
        """(W,) with shared weights, else (W, W_m); the gate G is left out."""
        pairs = [(self.W_hat, self.M_hat)] if self.shared_weights else [
            (self.W_hat, self.M_hat), (self.W_hat_mul, self.M_hat_mul)
        ]
        return tuple(functional.nac_weight(W_hat, M_hat, ops=torch) for W_hat, M_hat in pairs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return functional.nalu(
            x,
            self.W_hat,
            self.M_hat,
            self.G,
            eps=self.eps,
            ops=torch,
            W_hat_mul=None if self.shared_weights else self.W_hat_mul,
            M_hat_mul=None if self.shared_weights else self.M_hat_mul,
            max_exponent=self.max_exponent,
            gate_kind=self.gate,
        )

    def extra_repr(self) -> str:
        text = f"{super().extra_repr()}, eps={self.eps:g}, shared_weights={self.shared_weights}"
        if self.max_exponent is not None:
            text += f", max_exponent={self.max_exponent:g}"
        if self.gate != "input":
            text += f", gate={self.gate!r}"
        return text

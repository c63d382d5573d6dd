"""iNALU as a Keras 3 layer.

Paper: Schlör, Ring, Hotho, "iNALU: Improved Neural Arithmetic Logic Unit", Frontiers in
Artificial Intelligence 3:71, 2020, arXiv 2003.07629.

    y = g * x W_a + (1 - g) * exp(min(log(max(|x|, eps)) W_m, omega)) * prod_i (sign(x_i) |W_m,io| + 1 - |W_m,io|)

The formula lives in :func:`nalm.functional.inalu` and is applied with ``keras.ops``; the
weights are named and laid out as in :mod:`nalm.torch.inalu`.

Shapes: input (..., input_dim), output (..., units).
"""

from __future__ import annotations

from typing import Any

import keras

from nalm import functional
from nalm.keras.base import UNITS, ArithmeticLayer
from nalm.validation import choice, non_negative_int, positive_float

WEIGHTS = {"W_hat_a": "W_hat", "M_hat_a": "M_hat", "W_hat_m": "W_hat", "M_hat_m": "M_hat", "G": "G"}
"""The iNALU's weights, in the PyTorch module's order, and the kind of initialization of each."""


@UNITS.register("inalu")
@keras.saving.register_keras_serializable(package="nalm")
class INALU(ArithmeticLayer):
    """Improved NALU (iNALU; Schlör, Ring & Hotho, 2020, arXiv 2003.07629).

        a = x W_a                                        W_a = tanh(W_hat_a) * sigmoid(M_hat_a)
        m = exp(min(log(max(|x|, eps)) W_m, omega))      W_m = tanh(W_hat_m) * sigmoid(M_hat_m)
        s = prod_i (sign(x_i) |W_m,io| + 1 - |W_m,io|)   the product's sign
        y = g * a + (1 - g) * m * s

    ``gate="independent"`` (default): g = sigmoid(G), G a vector (units,); ``gate="input"``:
    g = sigmoid(x G), G (input_dim, units). Initialization (the authors' code): W_hat ~ N(0.88, 0.2),
    M_hat ~ N(0.5, 0.2), G ~ N(0, 0.2). ``regularization_loss(step)``, zero up to
    ``regularization_start``: sum over the weights w of mean(max(min(-w, w) + t, 0)) / t,
    t = ``threshold``. Everything as :class:`nalm.torch.INALU`; the other keyword arguments are
    those of :class:`nalm.keras.ArithmeticLayer`.

    Shapes: input (..., input_dim), output (..., units).
    """

    penalized = True

    def __init__(
        self,
        units: int,
        *,
        eps: float = 1e-7,
        omega: float = 20.0,
        gate: str = "independent",
        regularization_start: int = 10_000,
        threshold: float = 20.0,
        **kwargs: Any,
    ) -> None:
        eps = positive_float("eps", eps)
        omega = positive_float("omega", omega)
        gate = choice("gate", gate, functional.GATES)
        regularization_start = non_negative_int("regularization_start", regularization_start)
        threshold = positive_float("threshold", threshold)
        super().__init__(
            units,
            weight_names=tuple(WEIGHTS),
            vectors={"G": "units"} if gate == "independent" else {},
            initializers={
                name: keras.initializers.RandomNormal(*functional.INALU_INIT[kind]) for name, kind in WEIGHTS.items()
            },
            **kwargs,
        )
        self.eps = eps
        self.omega = omega
        self.gate = gate
        self.regularization_start = regularization_start
        self.threshold = threshold

    def compute(self, inputs: Any) -> Any:
        return functional.inalu(
            inputs,
            self.W_hat_a,
            self.M_hat_a,
            self.W_hat_m,
            self.M_hat_m,
            self.G,
            gate_kind=self.gate,
            eps=self.eps,
            omega=self.omega,
            ops=keras.ops,
        )

    def regularization_loss(self, step: int) -> Any:
        """The paper's penalty once ``step`` is past ``regularization_start``, else zero."""
        active = keras.ops.cast(keras.ops.greater(step, self.regularization_start), self.variable_dtype)
        weights = [getattr(self, name) for name in WEIGHTS]
        return active * functional.inalu_penalty(weights, self.threshold, ops=keras.ops)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "eps": self.eps,
            "omega": self.omega,
            "gate": self.gate,
            "regularization_start": self.regularization_start,
            "threshold": self.threshold,
        }

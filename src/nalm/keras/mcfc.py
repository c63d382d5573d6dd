"""MC-FC and MulMCFC as Keras 3 layers.

Paper: Hoedt et al., "MC-LSTM: Mass-Conserving LSTM", ICML 2021, arXiv 2101.05186. The weights R
(input_dim, units), w_o, b_o (and MulMCFC's alpha), (units,), are named and laid out as in
[`nalm.torch.mcfc`][nalm.torch.mcfc].
"""

from __future__ import annotations

import keras

from nalm import units
from nalm.keras.base import ArithmeticLayer


@keras.saving.register_keras_serializable(package="nalm")
class MCFC(ArithmeticLayer):
    """Mass-conserving fully connected layer (Hoedt et al., "MC-LSTM: Mass-Conserving LSTM", ICML
    2021, arXiv 2101.05186).

        y = sigmoid(w_o + b_o) * (x S),  S = softmax(R) over the output axis

    With one output y = sigmoid(w + b) * sum(x). R starts as the identity (input_dim == units) or
    orthogonal ([`IdentityOrOrthogonal`][nalm.keras.base.IdentityOrOrthogonal]), w_o a random unit vector, b_o at 0.
    Penalty -lambda(step) (mean(R^2) + mean(w_o^2) + mean(b_o^2)) (10, ramp from step 20,000 to
    35,000): unbounded below, as the benchmark's code specifies. The same formula in training and
    evaluation. Everything else as [`nalm.torch.MCFC`][nalm.torch.mcfc.MCFC].

    Shapes: input (..., input_dim), output (..., units).
    """

    definition = units.MCFC


@keras.saving.register_keras_serializable(package="nalm")
class MulMCFC(ArithmeticLayer):
    """MC-FC in log space (Hoedt et al., "MC-LSTM: Mass-Conserving LSTM", ICML 2021, arXiv 2101.05186):

        y = exp(MCFC(log x) + alpha),  alpha (units,) starting at 0

    Positive inputs only (a negative input gives NaN; 0 gives an output of 0 with NaN
    gradients), unless ``sign`` ("inalu" or "npu", with its gate g) restores the sign from |x|.
    Everything else as [`MCFC`][nalm.keras.mcfc.MCFC] and [`nalm.torch.MulMCFC`][nalm.torch.mcfc.MulMCFC].

    Shapes: input (..., input_dim), output (..., units).
    """

    definition = units.MUL_MCFC

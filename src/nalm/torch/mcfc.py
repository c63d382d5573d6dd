"""MC-FC and MulMCFC as PyTorch modules.

Paper: Hoedt, Kratzert, Klotz, Halmich, Holzleitner, Nearing, Hochreiter, Klambauer, "MC-LSTM:
Mass-Conserving LSTM", ICML 2021, arXiv 2101.05186; the arithmetic versions as Mistry's
nalm-benchmark runs them.
"""

from __future__ import annotations

from nalm import units
from nalm.torch.base import DefinedUnit


class MCFC(DefinedUnit):
    """Mass-conserving fully connected layer (Hoedt et al., "MC-LSTM: Mass-Conserving LSTM", ICML
    2021, arXiv 2101.05186).

        S = softmax(R) over the output axis  (each input's row sums to 1)
        o = sigmoid(w_o + b_o)               (the share of each output that is kept)
        y = o * (x S)

    It adds inputs (with a share o <= 1 of each sum kept): with one output S is all ones and
    y = sigmoid(w + b) * sum(x). It cannot subtract. Weights: R (in_features, out_features),
    the identity when in_features == out_features, else orthogonal; w_o (out_features,) a random
    unit vector (orthogonal); b_o (out_features,) zeros. No clamps.

    ``regularization_loss(step)`` = -lambda(step) * (mean(R^2) + mean(w_o^2) + mean(b_o^2)), as the
    benchmark's code specifies (10, ramp from step 20,000 to 35,000): it rewards large weights,
    driving the softmax and the sigmoid towards saturation, and is unbounded below, so it is
    negative once it starts and keeps falling as the weights grow.

    The same formula in training and evaluation. Shapes: input (..., in_features), output
    (..., out_features).
    """

    definition = units.MCFC


class MulMCFC(DefinedUnit):
    """MC-FC in log space (Hoedt et al., "MC-LSTM: Mass-Conserving LSTM", ICML 2021, arXiv 2101.05186;
    the nalm-benchmark's MulMCFC, without Hoedt's extra trash output):

        y = exp(MCFC(log x) + alpha),  alpha (out_features,) starting at 0

    A product of powers of positive inputs. Positive inputs only: a negative input gives NaN
    (log of a negative number), and x = 0 gives log 0 = -inf, an output of 0 with NaN gradients.
    Weights, init and penalty as [`MCFC`][nalm.torch.mcfc.MCFC] (alpha is not penalized).

    ``sign`` restores the sign of the product, as the benchmark's sign-retrieving forms do, for
    inputs of any sign but 0, from |x|: "inalu" multiplies by s_o = prod_i (sign(x_i) S_io + 1 - S_io)
    (iNALU's sign term, S = softmax(R)); "npu" by cos((g' pi [x < 0]) S), g' = clip(g, 0, 1), with a
    gate g (in_features,) that starts at 1/2, is clipped in the forward pass only, and whose
    penalty mean(min(|g|, |1 - g|)) follows the same ramp at strength 1.

    Shapes: input (..., in_features), output (..., out_features).
    """

    definition = units.MUL_MCFC

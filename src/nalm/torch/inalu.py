"""iNALU as a PyTorch module, and its restart rule for stuck runs.

Paper: Schlör, Ring, Hotho, "iNALU: Improved Neural Arithmetic Logic Unit", Frontiers in
Artificial Intelligence 3:71, 2020, arXiv 2003.07629. The formula lives in
[`nalm.functional.inalu`][nalm.functional.inalu]; the module holds the parameters, laid out (in_features, out_features).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from nalm import functional, units
from nalm.torch.base import DefinedUnit
from nalm.validation import positive_float


class INALU(DefinedUnit):
    """Improved NALU (iNALU; Schlör, Ring & Hotho, 2020, arXiv 2003.07629).

        a = x W_a                                        W_a = tanh(W_hat_a) * sigmoid(M_hat_a)
        m = exp(min(log(max(|x|, eps)) W_m, omega))      W_m = tanh(W_hat_m) * sigmoid(M_hat_m)
        s = prod_i (sign(x_i) |W_m,io| + 1 - |W_m,io|)   the product's sign
        y = g * a + (1 - g) * m * s

    The two paths have their own NAC weights. |x| is floored at ``eps`` in log space and the
    exponent capped at ``omega``, so zeros, tiny and huge inputs give finite outputs (m <= e^omega)
    in float32 and bfloat16; float16 overflows past e^11 (use ``omega`` <= 11 there).
    The sign term restores the sign of products and quotients of negative inputs; it is 0 for a
    fractional power of a negative input and for an exact zero input (a product with 0 is 0, and
    so is a quotient by 0). ``gate="independent"`` (default, the variant with
    separate weights in the authors' code): g = sigmoid(G), G a vector (out_features,);
    ``gate="input"``: g = sigmoid(x G), G (in_features, out_features).

    Initialization (the authors' code): W_hat ~ N(0.88, 0.2), M_hat ~ N(0.5, 0.2), G ~ N(0, 0.2).
    ``regularization_loss(step)``, zero up to ``regularization_start``, is the paper's
    sum over all weights w of mean(max(min(-w, w) + t, 0)) / t with t = ``threshold``: it drives
    every raw weight away from 0, to where tanh and sigmoid saturate. (The paper also waits for
    the training loss to drop below 1; a loop can add the penalty only then.) For runs that get
    stuck, see [`reinitialize_if_stuck`][nalm.torch.inalu.reinitialize_if_stuck].

    Shapes: input (..., in_features), output (..., out_features).
    """

    definition = units.INALU


def reinitialize_if_stuck(model: nn.Module, losses: Sequence[float], *, threshold: float = 1.0) -> bool:
    """iNALU's restart rule: if training has stalled, draw ``model``'s weights again.

    Stalled ([`nalm.functional.inalu_stalled`][nalm.functional.inalu_stalled]): the mean of the older half of ``losses`` is
    no higher than the newer half's mean plus its standard deviation, and the newer half's mean is
    above ``threshold``. Then every submodule of ``model`` with a ``reset_parameters`` method
    (every unit) is reinitialized and True is returned; the caller should clear its loss
    history. The paper checks every 10 epochs once more than 10,000 losses are recorded.
    """
    if not functional.inalu_stalled(losses, positive_float("threshold", threshold)):
        return False
    for module in model.modules():
        reset = getattr(module, "reset_parameters", None)
        if callable(reset):
            reset()
    return True

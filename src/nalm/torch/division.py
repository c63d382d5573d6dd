"""NRU, NMRU and SignNMRU as PyTorch modules: units that divide.

Paper: Mistry, Li, Weng, Barrett, "Learning Division with Neural Arithmetic Logic Modules", 2021,
arXiv 2110.05177. The formulas live in [`nalm.functional`][nalm.functional]; each module holds one
weight W and computes one formula in ``train()`` mode (the default) and another after ``eval()``,
as the authors' code does. W is clipped in place by `apply_constraints` after every optimizer step.
"""

from __future__ import annotations

from nalm import units
from nalm.torch.base import DefinedUnit


class NRU(DefinedUnit):
    """Neural reciprocal unit (Mistry, Li, Weng & Barrett, "Learning Division with Neural Arithmetic
    Logic Modules", 2021, arXiv 2110.05177).

        y_o = prod_i (sign(x_i) |x_i|^W_io A(W_io) + 1 - A(W_io))
        A(w) = tanh(1000 w)^2 in train() mode,  A(w) = |w| after eval()

    W = 1 takes x_i into the product, W = -1 its reciprocal 1/x_i (sign kept), W = 0 the neutral 1:
    W = (1, -1) gives x_0 / x_1 in both modes. W (in_features, out_features) starts U[-r, r] with
    the NAU's r (0.5 for 2 or 10 inputs) and is clipped to [-1, 1] by `apply_constraints`; the
    forward pass uses the raw W, as the authors' code does. ``regularization_loss(step)`` =
    lambda(step) * mean(min(|W|, |1 - |W||)) on the raw W, lambda ramping from 0 at ``lambda_start``
    to ``lambda_sparse`` at ``lambda_end`` (default 10 from step 20,000 to 35,000: the paper's
    two-input runs; its ten-input runs ramp from 50,000 to 75,000).

    There is no eps: an input x_i = 0 with W_io < 0 gives sign(0) * |0|^W = 0 * inf = NaN (in both
    modes), and a tiny |x_i| with W < 0 can overflow to inf.

    Shapes: input (..., in_features), output (..., out_features).
    """

    definition = units.NRU


class NMRU(DefinedUnit):
    """Neural multiplicative reciprocal unit (Mistry, Li, Weng & Barrett, "Learning Division with
    Neural Arithmetic Logic Modules", 2021, arXiv 2110.05177): an NMU over the inputs and their
    reciprocals.

        x' = [x, 1/(x + eps)] in train() mode (eps = 1.1920929e-7, float32's machine epsilon,
             whatever the dtype),  x' = [x, 1/x] after eval()
        y_o = prod_j (x'_j W_jo + 1 - W_jo),  W clamped to [0, 1]

    W over x_a and 1/x_b gives x_a / x_b. W is (2 in_features, out_features): rows for x first,
    then for 1/x. It starts U[0.25, 0.75], is clamped in the forward pass and in place by
    `apply_constraints`; the sparsity penalty and its schedule are the [`NRU`][nalm.torch.division.NRU]'s (on the
    clamped W).

    Zero inputs: in training 1/(0 + eps) = 8.4e6, finite. After ``eval()`` 1/0 = inf (1/(-0.0) =
    -inf): the output is +-inf where that reciprocal's weight is above 0 and NaN where it is
    exactly 0 (0 * inf), so a zero in an input that the learned W ignores still gives NaN.
    In training an input of exactly -eps divides by 0 too.

    Shapes: input (..., in_features), output (..., out_features).
    """

    definition = units.NMRU


class SignNMRU(DefinedUnit):
    """The NMRU with the sign of its inputs restored: the unit the paper calls "NMRU" (Mistry, Li,
    Weng & Barrett, "Learning Division with Neural Arithmetic Logic Modules", 2021, arXiv 2110.05177;
    the authors' SignNMRU).

        x' as in [`NMRU`][nalm.torch.division.NMRU] ([x, 1/(x + eps)] in train() mode, [x, 1/x] after eval())
        m_o = prod_j (|x'_j| W_jo + 1 - W_jo),  W clamped to [0, 1]
        k = pi [x' < 0]
        y = m * cos(k W)

    cos(k W) reads the raw, unclamped W, as the authors' code does; nalm's other units clamp in
    the forward pass, and so does m here. The two agree whenever W is in [0, 1], i.e. after every
    `apply_constraints`; between an optimizer step and the clip, a W outside [0, 1] moves the sign
    term but not the magnitude, and the gradient of cos(k W) reaches such a W. Weights, init,
    clip, penalty, zero inputs: as the NMRU (|1/0| = inf).

    Shapes: input (..., in_features), output (..., out_features).
    """

    definition = units.SIGN_NMRU


class TiedSignNMRU(DefinedUnit):
    """The sign NMRU with one signed weight per input, an approach of nalm's division search. On
    the ten-input division task it solved 139 of 225 development runs against the sign NMRU's 197
    (its distractors' weights oscillate around their interior 0 under Adam): prefer the
    [`SignNMRU`][nalm.torch.division.SignNMRU] (the division search's results page has the runs).

        w+ = clip(W, 0, 1),  w- = clip(-W, 0, 1),  W clamped to [-1, 1]
        y = SignNMRU(x; [w+; w-])    (x' = [x, 1/(x + eps)] in train() mode, [x, 1/x] after eval())
          = prod_i (1 + w+_io (|x'_i| - 1) + w-_io (|1/x'_i| - 1)) * cos(pi sum_i [x_i < 0] |W_io|)

    W = 1 takes x_i into the product, W = -1 its reciprocal, W = 0 neither: W = (1, -1) gives
    x_0 / x_1 in both modes. Unlike the sign NMRU, an input and its reciprocal are never both
    selected, so no pair of weights can nearly cancel on the training range and break outside it.
    W (in_features, out_features) starts U[-r, r] with the NAU's r, is clamped in the forward pass
    and in place by `apply_constraints`; the sparsity penalty mean(min(|W|, |1 - |W||)) and its
    schedule are the [`NRU`][nalm.torch.division.NRU]'s. Zero inputs: as the
    [`NMRU`][nalm.torch.division.NMRU]'s.

    Shapes: input (..., in_features), output (..., out_features).
    """

    definition = units.TIED_SIGN_NMRU

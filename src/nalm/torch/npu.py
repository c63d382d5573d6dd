"""NPU and RealNPU as PyTorch modules.

Paper: Heim, Pevný, Šmídl, "Neural Power Units", NeurIPS 2020, arXiv 2006.01681. The formula
lives in [`nalm.functional.npu`][nalm.functional.npu]; the modules hold the parameters: weights
(in_features, out_features) and the relevance gate g, (in_features,).
"""

from __future__ import annotations

from nalm import units
from nalm.torch.base import DefinedUnit


class NPU(DefinedUnit):
    """Neural power unit (Heim, Pevný & Šmídl, "Neural Power Units", 2020, arXiv 2006.01681).

    The real part of a product of powers with complex exponents W_re + i W_im, computed in real
    arithmetic, with a relevance gate g in [0, 1] per input:

        r = g (|x| + eps) + (1 - g),   k = g pi [x < 0]
        z = exp(log(r) W_re - k W_im) * cos(log(r) W_im + k W_re)

    For a relevant input (g = 1) and W_im = 0 this is prod_i x_i^W_io with the sign of a negative
    x_i restored through cos(pi W_io): products, quotients and powers of inputs of any sign
    (zero becomes eps, so dividing by it gives a large value, 1/eps = 1e7 for a weight of -1;
    it overflows to inf once the exponent passes the dtype's limit, 88.7 in float32, and there
    is no cap: the unit is a power function, so huge inputs overflow too). An irrelevant input
    (g = 0) contributes the neutral 1. g is clamped to [0, 1] in every forward pass and in place
    by `apply_constraints`.

    Initialization (the paper): W_re Glorot uniform, W_im = 0, g = 1/2.
    ``regularization_loss(step)`` = ``l1`` * (sum |W_re| + sum |W_im| + sum |g|), the paper's L1
    penalty; its strength is a per-task hyperparameter, off (0) by default.

    Shapes: input (..., in_features), output (..., out_features).
    """

    definition = units.NPU


class RealNPU(NPU):
    """The NPU without imaginary weights (Heim, Pevný & Šmídl, "Neural Power Units", 2020,
    arXiv 2006.01681):

        r = g (|x| + eps) + (1 - g),   k = g pi [x < 0],   z = exp(log(r) W) * cos(k W)

    with W = ``W_re``. Products, quotients and powers of inputs of any sign, as [`NPU`][nalm.torch.npu.NPU].

    Options for the recipes of Mistry et al. 2021 ("Learning Division with Neural Arithmetic Logic
    Modules", arXiv 2110.05177), whose defaults leave the NPU paper's unit as it is: ``weight_init``
    ("glorot_uniform", or "nau_uniform": U[-r, r] with r = min(1/2, sqrt(3) sqrt(2 / (in + out))));
    ``weight_range`` (None, or (low, high): W is clamped there after every step, as g is to
    [0, 1]); ``clip_gate`` (True: g is clamped after every step as well as in the forward pass;
    False: in the forward pass only, as the paper's Real NPU baseline); a growing L1 strength, beta(t) = min(``l1``, ``l1_initial`` 10^floor(t / ``l1_growth``))
    ([`nalm.functional.growing_l1`][nalm.functional.growing_l1]; ``l1_growth`` 0 keeps ``l1`` throughout); and the
    discretization penalty lambda(t) (mean |1 - |W|| + mean min(|g|, |1 - g|)) on the schedule
    ``lambda_sparse``, ``lambda_start``, ``lambda_end`` (lambda 0 by default: off). The paper's
    modified Real NPU at two inputs is ``RealNPU(2, 1, eps=1.1920929e-07, weight_init="nau_uniform",
    weight_range=(-1, 1), l1=1e-7, l1_initial=1e-9, l1_growth=10_000, lambda_sparse=1,
    lambda_start=40_000, lambda_end=50_000)``, trained with Adam at lr 5e-3.

    Shapes: input (..., in_features), output (..., out_features).
    """

    definition = units.REAL_NPU

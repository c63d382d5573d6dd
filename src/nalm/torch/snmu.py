"""The sNMU as a PyTorch module.

Paper: Mistry, Li, Weng, Barrett, "Improving the Robustness of Neural Multiplication Units with
Reversible Stochasticity", 2022, arXiv 2211.05624.
"""

from __future__ import annotations

from nalm import units
from nalm.torch.nau import SparseArithmeticUnit


class SNMU(SparseArithmeticUnit):
    """Stochastic NMU (Mistry, Li, Weng & Barrett, "Improving the Robustness of Neural
    Multiplication Units with Reversible Stochasticity", 2022, arXiv 2211.05624).

        after eval():     y = NMU(x; W) = prod_i (W_io x_i + 1 - W_io),  W clamped to [0, 1]
        in train() mode:  y = NMU(x * n; W) / NMU(n; W),  n ~ U[noise_range] iid, shape (..., in)

    The noise n is drawn afresh in every forward pass, with ``torch.rand`` on the input's device and
    in its dtype (``torch.manual_seed`` makes it repeatable). It cancels exactly when W is in
    {0, 1}, so a solved unit gives the NMU's product in both modes. ``noise_range`` (default
    (1.0, 5.0), the paper's U[1, 5]) needs 0 < low <= high. Everything else is the
    [`NMU`][nalm.torch.nau.NMU]'s: W (in_features, out_features) starts U[0.25, 0.75], is clamped to [0, 1] in
    the forward pass and by `apply_constraints`, with the NMU's sparsity penalty and schedule (10,
    from step 1,000,000 to 2,000,000; the paper's single-module runs use 20,000 to 35,000).

    Shapes: input (..., in_features), output (..., out_features).
    """

    definition = units.SNMU

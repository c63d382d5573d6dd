"""NRU, NMRU and SignNMRU as Keras 3 layers: units that divide.

Paper: Mistry, Li, Weng, Barrett, "Learning Division with Neural Arithmetic Logic Modules", 2021,
arXiv 2110.05177. The formulas live in [`nalm.functional`][nalm.functional] and are applied with
``keras.ops``; the weight W is named and laid out as in [`nalm.torch.division`][nalm.torch.division]. Each
layer computes one formula when called with ``training=True`` (``model.fit``) and another
otherwise (``predict``, ``evaluate``, a plain call), as the authors' code does in training and
evaluation. W is clipped after every optimizer step by its default constraint.

Shapes: input (..., input_dim), output (..., units).
"""

from __future__ import annotations

import keras

from nalm import units
from nalm.keras.base import ArithmeticLayer


@keras.saving.register_keras_serializable(package="nalm")
class NRU(ArithmeticLayer):
    """Neural reciprocal unit (Mistry, Li, Weng & Barrett, "Learning Division with Neural Arithmetic
    Logic Modules", 2021, arXiv 2110.05177).

        y_o = prod_i (sign(x_i) |x_i|^W_io A(W_io) + 1 - A(W_io))
        A(w) = tanh(1000 w)^2 with training=True,  A(w) = |w| otherwise

    W = (1, -1) gives x_0 / x_1 in both modes. W (input_dim, units) starts U[-r, r] with the NAU's
    r, is clipped to [-1, 1] after every step (its default constraint) and used raw in the
    forward pass. Penalty lambda(step) * mean(min(|W|, |1 - |W||)), default 10 ramping from step
    20,000 to 35,000. No eps: x_i = 0 with W_io < 0 gives 0 * inf = NaN. The other keyword
    arguments are those of [`nalm.keras.ArithmeticLayer`][nalm.keras.base.ArithmeticLayer]; everything else as
    [`nalm.torch.NRU`][nalm.torch.division.NRU].

    Shapes: input (..., input_dim), output (..., units).
    """

    definition = units.NRU


@keras.saving.register_keras_serializable(package="nalm")
class NMRU(ArithmeticLayer):
    """Neural multiplicative reciprocal unit (Mistry, Li, Weng & Barrett, "Learning Division with
    Neural Arithmetic Logic Modules", 2021, arXiv 2110.05177).

        x' = [x, 1/(x + eps)] with training=True (eps = 1.1920929e-7),  [x, 1/x] otherwise
        y_o = prod_j (x'_j W_jo + 1 - W_jo),  W (2 input_dim, units) clamped to [0, 1]

    Init U[0.25, 0.75]; penalty and schedule as [`NRU`][nalm.keras.division.NRU]. Outside training a zero
    input gives 1/0 = inf: an output of +-inf, or NaN where that reciprocal's weight is exactly 0.
    Everything else as [`nalm.torch.NMRU`][nalm.torch.division.NMRU].

    Shapes: input (..., input_dim), output (..., units).
    """

    definition = units.NMRU


@keras.saving.register_keras_serializable(package="nalm")
class SignNMRU(ArithmeticLayer):
    """The NMRU with its sign restored, the paper's "NMRU" (Mistry, Li, Weng & Barrett, "Learning
    Division with Neural Arithmetic Logic Modules", 2021, arXiv 2110.05177).

        x' as NMRU;  m_o = prod_j (|x'_j| W_jo + 1 - W_jo), W clamped to [0, 1]
        y = m * cos(k W),  k = pi [x' < 0], with the raw (unclamped) W

    Everything else as [`NMRU`][nalm.keras.division.NMRU] and [`nalm.torch.SignNMRU`][nalm.torch.division.SignNMRU].

    Shapes: input (..., input_dim), output (..., units).
    """

    definition = units.SIGN_NMRU


@keras.saving.register_keras_serializable(package="nalm")
class TiedSignNMRU(ArithmeticLayer):
    """The sign NMRU with one signed weight per input, an approach of nalm's division search that
    solved fewer division runs than the sign NMRU (see [`nalm.torch.TiedSignNMRU`][nalm.torch.division.TiedSignNMRU]).

        w+ = clip(W, 0, 1),  w- = clip(-W, 0, 1),  W clamped to [-1, 1]
        y = SignNMRU(x; [w+; w-])

    W (input_dim, units): 1 takes x_i, -1 its reciprocal, 0 neither. Everything else as
    [`nalm.torch.TiedSignNMRU`][nalm.torch.division.TiedSignNMRU].

    Shapes: input (..., input_dim), output (..., units).
    """

    definition = units.TIED_SIGN_NMRU

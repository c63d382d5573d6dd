"""NAU and NMU as Keras 3 layers.

Paper: Madsen, Johansen, "Neural Arithmetic Units", ICLR 2020, arXiv 2001.05016.

    NAU:  z = x W,                          W clamped to [-1, 1]
    NMU:  z_o = prod_i (W_io x_i + 1 - W_io),  W clamped to [0, 1]

The formulas live in :mod:`nalm.functional` and are applied with ``keras.ops``; the one weight
``W`` is (input_dim, units) as in :mod:`nalm.torch.nau`. It is clamped in every call, and in place
after every optimizer step by its default constraint (:class:`nalm.keras.base.Clamp`), which
``model.fit`` applies and :meth:`apply_constraints` applies in a loop of one's own.

Shapes: input (..., input_dim), output (..., units).
"""

from __future__ import annotations

from typing import Any, ClassVar

import keras

from nalm import functional
from nalm.keras.base import UNITS, ArithmeticLayer, Clamp


@keras.saving.register_keras_serializable(package="nalm")
class NAUUniform(keras.initializers.RandomUniform):
    """The NAU's initialization: U[-r, r], r = min(0.5, sqrt(3) * sqrt(2 / (fan_in + fan_out)))."""

    def __init__(self, seed: Any = None) -> None:
        super().__init__(-0.5, 0.5, seed=seed)

    def __call__(self, shape: tuple[int, ...], dtype: Any = None) -> Any:
        limit = functional.nau_init_limit(*shape)
        return keras.random.uniform(shape, -limit, limit, seed=self.seed, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return {"seed": super().get_config()["seed"]}


class SparseArithmeticLayer(ArithmeticLayer):
    """What NAU and NMU share: one weight W clamped to ``weight_range``, and the paper's sparsity
    penalty lambda(t) * mean(min(|W|, 1 - |W|)) on the schedule of :class:`nalm.functional.SparsitySchedule`."""

    weight_range: ClassVar[tuple[float, float]]
    default_schedule: ClassVar[functional.SparsitySchedule]
    penalized = True

    def __init__(
        self,
        units: int,
        *,
        lambda_sparse: float | None = None,
        lambda_start: int | None = None,
        lambda_end: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Schedule arguments left as None take the paper's value, ``default_schedule``."""
        schedule = self.default_schedule.replace(
            lambda_sparse=lambda_sparse, lambda_start=lambda_start, lambda_end=lambda_end
        )
        super().__init__(
            units,
            weight_names=("W",),
            initializers={"W": self.default_initializer()},
            constraints={"W": Clamp(*self.weight_range)},
            **kwargs,
        )
        self.schedule = schedule

    @staticmethod
    def default_initializer() -> keras.initializers.Initializer:
        """The paper's initialization of W."""
        raise NotImplementedError

    def regularization_loss(self, step: int) -> Any:
        """lambda(step) * mean(min(|W|, 1 - |W|)) of the clamped W: zero until ``lambda_start``."""
        W = functional.clamp(self.tensor("W"), *self.weight_range, ops=keras.ops)
        return self.schedule(step, ops=keras.ops) * functional.sparsity_penalty(W, ops=keras.ops)

    def get_config(self) -> dict[str, Any]:
        s = self.schedule
        return {
            **super().get_config(),
            "lambda_sparse": s.lambda_sparse,
            "lambda_start": s.lambda_start,
            "lambda_end": s.lambda_end,
        }


@UNITS.register("nau")
@keras.saving.register_keras_serializable(package="nalm")
class NAU(SparseArithmeticLayer):
    """Neural addition unit (Madsen & Johansen, "Neural Arithmetic Units", 2020, arXiv 2001.05016).

        z = x W,  W clamped to [-1, 1], no bias

    Adds and subtracts inputs exactly once W is in {-1, 0, 1}. W starts U[-r, r],
    r = min(0.5, sqrt(3) * sqrt(2 / (input_dim + units))) (:class:`NAUUniform`).
    ``regularization_loss(step)`` = lambda(step) * mean(min(|W|, 1 - |W|)), lambda ramping from 0
    at ``lambda_start`` to ``lambda_sparse`` at ``lambda_end`` (the paper's NAU: 0.01, steps
    5,000 to 50,000). The other keyword arguments are those of :class:`nalm.keras.ArithmeticLayer`.

    Shapes: input (..., input_dim), output (..., units).
    """

    weight_range = functional.NAU_RANGE
    default_schedule = functional.NAU_SCHEDULE

    @staticmethod
    def default_initializer() -> keras.initializers.Initializer:
        return NAUUniform()

    def compute(self, inputs: Any) -> Any:
        return functional.nau(inputs, self.tensor("W"), ops=keras.ops)


@UNITS.register("nmu")
@keras.saving.register_keras_serializable(package="nalm")
class NMU(SparseArithmeticLayer):
    """Neural multiplication unit (Madsen & Johansen, "Neural Arithmetic Units", 2020, arXiv 2001.05016).

        z_o = prod_i (W_io x_i + 1 - W_io),  W clamped to [0, 1], no bias

    Multiplies the inputs with W = 1, exactly, for inputs of any sign, zero included; it cannot
    divide. W starts U[0.25, 0.75]. Sparsity penalty as :class:`NAU`, with the paper's NMU
    schedule by default (10, steps 1,000,000 to 2,000,000). The other keyword arguments are those
    of :class:`nalm.keras.ArithmeticLayer`.

    Shapes: input (..., input_dim), output (..., units).
    """

    weight_range = functional.NMU_RANGE
    default_schedule = functional.NMU_SCHEDULE

    @staticmethod
    def default_initializer() -> keras.initializers.Initializer:
        return keras.initializers.RandomUniform(*functional.NMU_INIT_RANGE)

    def compute(self, inputs: Any) -> Any:
        return functional.nmu(inputs, self.tensor("W"), ops=keras.ops)

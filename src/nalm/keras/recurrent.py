"""Any unit as a recurrent Keras layer: h_t = unit([h_{t-1}, z_t]), over sequences of any length."""

from __future__ import annotations

from typing import Any

import keras

from nalm import functional
from nalm.keras.base import UNITS, ArithmeticLayer
from nalm.units import DEFINITIONS, Recurrence


@keras.saving.register_keras_serializable(package="nalm")
class Recurrent(keras.layers.Layer):
    """The registered unit ``unit`` as a recurrent cell ([`nalm.units.Recurrence`][nalm.units.Recurrence]), as ``nalm.torch.Recurrent``.

    h_0 = ``initial_state`` (every feature), h_t = cell([h_{t-1}, z_t]), where ``cell`` is the
    unit's layer with ``hidden_size`` units on hidden_size + features inputs, built with the unit's
    options given as keyword arguments (e.g. ``eps=1e-7``). Inputs (..., T, features), T >= 1;
    the output is h_T (..., hidden_size), or (..., T, hidden_size) with ``return_sequences``.

    Under ``model.fit`` (``training=True``) a penalized cell (NAU, NMU, iNALU, NPU) counts one
    training step per call of this layer, not one per time step, and adds that step's penalty
    once. Example, a running product:

        multiplier = Recurrent("nmu", initial_state=1.0)  # hidden_size=1
        multiplier.build((None, None, 1))
        multiplier.cell.W.assign([[1.0], [1.0]])       # h_t = h_{t-1} * z_t
        multiplier(np.array([[[2.0], [3.0], [4.0]]]))  # [[24.]]
    """

    def __init__(
        self,
        unit: str,
        *,
        hidden_size: int = 1,
        initial_state: float = 0.0,
        return_sequences: bool = False,
        **kwargs: Any,
    ) -> None:
        recurrence = Recurrence(unit, hidden_size, initial_state, return_sequences)
        self.unit_options = {name: kwargs.pop(name) for name in DEFINITIONS[unit].option_names if name in kwargs}
        super().__init__(**kwargs)
        self.recurrence = recurrence
        self.cell: ArithmeticLayer = UNITS.get(unit)(hidden_size, dtype=self.dtype_policy, **self.unit_options)
        self.input_spec = keras.InputSpec(min_ndim=3)
        self.supports_masking = True

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        features = input_shape[-1]
        if features is None:
            raise ValueError(f"Recurrent needs a known feature size (last axis), got input shape {tuple(input_shape)}")
        self.cell.build((None, self.recurrence.cell_sizes(features)[0]))
        self.input_spec = keras.InputSpec(min_ndim=3, axes={-1: features})

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        self.cell.check_dtype(inputs, type(self).__name__)
        self.cell.count_training_step(training)
        r = self.recurrence
        return functional.recur(  # the cell's formula itself: its call would count a step per time step
            lambda h: self.cell.compute(h, training),
            inputs,
            r.hidden_size,
            r.initial_state,
            ops=keras.ops,
            return_sequences=r.return_sequences,
            mask=mask,
        )

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The input's mask goes on with the sequence of states, and ends with h_T."""
        return mask if self.recurrence.return_sequences else None

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        hidden = self.recurrence.hidden_size
        return (*input_shape[:-1], hidden) if self.recurrence.return_sequences else (*input_shape[:-2], hidden)

    def regularization_loss(self, step: Any) -> Any:
        """The cell's penalty at training step ``step``."""
        return self.cell.regularization_loss(step)

    def apply_constraints(self) -> None:
        """The cell's clamps, for training loops of one's own."""
        self.cell.apply_constraints()

    def get_config(self) -> dict[str, Any]:
        r = self.recurrence
        return {
            **super().get_config(),
            "unit": r.unit,
            "hidden_size": r.hidden_size,
            "initial_state": r.initial_state,
            "return_sequences": r.return_sequences,
            **self.unit_options,
        }

"""What every Keras unit shares: argument checks, weights in build(), shapes, masking, config, stacking.

The units themselves are in [`nalm.keras.nalu`][nalm.keras.nalu] (NAC, NALU), [`nalm.keras.nau`][nalm.keras.nau] (NAU, NMU),
[`nalm.keras.inalu`][nalm.keras.inalu] (iNALU), [`nalm.keras.npu`][nalm.keras.npu] (NPU, RealNPU),
[`nalm.keras.division`][nalm.keras.division] (NRU, NMRU, SignNMRU), [`nalm.keras.snmu`][nalm.keras.snmu] (sNMU) and
[`nalm.keras.mcfc`][nalm.keras.mcfc] (MC-FC, MulMCFC); their formulas are in [`nalm.functional`][nalm.functional].
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import keras
from keras import regularizers

from nalm import functional
from nalm.registry import Registry
from nalm.units import Init, Unit
from nalm.validation import layer_sizes, positive_int

UNITS: Registry[type[ArithmeticLayer]] = Registry("keras")
"""Every Keras unit by name: ``UNITS.get("nalu")`` is [`nalm.keras.NALU`][nalm.keras.nalu.NALU]."""


@keras.saving.register_keras_serializable(package="nalm")
class Clamp(keras.constraints.Constraint):
    """Clips a weight into [low, high]: a unit's range for a weight (NAU/NMU's W, the NPU's g).

    Keras optimizers apply a weight's constraint after every step, so ``model.fit`` keeps the
    weight in range as the papers do; [`ArithmeticLayer.apply_constraints`][nalm.keras.base.ArithmeticLayer.apply_constraints] applies it by hand.
    """

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = float(low), float(high)

    def __call__(self, w: Any) -> Any:
        return keras.ops.clip(w, self.low, self.high)

    def get_config(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high}


class _FanUniform(keras.initializers.RandomUniform):
    """U[-r, r] with r = ``limit(fan_in, fan_out)`` of the (fan_in, fan_out) shape it draws."""

    limit: ClassVar[Any]

    def __init__(self, seed: Any = None) -> None:
        super().__init__(-0.5, 0.5, seed=seed)

    def __call__(self, shape: tuple[int, ...], dtype: Any = None) -> Any:
        limit = type(self).limit(*shape)
        return keras.random.uniform(shape, -limit, limit, seed=self.seed, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return {"seed": super().get_config()["seed"]}


@keras.saving.register_keras_serializable(package="nalm")
class NAUUniform(_FanUniform):
    """The NAU's initialization: U[-r, r], r = min(0.5, sqrt(3) * sqrt(2 / (fan_in + fan_out)))."""

    limit = staticmethod(functional.nau_init_limit)


@keras.saving.register_keras_serializable(package="nalm")
class NACUniform(_FanUniform):
    """NAC's "glorot_w" initialization of W_hat and M_hat: U[-r, r], r = [`nalm.functional.nac_init_limit`][nalm.functional.nac_init_limit]
    (W = tanh(W_hat) sigmoid(M_hat) then has variance 2 / max(fan_in + fan_out, 5))."""

    limit = staticmethod(functional.nac_init_limit)


@keras.saving.register_keras_serializable(package="nalm")
class Orthogonal(keras.initializers.Orthogonal):
    """Keras's orthogonal initializer, which also draws a vector (n,): the one row of an orthogonal
    (1, n), a random unit vector (MC-FC's w_o)."""

    def __call__(self, shape: tuple[int, ...], dtype: Any = None) -> Any:
        if len(shape) == 1:
            return keras.ops.reshape(super().__call__((1, shape[0]), dtype=dtype), shape)
        return super().__call__(shape, dtype=dtype)


@keras.saving.register_keras_serializable(package="nalm")
class IdentityOrOrthogonal(Orthogonal):
    """The identity for a square matrix, else an orthogonal one (MC-FC's R)."""

    def __call__(self, shape: tuple[int, ...], dtype: Any = None) -> Any:
        if len(shape) == 2 and shape[0] == shape[1]:
            return keras.ops.eye(shape[0], dtype=dtype)
        return super().__call__(shape, dtype=dtype)


def keras_initializer(init: Init) -> Any:
    """The Keras initializer of a definition's [`nalm.units.Init`][nalm.units.Init] (He: over the fan-in, ReLU gain)."""
    if init.kind == "kaiming_normal":
        return keras.initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal")
    if init.kind == "kaiming_uniform":
        return keras.initializers.VarianceScaling(2.0, "fan_in", "uniform")
    if init.kind == "glorot_uniform":
        return keras.initializers.GlorotUniform()
    if init.kind == "normal":
        return keras.initializers.RandomNormal(*init.args)
    if init.kind == "constant":
        return keras.initializers.Constant(*init.args)
    if init.kind == "nau_uniform":
        return NAUUniform()
    if init.kind == "nac_uniform":
        return NACUniform()
    if init.kind == "orthogonal":
        return Orthogonal()
    if init.kind == "identity_or_orthogonal":
        return IdentityOrOrthogonal()
    return keras.initializers.RandomUniform(*init.args)


class WeightOption:
    """One ``kernel_*`` argument: a Keras object for every weight, or a dict of them by weight name.

    ``module`` is ``keras.initializers``, ``keras.regularizers`` or ``keras.constraints``: its
    ``get`` turns a spec (name, config dict, object) into an object and ``serialize`` turns it back.
    A dict is read per weight when it is not itself a Keras config (those have a ``class_name``);
    the weights it leaves out get their entry in ``defaults`` (weight name -> spec), and so do all
    weights when the argument is None.
    """

    def __init__(
        self,
        argument: str,
        value: Any,
        weight_names: Sequence[str],
        *,
        module: Any,
        defaults: Mapping[str, Any],
    ) -> None:
        self.module = module
        self.defaults = defaults
        if value is None:
            self.value: Any = None
        elif isinstance(value, Mapping) and "class_name" not in value:
            unknown = [name for name in value if name not in weight_names]
            if unknown:
                raise ValueError(
                    f"{argument} names unknown weights {unknown}; this layer's weights are {list(weight_names)}"
                )
            self.value = {name: module.get(spec) for name, spec in value.items()}
        else:
            self.value = module.get(value)

    def get(self, weight_name: str) -> Any:
        """The object for one weight."""
        if self.value is None or (isinstance(self.value, dict) and weight_name not in self.value):
            return self.module.get(self.defaults[weight_name])
        return self.value[weight_name] if isinstance(self.value, dict) else self.value

    def serialize(self) -> Any:
        """The argument as ``get_config`` stores it: None, one serialized object, or a dict of them."""
        if self.value is None:
            return None
        if isinstance(self.value, dict):
            return {name: self.module.serialize(obj) for name, obj in self.value.items()}
        return self.module.serialize(self.value)


class ArithmeticLayer(keras.layers.Layer):
    """Base class of the Keras units: maps (..., input_dim) to (..., units), usable like Dense.

    A subclass names its framework-free definition (``definition``, a [`nalm.units.Unit`][nalm.units.Unit]),
    and the layer reads everything from it: the unit's options (keyword arguments, checked, each
    an attribute), its weights (``build`` creates each as an attribute of its PyTorch name,
    (input_dim, units) or a vector), their initialization, the formula (applied with
    ``ops=keras.ops``), the penalty and the clamps (default constraints).

    Arguments shared by every unit (keyword only):

    - ``input_dim``: the feature size, shorthand for ``input_shape=(input_dim,)``. The layer is
      built at once, so its weights exist before the first call, and as the first layer of a
      ``keras.Sequential`` it gives the model its input.
    - ``kernel_initializer``, ``kernel_regularizer`` and ``kernel_constraint`` (default none: the
      unit's own initialization as its definition says, no regularizer, and the clamps of its
      definition as constraints): one spec for every weight, as in ``Dense``, or a dict
      ``{weight name: spec}`` whose left-out weights get the default, e.g.
      ``kernel_initializer={"G": "zeros"}``. Each weight gets its own copy of an initializer
      object, so the weights do not start equal; an initializer seeded with an integer still draws
      the same values for every weight of the same shape, so seed weights one by one with a dict.
    - the usual layer arguments: ``name``, ``dtype``, ``trainable``, ``activity_regularizer``.

    Inputs have rank >= 2 with features on the last axis; a wrong feature size is rejected by the
    input spec. A mask on the input passes through unchanged. A training loop treats all units
    alike through `regularization_loss` and `apply_constraints`, as in ``nalm.torch``.

    Penalties under ``model.fit``: a unit whose paper adds a penalty (``penalized``: NAU, NMU,
    iNALU, NPU) counts its training steps in the non-trainable weight ``step`` (int32, saved with
    the model), and every call with ``training=True`` first adds 1 to it, then adds
    ``regularization_loss(step)`` to the layer's losses. ``model.fit``, ``train_on_batch`` and a
    loop of one's own that adds ``model.losses`` (or ``stateless_call(..., return_losses=True)``)
    to its loss all train with the scheduled penalty, on every backend; the t-th training call is
    step t, as in ``nalm.torch`` loops, and a loaded model goes on from its saved step. A model
    that calls a layer more than once per training step counts each call.

    Training and evaluation: a unit whose definition has a ``training_formula`` (NRU, NMRU,
    SignNMRU, sNMU) applies it when called with ``training=True`` (``model.fit``) and its plain
    formula otherwise (``predict``, ``evaluate``, a direct call). Its noise, if any, comes from
    ``keras.random.uniform`` with the layer's ``seed_generator`` (a ``keras.random.SeedGenerator``,
    part of ``layer.variables``, not of ``layer.weights``), in the input's dtype.

    Subclasses write their formula in `compute`.
    """

    unit_name: ClassVar[str]
    definition: ClassVar[Unit]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass that names a definition is registered in [`UNITS`][nalm.keras.base.UNITS] under its name."""
        super().__init_subclass__(**kwargs)
        if "definition" in cls.__dict__:
            UNITS.register(cls.definition.name)(cls)

    @property
    def penalized(self) -> bool:
        """Whether the unit's paper adds a penalty (then the layer counts its steps)."""
        return self.definition.penalty is not None

    def __init__(
        self,
        units: int,
        *,
        input_dim: int | None = None,
        kernel_initializer: Any = None,
        kernel_regularizer: Any = None,
        kernel_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        units = positive_int("units", units)
        input_dim = None if input_dim is None else positive_int("input_dim", input_dim)
        given = {name: kwargs.pop(name) for name in self.definition.option_names if name in kwargs}
        options = self.definition.resolve(given)
        super().__init__(**kwargs)
        self.units = units
        self.input_dim = input_dim
        self.options = options
        fixed = {**options, **self.definition.derived(options)}
        for name, value in fixed.items():
            setattr(self, name, value)
        self._fixed = frozenset(fixed)
        layout = self.definition.weights(options)
        self.weight_names = tuple(weight.name for weight in layout)
        self.vectors = {weight.name: weight.shape for weight in layout if weight.shape != "matrix"}
        if self.definition.stochastic:
            self.seed_generator = keras.random.SeedGenerator()
        names = self.weight_names
        own_constraints = {name: Clamp(*bounds) for name, bounds in self.definition.clamps_of(options).items()}
        self.kernel_initializer = WeightOption(
            "kernel_initializer",
            kernel_initializer,
            names,
            module=keras.initializers,
            defaults={weight.name: keras_initializer(weight.init) for weight in layout},
        )
        nothing = dict.fromkeys(names)
        self.kernel_regularizer = WeightOption(
            "kernel_regularizer", kernel_regularizer, names, module=regularizers, defaults=nothing
        )
        self.kernel_constraint = WeightOption(
            "kernel_constraint",
            kernel_constraint,
            names,
            module=keras.constraints,
            defaults={**nothing, **own_constraints},
        )
        self.supports_masking = True
        self.input_spec = keras.InputSpec(min_ndim=2)
        if input_dim is not None:
            # What keras.layers.Layer does with input_dim, without its advice not to use it:
            # keras.Sequential reads this attribute to give the model its InputLayer.
            self._input_shape_arg = (input_dim,)
            self.build((None, input_dim))

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self.__dict__.get("_fixed", ()):
            raise AttributeError(
                f"{type(self).__name__}.{name} is fixed when the layer is built from its options: "
                f"make a new layer with {name}={value!r}"
            )
        super().__setattr__(name, value)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"{type(self).__name__} needs a known feature size (last axis), got input shape {tuple(input_shape)}"
            )
        for name in self.weight_names:
            initializer = self.kernel_initializer.get(name)
            if isinstance(initializer, keras.initializers.Initializer):
                # A copy per weight: one object, seeded once, would draw the same values for all.
                initializer = initializer.clone()
            shapes = {
                "matrix": (input_dim, self.units),
                "reciprocal": (2 * input_dim, self.units),
                "input": (input_dim,),
                "output": (self.units,),
            }
            shape = shapes[self.vectors.get(name, "matrix")]
            weight = self.add_weight(
                name=name,
                shape=shape,
                initializer=initializer,
                regularizer=self.kernel_regularizer.get(name),
                constraint=self.kernel_constraint.get(name),
            )
            setattr(self, name, weight)
        if self.penalized:
            self.step = self.add_weight(name="step", shape=(), initializer="zeros", dtype="int32", trainable=False)
        self.input_spec = keras.InputSpec(min_ndim=2, axes={-1: input_dim})

    def load_own_variables(self, store: Any) -> None:
        """Keras's loader, also for files saved before penalized layers counted their steps (their
        store lacks ``step``, the last variable): the weights load and the count starts at 0."""
        if self.penalized and len(store.keys()) == len(self.weights) - 1:  # weights: without a seed generator
            for index, name in enumerate(self.weight_names):
                getattr(self, name).assign(store[str(index)])
            return
        super().load_own_variables(store)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        """The unit's formula (its training formula with ``training``, where it has one); with
        ``training`` (and a penalty), also count the step and add the penalty of that step to the
        layer's losses. A non-float input raises TypeError."""
        self.check_dtype(inputs)
        self.count_training_step(training)
        return self.compute(inputs, training)

    def check_dtype(self, inputs: Any, owner: str | None = None) -> None:
        """Raise TypeError for a non-float input, naming ``owner`` (default: this layer's class)."""
        dtype = keras.backend.standardize_dtype(inputs.dtype)
        if "float" not in dtype:
            raise TypeError(f"{owner or type(self).__name__} expects a floating-point input, got dtype {dtype}")

    def count_training_step(self, training: bool | None) -> None:
        """With ``training`` (and a penalty): add 1 to ``step`` and that step's penalty to the losses."""
        if training and self.penalized:
            self.step.assign(self.step + 1)
            penalty = self.regularization_loss(keras.ops.cast(self.step, "float32"))  # exact to 2^24 steps
            # In the dtype of the compiled loss (floatx), which Keras adds it to: TensorFlow refuses
            # to sum a float64 or bfloat16 penalty (a layer of that dtype) with a float32 loss.
            self.add_loss(keras.ops.cast(penalty, keras.backend.floatx()))

    def compute(self, inputs: Any, training: bool | None = None) -> Any:
        """The unit's formula: (..., input_dim) -> (..., units); its training formula with
        ``training``, where the definition has one."""
        training_formula = self.definition.training_formula if training else None
        if training_formula is not None:
            return training_formula(inputs, self.named_weights(), self.options, keras.ops, self.uniform)
        return self.definition.formula(inputs, self.named_weights(), self.options, keras.ops)

    def uniform(self, like: Any, low: float, high: float) -> Any:
        """U[low, high) noise of ``like``'s shape and dtype, from the layer's ``seed_generator``."""
        dtype = keras.backend.standardize_dtype(like.dtype)
        return keras.random.uniform(keras.ops.shape(like), low, high, dtype=dtype, seed=self.seed_generator)

    def named_weights(self) -> dict[str, Any]:
        """The weights by name, as backend tensors (as the definition's functions take them)."""
        return {name: self.tensor(name) for name in self.weight_names}

    def tensor(self, name: str) -> Any:
        """Weight ``name`` as a backend tensor (the stateless value inside ``stateless_call``).

        The clamps of [`nalm.functional.clamp`][nalm.functional.clamp] need it: on JAX, ``keras.ops.where`` does not
        take Keras variables.
        """
        return keras.ops.convert_to_tensor(getattr(self, name))

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "input_dim": self.input_dim,
            "kernel_initializer": self.kernel_initializer.serialize(),
            "kernel_regularizer": self.kernel_regularizer.serialize(),
            "kernel_constraint": self.kernel_constraint.serialize(),
            **self.options,
        }

    def regularization_loss(self, step: Any) -> Any:
        """The paper's penalty at training step ``step`` (an int or a tensor; zero where it adds none).

        Under ``model.fit`` the layer adds it itself (see the class docstring); the
        ``kernel_regularizer`` losses are in ``self.losses``.
        """
        penalty = self.definition.penalty
        loss = None if penalty is None else penalty(self.named_weights(), step, self.options, keras.ops)
        return keras.ops.zeros((), dtype=self.variable_dtype) if loss is None else loss

    def apply_constraints(self) -> None:
        """Apply every weight's constraint in place (what Keras optimizers do after each step).

        For training loops of one's own; a unit's range constraint (e.g. NAU's W in [-1, 1]) is
        its default ``kernel_constraint`` for that weight.
        """
        for name in self.weight_names:
            weight = getattr(self, name)
            if weight.constraint is not None:
                weight.assign(weight.constraint(weight))

    @classmethod
    def stack(cls, *dims: int, **options: Any) -> keras.Sequential:
        """A feed-forward network of this unit: ``NALU.stack(in, hidden, ..., out, eps=1e-7)``.

        Each consecutive pair of sizes becomes one layer; ``options`` go to every layer. No
        activations or biases are added between them. The model is built for inputs (batch, in).
        """
        sizes = layer_sizes(dims)
        first = cls(sizes[1], input_dim=sizes[0], **options)
        return keras.Sequential([first, *(cls(units, **options) for units in sizes[2:])])

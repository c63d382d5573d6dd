"""What every PyTorch unit shares: size checks, input checks, the training hooks, and stacking."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Protocol, cast

import torch
from torch import nn

from nalm.registry import Registry
from nalm.units import Init, Unit
from nalm.validation import layer_sizes, positive_int

UNITS: Registry[type[ArithmeticUnit]] = Registry("torch")
"""Every PyTorch unit by name: ``UNITS.get("nalu")`` is [`nalm.torch.NALU`][nalm.torch.nalu.NALU]."""


class ArithmeticUnit(nn.Module):
    """Base class of the units: maps (..., in_features) to (..., out_features).

    Subclasses create their parameters in ``__init__``, initialize them in
    ``reset_parameters()`` and compute their formula from the parameters in every ``forward``.
    A training loop treats all units alike through `regularization_loss` and
    `apply_constraints`.

    Input dtypes (`check_input`, the same rule for every unit): a floating input must have
    the dtype of the unit's parameters; any other float dtype raises TypeError naming both (call
    ``.to(dtype)`` on the unit, or cast the input). Under ``torch.autocast`` for the input's
    device, float32, float16 and bfloat16 inputs and weights may differ: autocast picks each
    operation's dtype, as it does for ``nn.Linear``. It never casts float64, so a float64 input
    or unit must still match (``nn.Linear`` raises there too).
    """

    unit_name: ClassVar[str]

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.in_features = positive_int("in_features", in_features)
        self.out_features = positive_int("out_features", out_features)

    def check_input(self, x: torch.Tensor) -> None:
        """Raise a clear error for a non-float input, a float input of another dtype than the
        parameters' (outside ``torch.autocast``) or a wrong feature size."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{type(self).__name__} expects a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"{type(self).__name__} expects a floating-point input, got dtype {x.dtype}")
        parameter = next(self.parameters(), None)
        if parameter is not None and x.dtype != parameter.dtype and not _autocasts(x, parameter):
            raise TypeError(
                f"{type(self).__name__} holds {_dtype_name(parameter.dtype)} weights but got a "
                f"{_dtype_name(x.dtype)} input: call .to({x.dtype}) on the unit or cast the input"
            )
        if x.dim() == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"{type(self).__name__} expects inputs of shape (..., {self.in_features}), got {tuple(x.shape)}"
            )

    def regularization_loss(self, step: int) -> torch.Tensor:
        """The unit's regularization loss at training step ``step`` (zero unless a paper adds one)."""
        return next(self.parameters()).new_zeros(())

    @torch.no_grad()
    def apply_constraints(self) -> None:
        """Project the parameters back into their allowed range after an optimizer step (none here)."""

    def linear_weight(self) -> torch.Tensor | None:
        """W (..., in_features, out_features) if the unit is linear, forward(x) = x @ W for every x
        (NAC, NAU), else None. A trainer may then compute x @ W itself, e.g. while it draws x."""
        return None

    def weights(self) -> tuple[torch.Tensor, ...]:
        """The effective weight matrices the formula applies, each (..., in_features, out_features)
        (e.g. NAC's tanh(W_hat) * sigmoid(M_hat)), without gates: what the sparsity error reads."""
        raise NotImplementedError(f"{type(self).__name__} does not define weights()")

    @classmethod
    def stack(cls, *dims: int, **options: Any) -> UnitStack:
        """A feed-forward network of this unit: ``NALU.stack(in, hidden, ..., out, eps=1e-7)``.

        Each consecutive pair of sizes becomes one unit; ``options`` go to every unit. No
        activations or biases are added between them.
        """
        sizes = layer_sizes(dims)
        return UnitStack(*(cls(i, o, **options) for i, o in zip(sizes[:-1], sizes[1:])))

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


def _autocasts(x: torch.Tensor, parameter: torch.Tensor) -> bool:
    """Whether ``torch.autocast`` is on for x's device and casts both x and ``parameter`` where it
    casts (it leaves float64 alone)."""
    return torch.is_autocast_enabled(x.device.type) and torch.float64 not in (x.dtype, parameter.dtype)


def _dtype_name(dtype: torch.dtype) -> str:
    """``float32`` for torch.float32."""
    return str(dtype).removeprefix("torch.")


def initialize(weight: torch.Tensor, init: Init, fan_in: int, fan_out: int) -> None:
    """Draw ``weight`` in place as ``init`` says (the layout is (in, out): torch's "fan_out" mode
    reads size(0), the true fan-in here)."""
    if init.kind == "kaiming_normal":
        nn.init.kaiming_normal_(weight, mode="fan_out")
    elif init.kind == "identity_or_orthogonal" and weight.dim() == 2 and weight.shape[0] == weight.shape[1]:
        nn.init.eye_(weight)
    elif init.kind in ("orthogonal", "identity_or_orthogonal"):
        with torch.no_grad():  # a vector: the one row of an orthogonal (1, n), a random unit vector
            nn.init.orthogonal_(weight.view(1, -1) if weight.dim() == 1 else weight)
    elif init.kind == "normal":
        nn.init.normal_(weight, init.args[0], init.args[1])
    elif init.kind == "constant":
        nn.init.constant_(weight, *init.args)
    else:
        nn.init.uniform_(weight, *init.bounds(fan_in, fan_out))


class DefinedUnit(ArithmeticUnit):
    """A unit read from its framework-free definition ([`nalm.units.Unit`][nalm.units.Unit]), ``definition``.

    ``__init__(in_features, out_features, **options)`` checks the options (keyword only, each an
    attribute afterwards, with the definition's derived attributes), creates the weights as
    parameters of their names and draws them; ``forward`` applies the formula with ``ops=torch``;
    `regularization_loss` is the definition's penalty and `apply_constraints` its clamps.

    A definition with a ``training_formula`` (a unit whose paper computes something else in
    training) applies it while the module is in ``train()`` mode, PyTorch's default, and its
    ``formula`` after ``eval()``; its noise, if any, comes from ``torch.rand`` on the input's device,
    in the input's dtype (seed it with ``torch.manual_seed``), or from ``noise`` where it is set:
    a function ``noise(like, low, high)`` that returns U[low, high) values of ``like``'s shape,
    dtype and device (the benchmark gives each seed its own counter-based stream this way).
    """

    noise: Callable[[torch.Tensor, float, float], torch.Tensor] | None = None

    definition: ClassVar[Unit]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass that names a definition is registered in [`UNITS`][nalm.torch.base.UNITS] under its name."""
        super().__init_subclass__(**kwargs)
        if "definition" in cls.__dict__:
            UNITS.register(cls.definition.name)(cls)

    def __init__(self, in_features: int, out_features: int, *more_sizes: int, **options: Any) -> None:
        if more_sizes:  # NAC(100, 2, 1), as the network of 100 -> 2 -> 1 is written elsewhere
            unit, listed = type(self).__name__, ", ".join(map(str, (in_features, out_features, *more_sizes)))
            raise TypeError(
                f"{unit}({listed}): one layer is {unit}(in_features, out_features); "
                f"{unit}.stack({listed}) builds the network {listed.replace(', ', ' -> ')}"
            )
        super().__init__(in_features, out_features)
        self.options = self.definition.resolve(options)
        fixed = {**self.options, **self.definition.derived(self.options)}
        for name, value in fixed.items():
            setattr(self, name, value)
        self._fixed = frozenset(fixed)
        sizes = {
            "matrix": (in_features, out_features),
            "reciprocal": (2 * in_features, out_features),
            "input": (in_features,),
            "output": (out_features,),
        }
        self._layout = self.definition.weights(self.options)
        for weight in self._layout:
            self.register_parameter(weight.name, nn.Parameter(torch.empty(sizes[weight.shape])))
        self.reset_parameters()

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self.__dict__.get("_fixed", ()):
            raise AttributeError(
                f"{type(self).__name__}.{name} is fixed when the unit is built (the formula, the penalty and "
                f"the compiled kernels all read it): build a new unit with {name}={value!r}"
            )
        super().__setattr__(name, value)

    def reset_parameters(self) -> None:
        """Draw every weight again, as the definition initializes it."""
        for weight in self._layout:
            initialize(getattr(self, weight.name), weight.init, self.in_features, self.out_features)

    def named_weights(self) -> dict[str, torch.Tensor]:
        """The raw weights by name, as the definition's functions take them."""
        return {weight.name: getattr(self, weight.name) for weight in self._layout}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        training_formula = self.definition.training_formula if self.training else None
        if training_formula is not None:
            return training_formula(x, self.named_weights(), self.options, torch, self.noise or _uniform)
        return self.definition.formula(x, self.named_weights(), self.options, torch)

    def weights(self) -> tuple[torch.Tensor, ...]:
        return self.definition.effective(self.named_weights(), self.options, torch)

    def regularization_loss(self, step: int) -> torch.Tensor:
        """The paper's penalty at training step ``step`` (zero where it adds none)."""
        penalty = self.definition.penalty
        loss = None if penalty is None else penalty(self.named_weights(), step, self.options, torch)
        return next(self.parameters()).new_zeros(()) if loss is None else loss

    @torch.no_grad()
    def apply_constraints(self) -> None:
        """Clamp the weights the paper keeps in a range into it, in place."""
        for name, (low, high) in self.definition.clamps_of(self.options).items():
            getattr(self, name).clamp_(low, high)

    def extra_repr(self) -> str:
        options = ", ".join(_format_option(name, value) for name, value in self.options.items())
        return f"{super().extra_repr()}, {options}" if options else super().extra_repr()


def _uniform(like: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """U[low, high) noise of ``like``'s shape, dtype and device, from torch's generator."""
    return torch.rand(like.shape, dtype=like.dtype, device=like.device) * (high - low) + low


def _format_option(name: str, value: Any) -> str:
    """``name=value`` for a repr: strings quoted, floats in the shortest form (1e-07, 0.5)."""
    if isinstance(value, str):
        return f"{name}={value!r}"
    if isinstance(value, float):
        return f"{name}={value:g}"
    return f"{name}={value}"


class StackedUnit(Protocol):
    """What [`UnitStack`][nalm.torch.base.UnitStack] reads from its units: an [`ArithmeticUnit`][nalm.torch.base.ArithmeticUnit]'s sizes and
    training hooks ([`nalm.torch.Recurrent`][nalm.torch.recurrent.Recurrent] has the hooks, not the sizes)."""

    in_features: int
    out_features: int

    def regularization_loss(self, step: int) -> torch.Tensor: ...

    def apply_constraints(self) -> None: ...


class UnitStack(nn.Sequential):
    """Units applied one after another, (..., dims[0]) -> (..., dims[-1]), with the training hooks summed."""

    def __init__(self, *units: nn.Module) -> None:
        if not units:
            raise ValueError("a UnitStack needs at least one unit")
        super().__init__(*units)

    def _units(self) -> list[StackedUnit]:
        """The units in order."""
        # nn.Sequential types its modules as nn.Module; a stack's are units (see StackedUnit)
        return cast("list[StackedUnit]", list(self))

    @property
    def dims(self) -> tuple[int, ...]:
        """The sizes (in, hidden..., out) of the stack."""
        units = self._units()
        return (units[0].in_features, *(unit.out_features for unit in units))

    def regularization_loss(self, step: int) -> torch.Tensor:
        """Sum of the units' regularization losses at training step ``step``."""
        return sum((unit.regularization_loss(step) for unit in self._units()), next(self.parameters()).new_zeros(()))

    @torch.no_grad()
    def apply_constraints(self) -> None:
        """Apply every unit's post-step constraint."""
        for unit in self._units():
            unit.apply_constraints()

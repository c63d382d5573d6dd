"""Models of the digit sequence tasks: a small CNN reads each image, a recurrent cell folds the values.

images (B, T, C, H, W) -> reader -> z (B, T, outputs) -> cell over time -> (B, T, outputs), the
running count, sum or product after each image. The reader and the cell train together, end to
end, from the sequence targets alone (Madsen and Johansen 2020, sequential MNIST).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from nalm import functional
from nalm.bench.models.static import PUBLISHED_NAC_INIT, unit_options
from nalm.bench.tasks.digits import SEQUENCE_OPERATIONS, DigitSequenceTask
from nalm.torch import UNITS, Recurrent
from nalm.validation import choice, non_negative_float, positive_int

SEQUENCE_SCHEDULE = functional.SparsitySchedule(10.0, 0, 100_000)
"""The cells' sparsity schedule on the digit tasks: lambda 10 ramped linearly from step 0 to 1e5,
the initial slope of the published 10 (1 - exp(-1e-5 t)), in nalm's linear-ramp form."""

Z_PENALTY = 1.0
"""lambda_z, the weight of the R_z penalty of NAU and NMU cells on the sum and the product, as
Madsen and Johansen train them (their NAU on the sum and NMU on the product both use R_z with 1)."""


class DigitReader(nn.Module):
    """The image network: images (N, C, H, W) -> (N, outputs), any image size.

    Two 3x3 convolutions (16 and 32 channels, ReLU; the second of stride 2), average pooling to
    4x4 (the identity on 8x8 digits), a linear layer with bias: about 5,300 weights for one output.
    Pooling to 1x1 instead kept too little of the digit's shape: on the sum task, after 1,500 steps
    it still predicted the mean digit (test MSE 8.1 at length 1 against 2.3 to 3.1 for 4x4).
    """

    def __init__(self, outputs: int, channels: int = 1) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(channels, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Linear(32 * 4 * 4, outputs),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.layers(images)


@dataclass(frozen=True)
class SequenceModel:
    """A digit-task model: the recurrent cell (a registered unit, or "lstm") and whether the cell
    is fixed to the exact solution of the task (the baseline that defines success)."""

    cell: str
    fixed: bool = False

    def lambda_z(self, operation: str) -> float:
        """The R_z weight of this model on ``operation``: [`Z_PENALTY`][nalm.bench.models.digits.Z_PENALTY] for a trainable NAU or
        NMU cell on the sum and the product, else 0. Not on ``count``: its exact cell reads each
        z_i with weight 0 in the other classes' rows, where R_z would pull the weight towards 1."""
        trained = self.cell in ("nau", "nmu") and not self.fixed
        return Z_PENALTY if trained and choice("operation", operation, SEQUENCE_OPERATIONS) != "count" else 0.0

    def describe(self, operation: str) -> str:
        """ "nau cell, fixed to the exact solution" or, on the product,
        "nmu cell, sparsity 10 from step 0 to 100000 of min(|W|, |1 - |W||), R_z 1"."""
        if self.fixed:
            return f"{self.cell} cell, fixed to the exact solution"
        options = cell_options(self.cell)
        text = f"{self.cell} cell"
        if "lambda_sparse" in options:
            s = SEQUENCE_SCHEDULE
            text += f", sparsity {s.lambda_sparse:g} from step {s.lambda_start} to {s.lambda_end} of {functional.SPARSITY_PENALTY}"
        if "init" in options:
            text += f", init {options['init']}"
        weight = self.lambda_z(operation)
        return text + (f", R_z {weight:g}" if weight else "")


def cell_options(cell: str) -> dict[str, Any]:
    """The options of a digit task's recurrent ``cell``: [`SEQUENCE_SCHEDULE`][nalm.bench.models.digits.SEQUENCE_SCHEDULE] and the published
    NAC weights' init where the unit has them ([`unit_options`][nalm.bench.models.static.unit_options]); none for "lstm"."""
    return unit_options(cell, SEQUENCE_SCHEDULE, PUBLISHED_NAC_INIT) if cell in UNITS else {}


SEQUENCE_MODELS: dict[str, SequenceModel] = {
    "nau": SequenceModel("nau"),
    "nmu": SequenceModel("nmu"),
    "nac": SequenceModel("nac"),
    "nalu": SequenceModel("nalu"),
    "lstm": SequenceModel("lstm"),
    "fixed_nau": SequenceModel("nau", fixed=True),
    "fixed_nmu": SequenceModel("nmu", fixed=True),
}
"""The digit-task models by name. ``fixed_nau`` (exact for count and sum) and ``fixed_nmu``
(exact for product) learn only their reader: the baselines whose MSE sets the success bound."""

LSTM_HIDDEN = 10
"""The LSTM baseline's hidden size; a linear layer maps its state to the outputs."""


class DigitSequenceModel(nn.Module):
    """A reader and a recurrent cell: images (B, T, C, H, W) -> (B, T, outputs).

    The cell is [`nalm.torch.Recurrent`][nalm.torch.recurrent.Recurrent] of the unit ``cell`` with hidden_size = input_size =
    ``outputs``, h_0 = 1 for an NMU (a running product) and 0 otherwise, so an NAU cell with
    W = [I; I] counts or sums and an NMU cell with W = [1; 1] multiplies. ``cell="lstm"`` is the
    LSTM baseline (hidden [`LSTM_HIDDEN`][nalm.bench.models.digits.LSTM_HIDDEN], then a linear layer). ``fixed`` sets an NAU or NMU
    cell to that exact solution and freezes it.

    NAU and NMU cells follow [`SEQUENCE_SCHEDULE`][nalm.bench.models.digits.SEQUENCE_SCHEDULE], and with ``lambda_z`` > 0 add
    ``lambda_z`` * [`r_z`][nalm.bench.models.digits.r_z] of the cell's weights and the mean of its inputs [h_{t-1}, z_t] over
    the batch and time of the last forward pass.
    """

    def __init__(
        self, cell: str, outputs: int, *, reader: nn.Module | None = None, fixed: bool = False, lambda_z: float = 0.0
    ) -> None:
        super().__init__()
        cell = choice("cell", cell, tuple(sorted({m.cell for m in SEQUENCE_MODELS.values()})))
        self.outputs = positive_int("outputs", outputs)
        self.reader = DigitReader(outputs) if reader is None else reader
        self.lambda_z = non_negative_float("lambda_z", lambda_z)
        if self.lambda_z and cell not in ("nau", "nmu"):
            raise ValueError(f"R_z (lambda_z > 0) is defined for nau and nmu cells, got a {cell} cell")
        self._input_mean: torch.Tensor | None = None
        if cell == "lstm":
            if fixed:
                raise ValueError("an LSTM cell has no exact solution to fix")
            self.lstm = nn.LSTM(outputs, LSTM_HIDDEN, batch_first=True)
            self.readout = nn.Linear(LSTM_HIDDEN, outputs)
            return
        initial = 1.0 if cell == "nmu" else 0.0
        self.cell = Recurrent(
            cell, outputs, hidden_size=outputs, initial_state=initial, return_sequences=True, **cell_options(cell)
        )
        if fixed:
            if cell not in ("nau", "nmu"):
                raise ValueError(f"only nau and nmu cells have an exact solution to fix, got {cell!r}")
            W = self.cell.cell.get_parameter("W")
            with torch.no_grad():
                W.copy_(torch.eye(outputs).repeat(2, 1))  # [I; I]: h_t = h_{t-1} op z_t
            W.requires_grad_(False)

    def read(self, images: torch.Tensor) -> torch.Tensor:
        """images (..., C, H, W) -> (..., outputs)."""
        z = self.reader(images.flatten(0, -4))
        return z.unflatten(0, images.shape[:-3])

    def fold(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, T, outputs) -> the cell's output after each step, (B, T, outputs)."""
        if hasattr(self, "lstm"):
            return self.readout(self.lstm(z)[0])
        return self.cell(z)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dim() != 5:
            raise ValueError(f"expected images of shape (B, T, C, H, W), got {tuple(images.shape)}")
        z = self.read(images)
        states = self.fold(z)
        if self.lambda_z > 0:  # the mean of the cell's inputs [h_{t-1}, z_t] over batch and time, for R_z
            h = torch.cat([torch.full_like(states[:, :1], self.cell.recurrence.initial_state), states[:, :-1]], dim=1)
            self._input_mean = torch.cat([h, z], dim=-1).mean(dim=(0, 1))
        return states

    def regularization_loss(self, step: int) -> torch.Tensor:
        """The cell's penalty at ``step``, plus lambda_z R_z after a forward pass."""
        if hasattr(self, "lstm"):
            return self.readout.weight.new_zeros(())
        loss = self.cell.regularization_loss(step)
        unit = self.cell.cell
        if self._input_mean is not None and self.lambda_z > 0:
            loss = loss + self.lambda_z * r_z(self.cell.recurrence.unit, unit.get_parameter("W"), self._input_mean)
        return loss

    def extra_repr(self) -> str:
        return f"lambda_z={self.lambda_z:g}"

    @torch.no_grad()
    def apply_constraints(self) -> None:
        if not hasattr(self, "lstm"):
            self.cell.apply_constraints()

    @torch.no_grad()
    def recurrence_error(self) -> float | None:
        """max |W_h - I| over the cell's effective weights on h_{t-1}: 0 exactly when the cell
        carries its state as the exact solution does (h_t = h_{t-1} op z_t, whatever scale it gives
        z, which the reader can absorb); None for the LSTM."""
        if hasattr(self, "lstm"):
            return None
        (W,) = self.cell.cell.weights()
        identity = torch.eye(self.outputs, dtype=W.dtype, device=W.device)
        return (W[: self.outputs] - identity).abs().max().item()


def r_z(cell: str, W: torch.Tensor, input_mean: torch.Tensor) -> torch.Tensor:
    """Madsen and Johansen's R_z of a unit with weights W (H_in, H_out) whose inputs x have the
    means ``input_mean`` (H_in,): 1 / (H_in H_out) times the sum over every weight W_io of

    - NMU: (1 - W_io) (1 - mean x_i)^2, pulling an input the unit ignores towards 1, the identity
      of the product (away from solutions such as 0.1 * 81 + 1 - 0.1 = 9 that multiply by the
      wrong value);
    - NAU: (1 - |W_io|) (mean x_i)^2, pulling it towards 0, the identity of the sum.

    For a recurrent cell x = [h_{t-1}, z_t]: the state's rows pull W_h towards the identity too.
    """
    x = input_mean[:, None]
    if cell == "nmu":
        terms = (1 - W) * (1 - x) ** 2
    elif cell == "nau":
        terms = (1 - W.abs()) * x**2
    else:
        raise ValueError(f"R_z is defined for nau and nmu cells, got {cell!r}")
    return terms.sum() / W.numel()


def build_sequence_model(name: str, task: DigitSequenceTask) -> DigitSequenceModel:
    """The digit-task model ``name`` (a key of [`SEQUENCE_MODELS`][nalm.bench.models.digits.SEQUENCE_MODELS]) for ``task``: its outputs
    per step, and R_z as [`SequenceModel.lambda_z`][nalm.bench.models.digits.SequenceModel.lambda_z] sets it for the task's operation."""
    spec = SEQUENCE_MODELS[choice("model", name, tuple(SEQUENCE_MODELS))]
    return DigitSequenceModel(spec.cell, task.outputs, fixed=spec.fixed, lambda_z=spec.lambda_z(task.operation))

"""Units as recurrent cells: h_t = unit([h_{t-1}, z_t]) in PyTorch (Keras: test_keras_layers.py)."""

import math

import pytest
import torch

from nalm import functional
from nalm.torch import UNITS, Recurrent
from nalm.units import Recurrence


def exact(unit, initial_state=0.0, **options):
    """A one-feature recurrent ``unit`` whose cell has W = [[1], [1]]: it sums (NAU) or multiplies (NMU)."""
    model = Recurrent(unit, 1, initial_state=initial_state, **options).double()
    with torch.no_grad():
        model.cell.W.fill_(1.0)
    return model


def test_an_nau_cell_with_unit_weights_sums_any_sequence_exactly():
    z = torch.randint(-9, 10, (2, 3, 1000, 1)).double()  # leading axes (2, 3), 1000 steps
    assert torch.equal(exact("nau")(z), z.sum(-2))
    states = Recurrent("nau", 1, return_sequences=True).double()
    with torch.no_grad():
        states.cell.W.fill_(1.0)
    assert torch.equal(states(z), z.cumsum(-2))


def test_an_nmu_cell_with_unit_weights_multiplies_the_sequence():
    z = torch.randint(-3, 4, (5, 20, 1)).double()
    assert torch.equal(exact("nmu", initial_state=1.0)(z), z.prod(-2))
    assert torch.equal(exact("nmu", initial_state=2.0)(z[:, :3]), 2 * z[:, :3].prod(-2))


@pytest.mark.parametrize("unit", UNITS.names())
def test_every_unit_folds_sequences_of_any_length_and_shape(unit):
    # h_0 = 1 for the units that divide or take logs (the NRU, the NMRU at evaluation and MulMCFC
    # are not finite at 0); in eval() mode, where the sNMU draws no noise
    initial = 1.0 if unit in ("nru", "nmru", "sign_nmru", "tied_sign_nmru", "mul_mcfc") else 0.0
    torch.manual_seed(0)
    model = Recurrent(unit, input_size=3, hidden_size=2, return_sequences=True, initial_state=initial).eval()
    for shape in ((4, 1, 3), (2, 5, 7, 3)):
        z = torch.rand(shape) + 0.5
        states = model(z)
        assert states.shape == (*shape[:-1], 2) and torch.isfinite(states).all()
        last = Recurrent(unit, input_size=3, hidden_size=2, initial_state=initial).eval()
        last.load_state_dict(model.state_dict())
        assert torch.equal(last(z), states[..., -1, :])


@pytest.mark.parametrize("unit", ["nac", "nau", "nmu", "nalu"])
def test_gradients_through_time_are_exact_in_float64(unit):
    torch.manual_seed(1)
    model = Recurrent(unit, input_size=2, hidden_size=2, initial_state=0.5).double()
    z = (torch.rand(3, 4, 2, dtype=torch.float64) + 0.5).requires_grad_()
    assert torch.autograd.gradcheck(lambda z, *weights: model(z), (z, *model.parameters()))


def test_the_training_hooks_are_the_cells():
    model = Recurrent("nau", 1, lambda_start=0, lambda_end=10)
    with torch.no_grad():
        model.cell.W.fill_(0.25)
    assert model.regularization_loss(5).item() == pytest.approx(model.cell.regularization_loss(5).item())
    assert model.regularization_loss(5).item() > 0
    with torch.no_grad():
        model.cell.W.fill_(3.0)
    model.apply_constraints()
    assert torch.equal(model.cell.W, torch.ones(2, 1))


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        (("lstm", 1), ValueError, "unknown unit 'lstm'"),
        (("nau", 0), ValueError, "input_size must be"),
        (("nau", 1, 0), ValueError, "hidden_size must be"),
        (("nau", 1, 1, math.nan), ValueError, "initial_state must be a finite number"),
        (("nau", 1, 1, "1"), ValueError, "initial_state must be a finite number"),
        (("nau", 1, 1, True), ValueError, "initial_state must be a finite number"),
        (("nau", 1, 1, 0.0, "yes"), ValueError, "return_sequences must be True or False"),
    ],
)
def test_bad_arguments_are_refused(arguments, error, message):
    unit, input_size, *rest = arguments
    options = dict(zip(("hidden_size", "initial_state", "return_sequences"), rest))
    with pytest.raises(error, match=message):
        Recurrent(unit, input_size, **options)


def test_unknown_unit_options_are_refused():
    with pytest.raises(TypeError, match="unknown options"):
        Recurrent("nau", 1, eps=1e-7)


@pytest.mark.parametrize(
    ("z", "message"),
    [
        (torch.zeros(4, 0, 1), "at least one time step"),
        (torch.zeros(4, 3, 2), r"\(\.\.\., T, 1\)"),
        (torch.zeros(3), r"\(\.\.\., T, 1\)"),
    ],
)
def test_bad_inputs_are_refused(z, message):
    with pytest.raises(ValueError, match=message):
        Recurrent("nau", 1)(z)


def test_integer_inputs_get_the_units_error():
    with pytest.raises(TypeError, match="floating-point"):
        Recurrent("nau", 1)(torch.ones(2, 3, 1, dtype=torch.int64))


def test_the_fold_is_one_function_for_both_frameworks():
    recurrence = Recurrence("nau", hidden_size=2, initial_state=1.0)
    assert recurrence.cell_sizes(3) == (5, 2)
    calls = []

    def cell(x):
        calls.append(x.shape)
        return x[..., :2] + x[..., 2:4]

    out = functional.recur(cell, torch.ones(6, 4, 3), 2, 1.0, ops=torch)
    assert calls == [(6, 5)] * 4 and torch.equal(out, torch.full((6, 2), 5.0))


def test_the_fold_skips_masked_steps():
    z = torch.tensor([[[2.0], [3.0], [5.0]]])
    mask = torch.tensor([[True, False, True]])
    adder = exact("nau")
    assert functional.recur(adder.cell, z.double(), 1, 0.0, ops=torch, mask=mask).item() == 7.0
    states = functional.recur(adder.cell, z.double(), 1, 0.0, ops=torch, mask=mask, return_sequences=True)
    assert states[0, :, 0].tolist() == [2.0, 2.0, 7.0]

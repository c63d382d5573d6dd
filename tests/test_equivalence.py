"""PyTorch and Keras compute the same units: same weights in, same outputs and gradients out.

Both frameworks apply the formulas of nalm.functional; this pins their adapters together (weight
names, layout, options). The Keras side runs on the environment's backend (torch when
``KERAS_BACKEND`` is unset), with gradients from that backend's own autodiff.
"""

import numpy as np
import pytest
import torch

pytest.importorskip("keras")

import keras

import nalm.keras
import nalm.torch

CASES = [pytest.param(name, {}, id=name) for name in nalm.torch.UNITS] + [
    pytest.param("nalu", {"shared_weights": False}, id="nalu-separate"),
    # max_exponent=0.5 caps about 1 in 6 of the exponents below, so the cap's zero gradient is compared too
    pytest.param("nalu", {"shared_weights": False, "eps": 1e-3, "max_exponent": 0.5}, id="nalu-capped"),
    pytest.param("nalu", {"gate": "independent"}, id="nalu-independent"),
    pytest.param("inalu", {"gate": "input"}, id="inalu-input"),
    # eps=1 floors most of the inputs below and omega=0.15 caps 7 of the 30 exponents, so the
    # clips' zero gradients are compared too
    pytest.param("inalu", {"omega": 0.15, "eps": 1.0}, id="inalu-clipped"),
    pytest.param("npu", {"l1": 0.1}, id="npu-l1"),
    pytest.param("nau", {"lambda_start": 0, "lambda_end": 100}, id="nau-ramp"),
]


def paired_units(name, options):
    """A PyTorch unit (4 -> 3) and a Keras layer with the same weights. The NPU's W_im and g are
    moved off their initial constants (0 and 1/2), so that every term of its formula counts. The
    module is in eval() mode, which a Keras layer called without ``training`` matches (the units
    that train with another formula are compared in training too in test_units_2022.py)."""
    torch.manual_seed(0)
    module = nalm.torch.UNITS.get(name)(4, 3, **options).eval()
    if name == "npu":
        with torch.no_grad():
            module.W_im.normal_(0.0, 0.5)
            module.g.uniform_(0.1, 0.9)
    layer = nalm.keras.UNITS.get(name)(3, input_dim=4, **options)
    for weight in layer.trainable_weights:
        weight.assign(getattr(module, weight.name).detach().numpy())
    assert len(layer.trainable_weights) == len(list(module.parameters()))
    return module, layer


def keras_output_and_gradients(layer, x, cotangent):
    """The layer's output on ``x`` and the gradients of sum(output * cotangent), as numpy arrays.

    Returns (output, gradient w.r.t. x, {weight name: gradient}). The layer runs statelessly on
    weight values that the backend's autodiff can trace: torch tensors requiring grad, the
    arguments of a jax.grad function, or tensors a tf.GradientTape watches.
    """
    names = [w.name for w in layer.trainable_weights]
    weights = [keras.ops.convert_to_numpy(w) for w in layer.trainable_weights]
    steps = [keras.ops.convert_to_numpy(w) for w in layer.non_trainable_variables]  # step count, seed state
    backend = keras.backend.backend()
    if backend == "torch":
        x, *weights = (keras.ops.convert_to_tensor(a).requires_grad_() for a in (x, *weights))
        output, _ = layer.stateless_call(weights, steps, x)
        loss = (output * keras.ops.convert_to_tensor(cotangent)).sum()
        gradients = torch.autograd.grad(loss, [x, *weights])
        output = output.detach()
    elif backend == "jax":
        import jax

        def loss(x, weights):
            output, _ = layer.stateless_call(weights, steps, x)
            return (output * cotangent).sum(), output

        (_, output), (dx, dweights) = jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(x, weights)
        gradients = [dx, *dweights]
    elif backend == "tensorflow":
        import tensorflow as tf

        x, *weights = (tf.constant(a) for a in (x, *weights))
        with tf.GradientTape() as tape:
            tape.watch([x, *weights])
            output, _ = layer.stateless_call(weights, steps, x)
            loss = tf.reduce_sum(output * cotangent)
        gradients = tape.gradient(loss, [x, *weights])
    else:
        pytest.skip(f"gradients are wired for the torch, jax and tensorflow backends, not {backend}")
    as_numpy = [keras.ops.convert_to_numpy(g) for g in (output, *gradients)]
    return as_numpy[0], as_numpy[1], dict(zip(names, as_numpy[2:]))


def assert_same_outputs_and_gradients(module, layer):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 4)).astype("float32")
    if type(module).__name__ == "MulMCFC":  # positive inputs only (log x)
        x = np.abs(x) + 0.1
    if type(module).__name__ in (
        "NRU",
        "NMRU",
        "SignNMRU",
        "TiedSignNMRU",
    ):  # off 0, where 1/x magnifies float32 rounding
        x = x + np.sign(x) * 0.5
    cotangent = rng.normal(size=(2, 5, 3)).astype("float32")

    x_torch = torch.tensor(x, requires_grad=True)
    output_torch = module(x_torch)
    (output_torch * torch.tensor(cotangent)).sum().backward()

    output, dx, dweights = keras_output_and_gradients(layer, x, cotangent)
    tolerance = {"rtol": 1e-5, "atol": 1e-6}
    if type(module).__name__ in ("SignNMRU", "TiedSignNMRU"):
        # products over x and 1/x span a wide range: torch's float32 gradient of W is 3e-5 off the
        # float64 one here, TensorFlow's 3e-6 (rounding, not a different formula)
        tolerance["rtol"] = 1e-4
    np.testing.assert_allclose(output, output_torch.detach().numpy(), **tolerance)
    np.testing.assert_allclose(dx, x_torch.grad.numpy(), **tolerance)
    assert dweights.keys() == dict(module.named_parameters()).keys()
    for weight_name, gradient in dweights.items():
        expected = getattr(module, weight_name).grad.numpy()
        np.testing.assert_allclose(gradient, expected, **tolerance, err_msg=weight_name)


@pytest.mark.parametrize("name, options", CASES)
def test_torch_and_keras_units_agree(name, options):
    assert_same_outputs_and_gradients(*paired_units(name, options))


@pytest.mark.parametrize("name", ["nau", "nmu", "npu", "realnpu"])
def test_gradients_agree_with_weights_on_their_bounds(name):
    # After a clamp the weights sit on their bounds, where the solutions lie (W = -1, 0, 1; g = 0, 1):
    # every backend must pass the full gradient there, as torch.clamp does (jax's clip halves it).
    module, layer = paired_units(name, {})
    before = [p.detach().clone() for p in module.parameters()]
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.mul_(100.0)
        module.apply_constraints()
        for parameter, value in zip(module.parameters(), before):
            if torch.equal(parameter, 100.0 * value):  # not a clamped weight: put it back
                parameter.copy_(value)
    on_bounds = sum(int(((p == 0) | (p.abs() == 1)).sum()) for p in module.parameters())
    assert on_bounds >= 4
    for weight in layer.trainable_weights:
        weight.assign(getattr(module, weight.name).detach().numpy())
    assert_same_outputs_and_gradients(module, layer)


@pytest.mark.parametrize("name, options", CASES)
def test_torch_and_keras_training_hooks_agree(name, options):
    # Weights pushed out of their ranges (NAU/NMU weights beyond [-1, 1], NPU gates beyond [0, 1]),
    # so that the projection has work to do; the penalties are compared along their schedules.
    module, layer = paired_units(name, options)
    rng = np.random.default_rng(1)
    for weight in layer.trainable_weights:
        value = 3 * rng.normal(size=tuple(weight.shape)).astype("float32")
        weight.assign(value)
        with torch.no_grad():
            getattr(module, weight.name).copy_(torch.from_numpy(value))
    for step in (0, 50, 10_001, 1_500_000, 10**8):
        expected = module.regularization_loss(step).item()
        actual = float(keras.ops.convert_to_numpy(layer.regularization_loss(step)))
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-7, err_msg=f"step {step}")
    module.apply_constraints()
    layer.apply_constraints()
    for weight in layer.trainable_weights:
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(weight), getattr(module, weight.name).detach().numpy())


@pytest.mark.parametrize("name", list(nalm.torch.UNITS))
def test_recurrent_cells_give_the_same_sequences(name):
    torch.manual_seed(0)
    module = nalm.torch.Recurrent(name, input_size=3, hidden_size=2, initial_state=0.5, return_sequences=True).eval()
    layer = nalm.keras.Recurrent(name, hidden_size=2, initial_state=0.5, return_sequences=True)
    layer.build((None, None, 3))
    for weight in layer.cell.trainable_weights:
        weight.assign(getattr(module.cell, weight.name).detach().numpy())
    z = np.random.default_rng(0).uniform(0.5, 1.5, (4, 6, 3)).astype("float32")
    expected = module(torch.from_numpy(z)).detach().numpy()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(z)), expected, rtol=1e-5, atol=1e-6)

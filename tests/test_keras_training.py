"""Keras training is the papers' training: scheduled penalties under model.fit, on every backend.

The Keras side runs on the environment's backend (torch when ``KERAS_BACKEND`` is unset; also
``KERAS_BACKEND=jax`` or ``tensorflow``).
"""

import numpy as np
import pytest
import torch

pytest.importorskip("keras")

import keras

from nalm.bench.engine import TrainConfig, train
from nalm.bench.tasks import StaticArithmeticTask
from nalm.bench.tasks.streams import SeedStreams
from nalm.keras import INALU, NALU, NAU, NMU, NPU
from nalm.torch import NAU as TorchNAU
from nalm.torch import NMU as TorchNMU
from nalm.torch import UnitStack

SCHEDULE = {"lambda_sparse": 10.0, "lambda_start": 10, "lambda_end": 30}
"""A penalty strong enough to move the weights, ramping up within the run."""


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def steps(model):
    return [int(numpy(layer.step)) for layer in model.layers]


def test_the_same_nau_nmu_trains_to_the_same_weights_in_pytorch_and_in_keras_fit():
    task = StaticArithmeticTask("mul", input_size=6, subset_ratio=0.5)
    config = TrainConfig(steps=40, batch_size=16, learning_rate=0.01, eval_every=40, eval_size=16)
    torch.manual_seed(0)
    reference = UnitStack(TorchNAU(6, 2, **SCHEDULE), TorchNMU(2, 1, **SCHEDULE))
    initial = [layer.W.detach().numpy().copy() for layer in reference]
    # the batches the PyTorch loop draws, step by step, for seed 0
    streams = SeedStreams([0], "train")
    batches = [task.sample(16, task.interpolation_range, [task.subsets(0)], streams) for _ in range(40)]
    x = torch.cat([b[0][0] for b in batches]).numpy()
    y = torch.cat([b[1][0] for b in batches]).numpy()
    train(reference, task, config)  # the benchmark's loop: MSE + lambda(t) (R1 + R2), Adam, clamps

    model = keras.Sequential([NAU(2, input_dim=6, **SCHEDULE), NMU(1, **SCHEDULE)])
    for layer, W in zip(model.layers, initial):
        layer.W.assign(W)
    # PyTorch's Adam adds eps to the bias-corrected root, Keras's to the raw one: tiny eps for both
    model.compile(keras.optimizers.Adam(0.01, epsilon=1e-12), "mse")
    history = model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    assert steps(model) == [40, 40]
    for layer, expected in zip(model.layers, reference):
        np.testing.assert_allclose(numpy(layer.W), expected.W.detach().numpy(), rtol=2e-4, atol=2e-5)
    assert np.isfinite(history.history["loss"][0])

    # without the penalty the weights end elsewhere: the test can tell
    unpenalized = keras.Sequential([NAU(2, input_dim=6, lambda_sparse=0.0), NMU(1, lambda_sparse=0.0)])
    for layer, W in zip(unpenalized.layers, initial):
        layer.W.assign(W)
    unpenalized.compile(keras.optimizers.Adam(0.01, epsilon=1e-12), "mse")
    unpenalized.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    differences = [np.abs(numpy(a.W) - numpy(b.W)).max() for a, b in zip(model.layers, unpenalized.layers)]
    assert max(differences) > 1e-2


def test_the_fit_loss_holds_the_penalty_of_each_step():
    x = np.full((4, 2), 1.5, dtype="float32")
    layer = NAU(1, input_dim=2, lambda_sparse=2.0, lambda_start=0, lambda_end=2)
    layer.W.assign(np.array([[0.25], [0.25]], dtype="float32"))  # x W = 0.75, R = mean(0.25, 0.25)
    model = keras.Sequential([layer])
    model.compile(keras.optimizers.SGD(0.0), "mse")  # learning rate 0: the weights stay put
    y = np.full((4, 1), 0.75, dtype="float32")  # MSE 0: the loss is the penalty alone
    losses = [model.train_on_batch(x, y) for _ in range(3)]
    np.testing.assert_allclose(losses, [1.0 * 0.25, 2.0 * 0.25, 2.0 * 0.25], rtol=1e-6)  # lambda(1..3) R
    assert steps(model) == [3]
    model.predict(x, verbose=0)  # inference counts no step
    assert steps(model) == [3]


def test_a_saved_model_goes_on_from_its_step(tmp_path):
    x = np.random.default_rng(0).uniform(1, 2, (32, 3)).astype("float32")
    model = keras.Sequential([NAU(2, input_dim=3), NMU(1)])
    model.compile("adam", "mse")
    model.fit(x, x[:, :1] * x[:, 1:2], batch_size=8, epochs=1, verbose=0)
    assert steps(model) == [4, 4]
    model.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras")
    assert steps(restored) == [4, 4]
    restored.fit(x, x[:, :1] * x[:, 1:2], batch_size=8, epochs=1, verbose=0)
    assert steps(restored) == [8, 8]


@pytest.mark.parametrize(
    "layer", [lambda: INALU(1, input_dim=2, regularization_start=0), lambda: NPU(1, input_dim=2, l1=0.5)]
)
def test_every_penalized_unit_adds_its_penalty_under_fit(layer):
    x = np.full((4, 2), 1.5, dtype="float32")
    model = keras.Sequential([layer()])
    model.compile(keras.optimizers.SGD(0.0), "mse")
    y = numpy(model(x))  # MSE 0: the loss is the penalty alone
    loss = model.train_on_batch(x, y)
    expected = numpy(model.layers[0].regularization_loss(1))
    assert loss == pytest.approx(float(expected), rel=1e-5) and loss > 0


@pytest.mark.parametrize("trainable", [True, False])
def test_weights_saved_before_layers_counted_steps_still_load(trainable):
    layer = NAU(2, input_dim=3, trainable=trainable)
    saved = {"0": np.full((3, 2), 0.25, dtype="float32")}  # what an older file holds: W alone

    class Store(dict):
        pass

    layer.load_own_variables(Store(saved))
    np.testing.assert_array_equal(numpy(layer.W), saved["0"])
    assert int(numpy(layer.step)) == 0


def test_the_seed_documents_demo_runs():
    """The seed document's demo, as written: a Sequential of one NALU fit with Adam on MSE."""
    rng = np.random.default_rng(0)
    x = rng.random((128, 10), dtype="float32")
    y = rng.random((128, 1), dtype="float32")
    model = keras.Sequential([keras.Input((10,)), NALU(1)])
    model.compile("adam", "mse")
    history = model.fit(x, y, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert model.predict(x, verbose=0).shape == (128, 1)


@pytest.mark.filterwarnings("ignore:Explicitly requested dtype float64:UserWarning")  # JAX without x64: float32
@pytest.mark.parametrize("dtype", ["float64", "bfloat16", "mixed_bfloat16"])
def test_penalized_units_of_any_float_dtype_add_their_penalties_under_fit(dtype):
    # Each penalty is computed in its layer's dtype and added in floatx, the compiled loss's dtype
    # (TensorFlow sums no losses of mixed dtypes).
    schedule = {"lambda_start": 0, "lambda_end": 2}
    model = keras.Sequential(
        [
            keras.Input((3,)),
            NAU(2, dtype=dtype, **schedule),
            NMU(2, dtype=dtype, **schedule),
            INALU(2, dtype=dtype, regularization_start=0),
            NPU(1, dtype=dtype, l1=0.1),
        ]
    )
    model.compile("adam", "mse")
    x = np.random.default_rng(0).uniform(1, 2, (16, 3)).astype("float32")
    history = model.fit(x, x.prod(-1, keepdims=True), batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert steps(model) == [2, 2, 2, 2]
    model(x, training=True)
    assert [keras.backend.standardize_dtype(loss.dtype) for loss in model.losses] == [keras.backend.floatx()] * 4

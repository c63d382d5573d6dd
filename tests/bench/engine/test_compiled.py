"""The compiled training steps: their hand-written gradients equal autograd of the shared formulas,
and whole runs equal the PyTorch loop."""

import copy
import inspect
import os
import subprocess
import sys
import warnings

import numba
import numpy as np
import pytest
import torch
from numba.core.errors import NumbaPerformanceWarning

from nalm.bench.engine import TrainConfig, compiled, stack_seeds, train_stacked
from nalm.bench.engine.stacking import clip_seed_gradients
from nalm.bench.models import Dense, build_published_model
from nalm.bench.tasks import StaticArithmeticTask
from nalm.bench.tasks.streams import SeedStreams
from nalm.torch import INALU, NAC, NALU, NAU, NMRU, NMU, NACMul, SignNMRU, TiedSignNMRU, UnitStack

SEEDS = [4, 0, 9]
BIG = 1e6  # Adam with betas (0, 0) and eps BIG moves each weight by lr * g / (|g| + BIG): g is read back exactly


MIXED = {"interpolation_range": (-2.0, 2.0), "extrapolation_range": ((-6.0, -2.0), (2.0, 6.0))}
"""Inputs of both signs, so that the sign NMRU's phase has terms and 1/x both signs."""


def layers_under_test():
    """(name, builder of a stack, task): every op, weight and activation the kernels run."""
    task = StaticArithmeticTask("mul", input_size=12, subset_ratio=0.25)
    ramp = {"lambda_sparse": 3.0, "lambda_start": 0, "lambda_end": 2}  # a penalty at step 1
    division = StaticArithmeticTask("div", input_size=4, subset_ratio=0.25, overlap_ratio=0, **MIXED)
    return [
        ("nmru alone", lambda: UnitStack(NMRU(4, 1, **ramp)), division),
        ("sign_nmru alone", lambda: UnitStack(SignNMRU(4, 1, **ramp)), division),
        ("sign_nmru alone on the bounds", lambda: on_the_bounds(UnitStack(SignNMRU(4, 1, **ramp))), division),
        ("tied_sign_nmru alone", lambda: UnitStack(TiedSignNMRU(4, 1, **ramp)), division),
        # on -1, 0 and 1, where w+ and w- both pass the gradient (0) or the clamp holds it
        ("tied_sign_nmru alone on the bounds", lambda: on_the_bounds(UnitStack(TiedSignNMRU(4, 1, **ramp))), division),
        (
            "nau-tied_sign_nmru",
            lambda: UnitStack(NAU(12, 3, **ramp), TiedSignNMRU(3, 1, **ramp)),
            StaticArithmeticTask("div", input_size=12, **MIXED),
        ),
        (
            "nau-sign_nmru",
            lambda: UnitStack(NAU(12, 3, **ramp), SignNMRU(3, 1, **ramp)),
            StaticArithmeticTask("div", input_size=12, **MIXED),
        ),
        (
            "nau-nmru",
            lambda: UnitStack(NAU(12, 3, **ramp), NMRU(3, 1, **ramp)),
            StaticArithmeticTask("div", input_size=12),
        ),
        ("nau-nmu", lambda: UnitStack(NAU(12, 2, **ramp), NMU(2, 1, **ramp)), task),
        (
            "nau-nau",
            lambda: UnitStack(NAU(12, 2, **ramp), NAU(2, 1, **ramp)),
            StaticArithmeticTask("sub", input_size=12),
        ),
        ("nac-nac", lambda: UnitStack(NAC(12, 2), NAC(2, 1)), task),
        ("nac-nac_mul", lambda: UnitStack(NAC(12, 2), NACMul(2, 1)), task),
        (
            "nac_mul alone",
            lambda: UnitStack(NACMul(2, 1, eps=1e-3)),
            StaticArithmeticTask("div", input_size=2, subset_ratio=0.5, overlap_ratio=0),
        ),
        ("nalu-nalu", lambda: UnitStack(NALU(12, 2), NALU(2, 1)), StaticArithmeticTask("div", input_size=12)),
        ("nalu capped", lambda: UnitStack(NALU(12, 3, max_exponent=0.5), NALU(3, 1, max_exponent=0.5)), task),
        ("nalu published start", lambda: build_published_model("nalu", 12), StaticArithmeticTask("div", input_size=12)),
        ("nac-nac_mul published start", lambda: build_published_model("nac_mul", 12), task),
        ("relu-linear", lambda: UnitStack(Dense(12, 2, activation="relu"), Dense(2, 1)), task),
        ("relu6-linear", lambda: UnitStack(Dense(12, 2, activation="relu6"), Dense(2, 1)), task),
        (
            "linear-linear biased",
            lambda: UnitStack(Dense(12, 2, bias=True), Dense(2, 1, bias=True)),
            StaticArithmeticTask("sub", input_size=12),
        ),
        (
            "relu-linear biased",
            lambda: biased(UnitStack(Dense(12, 3, activation="relu", bias=True), Dense(3, 1, bias=True))),
            task,
        ),
        (
            "relu6-linear biased",
            lambda: biased(UnitStack(Dense(12, 3, activation="relu6", bias=True), Dense(3, 1, bias=True))),
            task,
        ),
        ("nmu alone", lambda: UnitStack(NMU(12, 1, **ramp)), StaticArithmeticTask("mul", input_size=12)),
        # weights exactly on their clamp bounds (where every clamp leaves them) and on the penalty's ties
        ("nau-nmu on the bounds", lambda: on_the_bounds(UnitStack(NAU(12, 2, **ramp), NMU(2, 1, **ramp))), task),
        (
            "nau-nau on the bounds",
            lambda: on_the_bounds(UnitStack(NAU(12, 2, **ramp), NAU(2, 1, **ramp))),
            StaticArithmeticTask("sub", input_size=12),
        ),
        (
            "nmu alone on the bounds",
            lambda: on_the_bounds(UnitStack(NMU(12, 1, **ramp))),
            StaticArithmeticTask("mul", input_size=12),
        ),
        (
            "nalu alone",
            lambda: UnitStack(NALU(2, 1)),
            StaticArithmeticTask("div", input_size=2, subset_ratio=0.5, overlap_ratio=0),
        ),
    ]


def biased(model):
    """``model`` with its biases drawn from N(0, 2) instead of zero, so that some pre-activations
    cross ReLU's 0 and ReLU6's 6 by the bias alone."""
    for layer in model:
        torch.nn.init.normal_(layer.bias, std=2.0)
    return model


PENALTY_POINTS = (1.0, -1.0, 0.5, 0.0, -0.5, 0.3, 0.7)
"""Where the sparsity penalty's gradient has its special cases, the bounds first: a layer's first
weights are set to those of them inside its range (NAU: all; NMU: 1, 0.5, 0, 0.3, 0.7)."""


def on_the_bounds(model):
    """``model`` (NAU and NMU layers) with the first entries of each W set to :data:`PENALTY_POINTS`."""
    with torch.no_grad():
        for layer in model:
            low, high = layer.weight_range
            points = [p for p in PENALTY_POINTS if low <= p <= high][: layer.W.numel()]
            layer.W.view(-1)[: len(points)] = torch.tensor(points)
    return model


def autograd_gradients(model, task, batch):
    """d loss / d parameters by PyTorch, on the first training batch of every seed."""
    subsets = [task.subsets(seed) for seed in SEEDS]
    x, target = task.sample(batch, task.interpolation_range, subsets, SeedStreams(SEEDS, "train"), torch.float64)
    loss = ((model(x) - target) ** 2).mean(dim=(1, 2)).sum() + model.regularization_loss(1)
    return torch.autograd.grad(loss, list(model.parameters()))


LR = 1e-6 * BIG


def read_back(old, new):
    """The gradient g of one step of Adam with betas (0, 0), eps BIG, from the parameter ``old`` to ``new``."""
    update = old - new.detach()
    return update * BIG / (LR - update.abs())


def kernel_gradients(model, task, batch, gradient_clip=None):
    """The same gradients (each seed's clipped to ``gradient_clip`` where given), read back from one
    step of the kernels' Adam with betas (0, 0), eps BIG."""
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.Adam(model.parameters(), lr=LR, betas=(0.0, 0.0), eps=BIG)
    run = compiled.CompiledRun(model, task, SEEDS, optimizer, gradient_clip)
    run.train(SeedStreams(SEEDS, "train"), range(1, 2), batch, np.ones(len(SEEDS), dtype=bool))
    return [read_back(old, new) for old, new in zip(before, model.parameters())]


def as_read_back(model, gradients):
    """``gradients`` as :func:`kernel_gradients` reads them back: where the step they give would
    leave a clamped weight's range, the clamp after the step holds it, and what is read back is
    the clamped step (a weight on its bound pushed outwards reads 0)."""
    stepped = copy.deepcopy(model)
    with torch.no_grad():
        for p, g in zip(stepped.parameters(), gradients):
            p -= LR * g / (g.abs() + BIG)
        unclamped = [p.clone() for p in stepped.parameters()]
        stepped.apply_constraints()
    return [
        torch.where(new == free, g, read_back(old.detach(), new))
        for old, new, free, g in zip(model.parameters(), stepped.parameters(), unclamped, gradients)
    ]


@pytest.mark.parametrize(("name", "build", "task"), layers_under_test(), ids=[c[0] for c in layers_under_test()])
def test_one_step_gradients_equal_autograd_in_float64(name, build, task):
    model = stack_seeds(lambda: build().double(), SEEDS)
    assert compiled.plan(model) is not None
    autograd = autograd_gradients(model, task, batch=8)
    expected = as_read_back(model, autograd)
    if "on the bounds" in name:  # some weight on a bound steps inwards: its gradient is read back whole
        on_a_bound = zip(model.parameters(), expected, autograd)
        assert any(((p.abs() == 1) & (e == a) & (a != 0)).any() for p, e, a in on_a_bound)
    got = kernel_gradients(model, task, batch=8)
    for (parameter, _), e, g in zip(model.named_parameters(), expected, got):
        assert torch.allclose(g, e, rtol=1e-6, atol=1e-9), f"{name} {parameter}: {(g - e).abs().max()}"


@pytest.mark.parametrize(
    "name", ["nau-nmu", "nau-sign_nmru", "relu-linear biased", "nalu-nalu", "nac-nac", "sign_nmru alone"]
)
def test_one_step_clipped_gradients_equal_autograd_clipped_in_float64(name):
    _, build, task = next(c for c in layers_under_test() if c[0] == name)
    model = stack_seeds(lambda: build().double(), SEEDS)
    autograd = autograd_gradients(model, task, batch=8)
    norms = torch.linalg.vector_norm(torch.stack([g.flatten(1).norm(dim=1) for g in autograd]), dim=0)
    clip = float(norms.min()) / 2  # every seed's gradient is cut, each by its own factor
    for p, g in zip(model.parameters(), autograd):
        p.grad = g.clone()
    clip_seed_gradients(list(model.parameters()), clip)
    expected = as_read_back(model, [p.grad for p in model.parameters()])
    got = kernel_gradients(model, task, batch=8, gradient_clip=clip)
    for (parameter, _), e, g in zip(model.named_parameters(), expected, got):
        assert torch.allclose(g, e, rtol=1e-6, atol=1e-9), f"{name} {parameter}: {(g - e).abs().max()}"


# NALU and NAC* are left to the one-step test: their log-space paths make training chaotic here. In
# the PyTorch loop alone, scaling NAC*'s initial weights by 1 + 1e-15 changes seed 1's
# interpolation MSE by 3e-10 at step 20 and by 25% at step 60, as much as the two paths differ.
@pytest.mark.parametrize("model", ["nmu", "nau", "nac", "linear", "relu", "relu6"])
def test_whole_runs_equal_the_pytorch_loop(model):
    task = StaticArithmeticTask("mul" if model == "nmu" else "add", input_size=20)
    config = TrainConfig(steps=60, batch_size=16, learning_rate=0.01, eval_every=20, eval_size=64)
    assert_engines_agree(lambda: build_published_model(model, 20).double(), task, config, rel=1e-9)


def assert_engines_agree(build, task, config, rel):
    """Both engines train ``build()`` on ``task`` to the same evaluations, within ``rel``."""

    def run(engine):
        return train_stacked(stack_seeds(build, SEEDS), task, config, SEEDS, engine=engine)

    steps = list(range(config.eval_every, config.steps + 1, config.eval_every))
    for c, r in zip(run("compiled"), run("torch")):
        assert [e.step for e in c.evaluations] == [e.step for e in r.evaluations] == steps
        for ec, er in zip(c.evaluations, r.evaluations):
            assert ec.interpolation_mse == pytest.approx(er.interpolation_mse, rel=rel)
            assert ec.extrapolation_mse == pytest.approx(er.extrapolation_mse, rel=rel)
            assert ec.sparsity_error == pytest.approx(er.sparsity_error, rel=rel)


# nac: the kernels take the NAC weights' derivatives from the float32 tanh and sigmoid of the step,
# as PyTorch's float32 autograd does (1 - tanh^2 loses its digits as tanh nears 1 in both).
@pytest.mark.parametrize(("model", "operation"), [("nmu", "mul"), ("nac", "sub")])
def test_float32_runs_stay_within_rounding_of_the_pytorch_loop(model, operation):
    task = StaticArithmeticTask(operation)
    config = TrainConfig(steps=200, eval_every=100, eval_size=500)
    assert_engines_agree(lambda: build_published_model(model, 100), task, config, rel=1e-4)


def test_a_seed_trains_the_same_whatever_seeds_run_beside_it():
    task = StaticArithmeticTask("mul", input_size=20)
    config = TrainConfig(steps=50, batch_size=16, learning_rate=0.01, eval_every=25, eval_size=64)
    build = lambda: build_published_model("nmu", 20)
    together = train_stacked(stack_seeds(build, [5, 6, 7, 8]), task, config, [5, 6, 7, 8], threads=2)
    alone = train_stacked(stack_seeds(build, [7]), task, config, [7])
    assert together[2].evaluations == alone[0].evaluations  # float32, bit for bit


# Every layer op of the kernels, in the benchmark's float32, printed bit for bit (float.hex).
_RUNS_PRINTED = """
from nalm.bench.engine import TrainConfig, stack_seeds, train_stacked
from nalm.bench.models import build_published_model
from nalm.bench.tasks import StaticArithmeticTask
MIXED = {"interpolation_range": (-2.0, 2.0), "extrapolation_range": ((-6.0, -2.0), (2.0, 6.0))}
runs = [("nmu", "mul", {}, {}), ("nac_mul", "mul", {}, {}), ("nalu", "add", {}, {}), ("relu6", "add", {}, {}),
        ("sign_nmru", "div", {"hidden_size": 0}, dict(subset_ratio=0.1, overlap_ratio=0, **MIXED))]
config = TrainConfig(steps=40, batch_size=16, learning_rate=0.01, eval_every=20, eval_size=64, gradient_clip=1.0)
for model, operation, sizes, task_options in runs:
    task = StaticArithmeticTask(operation, input_size=10, **task_options)
    build = lambda: build_published_model(model, 10, **sizes)
    for result in train_stacked(stack_seeds(build, [0, 1]), task, config, [0, 1], engine="compiled"):
        print(model, [(e.interpolation_mse.hex(), e.extrapolation_mse.hex()) for e in result.evaluations])
"""


def test_runs_are_the_same_whatever_cpu_the_kernels_are_compiled_for():
    """The kernels compiled for this machine's CPU (its vector width, fused multiply-add) and for a
    generic one of its kind (x86-64: SSE2 alone) train to the same bits: numba compiles for the CPU
    that NUMBA_CPU_NAME names (see ARITHMETIC)."""

    def printed(**environment):
        env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_CPU_")}
        done = subprocess.run(
            [sys.executable, "-c", _RUNS_PRINTED], env={**env, **environment}, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    host = printed()
    assert host.count("\n") == 10
    assert printed(NUMBA_CPU_NAME="generic") == host


@pytest.mark.parametrize("model", ["sign_nmru", "nmru", "tied_sign_nmru"])
@pytest.mark.parametrize("input_size", [2, 10])
def test_whole_division_runs_clipped_equal_the_pytorch_loop(model, input_size):
    # the division task's single unit with its own learning rate and each seed's gradient clipped to 1
    task = StaticArithmeticTask("div", input_size=input_size, subset_ratio=1 / input_size, overlap_ratio=0, **MIXED)
    config = TrainConfig(steps=60, batch_size=16, learning_rate=0.01, eval_every=20, eval_size=64, gradient_clip=1.0)
    build = lambda: build_published_model(model, input_size, hidden_size=0).double()
    assert_engines_agree(build, task, config, rel=1e-9)


def test_models_the_kernels_do_not_know_are_left_to_pytorch():
    assert compiled.plan(stack_seeds(lambda: UnitStack(INALU(4, 2), INALU(2, 1)), SEEDS)) is None
    assert compiled.plan(stack_seeds(lambda: UnitStack(NALU(4, 2, gate="independent"), NAU(2, 1)), SEEDS)) is None
    assert compiled.plan(stack_seeds(lambda: UnitStack(NAU(4, 2), NAU(2, 2)), SEEDS)) is None  # two outputs
    assert compiled.plan(stack_seeds(lambda: UnitStack(NAU(4, 2), NAU(2, 1)).to(torch.bfloat16), SEEDS)) is None
    assert compiled.plan(UnitStack(NAU(4, 2), NAU(2, 1))) is None  # no seed axis
    assert compiled.plan(stack_seeds(lambda: UnitStack(NMRU(4, 2), NAU(2, 1)), SEEDS)) is None  # NMRU first
    outside = stack_seeds(lambda: UnitStack(SignNMRU(4, 1)), SEEDS)
    with torch.no_grad():
        outside[0].W[0, 0, 0] = 1.5  # its phase would read the raw W, the kernels the clamped one
    assert compiled.plan(outside) is None


@pytest.mark.parametrize("kernel", ["_train_steps", "_squared_errors"])
def test_the_seed_loop_of_each_kernel_runs_in_parallel(kernel):
    """numba makes a prange loop a parallel loop, or, where the loop has another way out (a raise,
    an assert), runs it on one thread with a NumbaPerformanceWarning (and each array operation in it
    as a parallel loop of its own: a raise in the inlined logarithm once made the kernels ten times
    slower). Compiled afresh for the signature of a real run, since a kernel loaded from numba's
    cache keeps no diagnostics (about 45 s of compilation in all)."""
    task = StaticArithmeticTask("add", input_size=10)
    config = TrainConfig(steps=4, batch_size=4, eval_every=4, eval_size=8)
    train_stacked(stack_seeds(lambda: build_published_model("nalu", 10), [0, 1]), task, config, [0, 1])
    dispatcher = getattr(compiled, kernel)
    options = {k: v for k, v in dispatcher.targetoptions.items() if k not in ("cache", "nopython")}
    fresh = numba.njit(**options)(dispatcher.py_func)
    # float32, the benchmark's dtype (the float32 logarithm is where the raise was), whatever other
    # dtypes the tests before this one compiled
    signature = next(s for s in dispatcher.signatures if "float32" in str(s))
    with warnings.catch_warnings():
        warnings.simplefilter("error", NumbaPerformanceWarning)
        fresh.compile(signature)
    parfors = fresh.get_metadata(signature)["parfor_diagnostics"].initial_parfors
    source, first = inspect.getsourcelines(dispatcher.py_func)
    seed_loop = first + next(i for i, line in enumerate(source) if "in prange(" in line)
    file = inspect.getsourcefile(dispatcher.py_func)
    assert (file, seed_loop) in {(parfor.loc.filename, parfor.loc.line) for parfor in parfors}

"""Many seeds side by side: each seed of a stacked run trains exactly as it would alone."""

import io
import re
from dataclasses import replace

import pytest
import torch

from nalm.bench.engine import Evaluation, TrainConfig, TrainResult, stack_seeds, train, train_seeds, train_stacked
from nalm.bench.engine import loop as loop_module
from nalm.bench.engine import state as state_module
from nalm.bench.engine import static_problem as static_problem_module
from nalm.bench.engine.checkpoint import CheckpointWarning, write_checkpoint
from nalm.bench.engine.compiled import ARITHMETIC
from nalm.bench.engine.loop import attempt_checkpoint
from nalm.bench.engine.stacking import clip_seed_gradients, init_seed
from nalm.bench.models import Dense, build_published_model, build_unit_stack
from nalm.bench.tasks import StaticArithmeticTask
from nalm.torch import UNITS, UnitStack

TASK = StaticArithmeticTask("mul", input_size=20)
CONFIG = TrainConfig(steps=30, batch_size=16, learning_rate=0.01, eval_every=10, eval_size=50)
SEEDS = [3, 0, 7]
SEEDED = [name for name in UNITS.names() if not UNITS.get(name).definition.stochastic]
"""The units whose forward pass draws no noise: outside the loop the sNMU's comes from PyTorch's
one generator, which stacked seeds share (the loop gives each seed its own noise stream)."""

# Options that switch every regularizer on within CONFIG's 30 steps, so that the test covers it.
REGULARIZED = {
    "nau": {"lambda_sparse": 1.0, "lambda_start": 0, "lambda_end": 10},
    "nmu": {"lambda_sparse": 1.0, "lambda_start": 0, "lambda_end": 10},
    "inalu": {"regularization_start": 0},
}


def builder(unit, dtype=torch.float32, **options):
    return lambda: build_unit_stack(unit, TASK.input_size, **options).to(dtype)


def sequential(build, config, seeds):
    """The reference: each seed trained alone by the single-seed trainer."""
    results = []
    for seed in seeds:
        torch.manual_seed(seed)
        results.append(train(build(), TASK, replace(config, seed=seed)))
    return results


def assert_same_results(batched, alone, rtol):
    assert len(batched) == len(alone)
    for b, a in zip(batched, alone):
        assert b.diverged == a.diverged
        assert [e.step for e in b.evaluations] == [e.step for e in a.evaluations]
        for eb, ea in zip(b.evaluations, a.evaluations):
            assert eb.interpolation_mse == pytest.approx(ea.interpolation_mse, rel=rtol, nan_ok=True)
            assert eb.extrapolation_mse == pytest.approx(ea.extrapolation_mse, rel=rtol, nan_ok=True)
            assert ea.sparsity_error is not None
            assert eb.sparsity_error == pytest.approx(ea.sparsity_error, rel=rtol, abs=1e-7, nan_ok=True)


@pytest.mark.parametrize("unit", UNITS.names())
def test_stacked_parameters_hold_each_seeds_initialization(unit):
    build = builder(unit)
    stacked = stack_seeds(build, SEEDS)
    for i, seed in enumerate(SEEDS):
        torch.manual_seed(seed)
        for (name, p), (_, q) in zip(build().named_parameters(), stacked.named_parameters()):
            assert q.shape[0] == len(SEEDS), name
            assert torch.equal(q[i].reshape(p.shape), p), name


@pytest.mark.parametrize("unit", SEEDED)
def test_stacked_forward_equals_each_seeds_forward(unit):
    build = builder(unit, torch.float64)
    stacked = stack_seeds(build, SEEDS)
    x = torch.rand(len(SEEDS), 5, TASK.input_size, dtype=torch.float64) + 0.5
    y = stacked(x)
    assert y.shape == (len(SEEDS), 5, 1)
    for i, seed in enumerate(SEEDS):
        torch.manual_seed(seed)
        torch.testing.assert_close(y[i], build()(x[i]))


def test_vectors_get_a_row_axis_to_broadcast_over_the_batch():
    stacked = stack_seeds(lambda: build_unit_stack("nalu", 4, gate="independent"), [0, 1])
    assert stacked[0].G.shape == (2, 1, 2)
    assert stacked[0].W_hat.shape == (2, 4, 2)


@pytest.mark.parametrize("unit", UNITS.names())
def test_each_seed_trains_as_it_would_alone_float64(unit):
    build = builder(unit, torch.float64, **REGULARIZED.get(unit, {}))
    assert_same_results(train_seeds(build, TASK, CONFIG, SEEDS), sequential(build, CONFIG, SEEDS), rtol=1e-9)


@pytest.mark.parametrize("unit", ["nac", "nau", "nmu"])
def test_each_seed_trains_as_it_would_alone_float32(unit):
    # Batched float32 matmuls round differently; over a few steps the MSEs still agree closely.
    # Not NALU: its exp path amplifies those last-bit differences within a few steps on these
    # inputs (about 1% apart after 20 steps), while in float64 it matches bitwise (the test above).
    config = replace(CONFIG, steps=20)
    build = builder(unit)
    assert_same_results(train_seeds(build, TASK, config, SEEDS), sequential(build, config, SEEDS), rtol=1e-4)


def test_npu_l1_penalty_is_per_seed():
    build = builder("npu", torch.float64, l1=0.1)
    assert_same_results(train_seeds(build, TASK, CONFIG, SEEDS), sequential(build, CONFIG, SEEDS), rtol=1e-9)


def test_the_snmu_draws_fresh_noise_from_each_seeds_own_stream():
    config = replace(CONFIG, steps=10, eval_every=10)
    build = builder("snmu", torch.float64, noise_range=(1.0, 5.0))
    torch.manual_seed(123)  # the global generator plays no part: a later draw from it is the same
    first = train_seeds(build, TASK, config, SEEDS)
    after = torch.rand(1)
    torch.manual_seed(123)
    assert train_seeds(build, TASK, config, SEEDS)[1].final == first[1].final
    assert torch.equal(torch.rand(1), after)
    quiet = train_seeds(builder("snmu", torch.float64, noise_range=(1.0, 1.0)), TASK, config, SEEDS)
    assert quiet[1].final != first[1].final  # the noise acts


def test_npu_division_recipe_is_per_seed():
    recipe = {
        "weight_init": "nau_uniform",
        "weight_range": (-1.0, 1.0),
        "l1": 1e-2,
        "l1_initial": 1e-4,
        "l1_growth": 10,
    }
    build = builder("realnpu", torch.float64, lambda_sparse=1.0, lambda_start=0, lambda_end=10, **recipe)
    assert_same_results(train_seeds(build, TASK, CONFIG, SEEDS), sequential(build, CONFIG, SEEDS), rtol=1e-9)


def test_clip_seed_gradients_clips_each_seed_as_clip_grad_norm_clips_one_model():
    torch.manual_seed(0)
    stacked = [torch.zeros(shape, dtype=torch.float64, requires_grad=True) for shape in ((3, 4, 2), (3, 1, 2))]
    grads = [torch.randn(3, 4, 2, dtype=torch.float64), torch.randn(3, 1, 2, dtype=torch.float64) * 5]
    grads[0][1] *= 1e-3  # seed 1's gradient is short: left as it is
    grads[1][1] *= 1e-3
    for p, g in zip(stacked, grads):
        p.grad = g.clone()
    clip_seed_gradients(stacked, 1.0)
    for seed in range(3):
        alone = [torch.zeros_like(g[seed], requires_grad=True) for g in grads]
        for p, g in zip(alone, grads):
            p.grad = g[seed].clone()
        torch.nn.utils.clip_grad_norm_(alone, 1.0)
        for p, q in zip(alone, stacked):
            torch.testing.assert_close(q.grad[seed], p.grad, rtol=1e-12, atol=0)
    assert torch.equal(stacked[0].grad[1], grads[0][1])
    assert torch.linalg.vector_norm(torch.cat([g.grad[0].flatten() for g in stacked])).item() == pytest.approx(
        1.0, rel=1e-5
    )


def test_clipped_seeds_train_as_they_would_alone_with_clip_grad_norm():
    config = replace(CONFIG, gradient_clip=0.05, learning_rate=0.05)
    build = builder("sign_nmru", torch.float64)
    batched = train_seeds(build, TASK, config, SEEDS)
    assert_same_results(batched, sequential(build, config, SEEDS), rtol=1e-9)
    unclipped = train_seeds(build, TASK, replace(config, gradient_clip=None), SEEDS)
    assert batched[0].final.interpolation_mse != unclipped[0].final.interpolation_mse  # the clip acted


def test_the_compiled_engine_clips_as_the_pytorch_loop():
    config = replace(CONFIG, gradient_clip=0.05, learning_rate=0.05)
    build = builder("nmu", torch.float64)
    compiled = train_seeds(build, TASK, config, SEEDS, engine="compiled")
    assert_same_results(compiled, train_seeds(build, TASK, config, SEEDS, engine="torch"), rtol=1e-9)
    unclipped = train_seeds(build, TASK, replace(config, gradient_clip=None), SEEDS, engine="compiled")
    assert compiled[0].final.interpolation_mse != unclipped[0].final.interpolation_mse  # the clip acted


@pytest.mark.parametrize("unit", ["nau", "nalu"])  # with and without the fused first layer
def test_evaluation_sets_drawn_in_chunks_are_the_same_sets(monkeypatch, unit):
    # Rows of 7 per chunk must give the same evaluation sets as one draw of all rows.
    monkeypatch.setattr(static_problem_module, "EVAL_CHUNK_ELEMENTS", 7 * len(SEEDS) * TASK.input_size)
    build = builder(unit, torch.float64)
    assert_same_results(train_seeds(build, TASK, CONFIG, SEEDS), sequential(build, CONFIG, SEEDS), rtol=1e-9)


@pytest.mark.parametrize(
    ("model", "projected"),
    # the published linear model's layers have a bias, so its first layer is not x @ W alone
    [("nmu", True), ("nac", True), ("bias-free linear", True), ("linear", False), ("relu", False), ("nalu", False)],
)
def test_linear_first_layers_are_drawn_as_projections_of_the_data(model, projected):
    def build():
        if model == "bias-free linear":
            return UnitStack(Dense(TASK.input_size, 2), Dense(2, 1))
        return build_published_model(model, TASK.input_size)

    for dtype, expected in ((torch.float32, projected), (torch.float64, projected), (torch.bfloat16, False)):
        stacked = stack_seeds(lambda: build().to(dtype), SEEDS)  # noqa: B023 (called at once)
        assert static_problem_module.StaticProblem(stacked, TASK, SEEDS).projected is expected


def test_a_diverging_seed_does_not_poison_the_others():
    build = builder("nalu", torch.float64)
    stacked = stack_seeds(build, SEEDS)
    with torch.no_grad():
        stacked[0].W_hat[1] = float("nan")  # seed 0 (index 1) diverges at step 1
    results = train_stacked(stacked, TASK, CONFIG, SEEDS)
    assert results[1].diverged and [e.step for e in results[1].evaluations] == [1]
    others = [results[0], results[2]]
    assert_same_results(others, sequential(build, CONFIG, [SEEDS[0], SEEDS[2]]), rtol=1e-9)
    assert all(torch.isfinite(p).all() for p in stacked.parameters())


def test_training_stops_when_every_seed_has_diverged():
    stacked = stack_seeds(builder("nac"), [0, 1])
    with torch.no_grad():
        stacked[0].W_hat.fill_(float("nan"))
    results = train_stacked(stacked, TASK, CONFIG, [0, 1])
    assert all(r.diverged and [e.step for e in r.evaluations] == [1] for r in results)


def test_training_is_deterministic():
    build = builder("nmu")
    first, second = (train_seeds(build, TASK, CONFIG, SEEDS) for _ in range(2))
    assert [r.evaluations for r in first] == [r.evaluations for r in second]


def test_data_threads_change_no_number():
    build = builder("nmu")
    one, two = (train_seeds(build, TASK, CONFIG, SEEDS, threads=threads) for threads in (1, 2))
    assert [r.evaluations for r in one] == [r.evaluations for r in two]


def test_threads_must_be_positive():
    with pytest.raises(ValueError, match="threads must be a positive integer, got 0"):
        train_seeds(builder("nac"), TASK, CONFIG, SEEDS, threads=0)


def test_a_seeds_result_does_not_depend_on_its_neighbours():
    build = builder("nau", torch.float64)
    together = train_seeds(build, TASK, CONFIG, SEEDS)
    alone = train_seeds(build, TASK, CONFIG, [SEEDS[2]])
    assert_same_results([together[2]], alone, rtol=1e-9)


@pytest.mark.parametrize(
    ("seeds", "message"),
    [
        ([], "at least one seed"),
        ([1, 2, 1], "distinct"),
        ([0, -1], r"integers in \[0"),
        ([0, True], r"integers in \[0"),
        ([0, 10**7], r"integers in \[0"),
    ],
)
def test_bad_seeds_are_rejected(seeds, message):
    with pytest.raises(ValueError, match=message):
        stack_seeds(builder("nac"), seeds)
    with pytest.raises(ValueError, match=message):
        train_seeds(builder("nac"), TASK, CONFIG, seeds)


def test_a_model_without_the_seed_axis_is_rejected():
    with pytest.raises(ValueError, match="leading seed axis of 3"):
        train_stacked(builder("nac")(), TASK, CONFIG, SEEDS)


def test_builds_that_differ_are_rejected():
    sizes = iter([2, 3])
    with pytest.raises(ValueError, match="different model for seed 1"):
        stack_seeds(lambda: build_unit_stack("nac", 4, hidden_size=next(sizes)), [0, 1])


@pytest.mark.parametrize(("unit", "compiled"), [("nmu", True), ("nmu", False), ("snmu", False)])
def test_a_run_resumed_from_its_checkpoint_ends_as_the_uninterrupted_run(tmp_path, crash_before_saving, unit, compiled):
    engine = "compiled" if compiled else "torch"
    build = builder(unit, torch.float64, **REGULARIZED["nmu"])  # the sNMU's noise resumes with its stream
    uninterrupted = train_seeds(build, TASK, CONFIG, SEEDS, engine=engine)
    checkpoint = tmp_path / "run.pt"
    with crash_before_saving(30):
        train_seeds(build, TASK, CONFIG, SEEDS, checkpoint=checkpoint, engine=engine)
    assert saved_step(checkpoint) == 20  # the last evaluation before the crash
    resumed = train_seeds(build, TASK, CONFIG, SEEDS, checkpoint=checkpoint, engine=engine)
    assert [r.evaluations for r in resumed] == [r.evaluations for r in uninterrupted]
    assert saved_step(checkpoint) == CONFIG.steps


def saved_step(path):
    header, _, payload = path.read_bytes().partition(b"\n")
    assert header.startswith(b"nalm-checkpoint-1 ")
    return torch.load(io.BytesIO(payload))["step"]


def damage(kind, path):
    data = path.read_bytes()
    if kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "bit flipped":
        index = len(data) - 200  # inside the tensors' data
        path.write_bytes(data[:index] + bytes([data[index] ^ 1]) + data[index + 1 :])
    elif kind == "not a checkpoint":
        path.write_text("hello")
    elif kind == "earlier kernels":  # written by the kernels whose sums the compiler ordered for the CPU
        state = torch.load(io.BytesIO(data.partition(b"\n")[2]))
        assert state["run"].pop("arithmetic") == ARITHMETIC
        write_checkpoint(path, state)


def interrupted(build, checkpoint, crash_before_saving):
    """Train until the evaluation at step 30 and crash there: the checkpoint holds step 20 of the run."""
    with crash_before_saving(30):
        train_seeds(build, TASK, CONFIG, SEEDS, checkpoint=checkpoint)
    assert saved_step(checkpoint) == 20


@pytest.mark.parametrize(
    "kind", ["truncated", "empty", "bit flipped", "not a checkpoint", "another run", "earlier kernels"]
)
def test_a_damaged_checkpoint_is_set_aside_and_the_run_starts_again(tmp_path, kind, crash_before_saving):
    build = builder("nau")
    uninterrupted = train_seeds(build, TASK, CONFIG, SEEDS)
    checkpoint = tmp_path / "run.pt"
    if kind == "another run":
        train_seeds(build, TASK, CONFIG, [0, 1], checkpoint=checkpoint)
    else:
        interrupted(build, checkpoint, crash_before_saving)
        damage(kind, checkpoint)
    with pytest.warns(CheckpointWarning, match=f"checkpoint {re.escape(str(checkpoint))} cannot be used .* moved to "):
        again = train_seeds(build, TASK, CONFIG, SEEDS, checkpoint=checkpoint)
    assert [r.evaluations for r in again] == [r.evaluations for r in uninterrupted]  # from step 0, not a wrong number
    assert len(list(tmp_path.glob("run.pt.set-aside-*"))) == 1  # beside it; a sweep's go to RESULTS.set-aside/
    assert not list(tmp_path.glob("*.partial"))


def test_a_checkpoint_without_its_checksum_header_is_set_aside(tmp_path, crash_before_saving):
    build = builder("nau")
    uninterrupted = train_seeds(build, TASK, CONFIG, SEEDS)
    checkpoint = tmp_path / "run.pt"
    interrupted(build, checkpoint, crash_before_saving)
    header, _, payload = checkpoint.read_bytes().partition(b"\n")
    checkpoint.write_bytes(payload)  # a bare torch.save file: nothing to verify it by
    with pytest.warns(CheckpointWarning, match="it is not a nalm checkpoint"):
        again = train_seeds(build, TASK, CONFIG, SEEDS, checkpoint=checkpoint)
    assert [r.evaluations for r in again] == [r.evaluations for r in uninterrupted]


def test_evaluations_without_a_sparsity_error_or_with_a_nan_one_survive_a_checkpoint():
    results = [
        TrainResult([Evaluation(1000, 0.5, float("inf"), None), Evaluation(2000, float("nan"), 1.0, 0.0)]),
        TrainResult([Evaluation(1000, 1e-300, 2.0, float("nan"))]),
    ]
    history = state_module.History(results)
    restored = [state_module.History.evaluations(table) for table in history.tables()]
    assert repr(restored) == repr([r.evaluations for r in results])  # NaN == NaN only in the repr
    results[1].evaluations.append(Evaluation(2000, 3.0, 4.0, 0.25))
    assert state_module.History.evaluations(history.tables()[1])[-1] == Evaluation(2000, 3.0, 4.0, 0.25)


ATTEMPTS = replace(CONFIG, steps=60, attempts=2)  # two attempts of CONFIG's 30 steps


def killed_in_attempt(attempt, step, run_training):
    """Run ``run_training()`` killed (KeyboardInterrupt) before it saves step ``step`` of attempt ``attempt``."""
    save = loop_module.save_state

    def crash(path, run, at, *args):
        if run.get("attempt") == attempt and at == step:
            raise KeyboardInterrupt
        save(path, run, at, *args)

    with pytest.MonkeyPatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(loop_module, "save_state", crash)
        run_training()


@pytest.mark.parametrize("engine", ["torch", "compiled"])
def test_a_run_of_attempts_numbers_every_attempts_evaluations_after_the_steps_before_it(engine):
    results = train_seeds(builder("nmu", **REGULARIZED["nmu"]), TASK, ATTEMPTS, SEEDS, engine=engine)
    for result in results:
        assert [e.step for e in result.evaluations] == [10, 20, 30, 40, 50, 60]


@pytest.mark.parametrize("engine", ["torch", "compiled"])
def test_the_first_attempt_trains_as_a_run_of_its_steps_and_a_later_one_from_its_own_start(engine):
    build = builder("nmu", torch.float64, **REGULARIZED["nmu"])
    both = train_seeds(build, TASK, ATTEMPTS, SEEDS, engine=engine)
    first = train_seeds(build, TASK, CONFIG, SEEDS, engine=engine)
    assert [r.evaluations[:3] for r in both] == [r.evaluations for r in first]
    # the second attempt: its own initialization (init_seed), the data after the first's 30 batches
    second = train_stacked(stack_seeds(build, SEEDS, attempt=1), TASK, ATTEMPTS, SEEDS, engine=engine, attempt=1)
    assert [r.evaluations[3:] for r in both] == [r.evaluations for r in second]
    fresh_data = train_stacked(stack_seeds(build, SEEDS, attempt=1), TASK, CONFIG, SEEDS, engine=engine)
    for later, fresh in zip(both, fresh_data):  # same start, other batches: other numbers
        assert [e.interpolation_mse for e in later.evaluations[3:]] != [e.interpolation_mse for e in fresh.evaluations]


def test_a_later_attempt_starts_from_its_own_seed_of_the_generator():
    build = builder("nmu")
    stacked = stack_seeds(build, SEEDS, attempt=2)
    for i, seed in enumerate(SEEDS):
        torch.manual_seed(init_seed(seed, 2))
        alone = build()
        for (name, p), q in zip(stacked.named_parameters(), alone.parameters()):
            assert torch.equal(p[i].reshape(q.shape), q), name
    assert len({init_seed(seed, attempt) for seed in range(100) for attempt in range(5)}) == 500
    with pytest.raises(ValueError, match="attempt must be a non-negative integer"):
        init_seed(3, -1)


@pytest.mark.parametrize("engine", ["torch", "compiled"])
def test_a_diverged_attempt_leaves_the_next_one_to_train(engine):
    build = builder("nmu", torch.float64, **REGULARIZED["nmu"])

    def poisoned():  # seed 0's first attempt diverges at its first step
        model = build()
        if torch.initial_seed() == init_seed(0, 0):
            with torch.no_grad():
                model[0].W.fill_(float("nan"))
        return model

    healthy = train_seeds(build, TASK, ATTEMPTS, SEEDS, engine=engine)
    results = train_seeds(poisoned, TASK, ATTEMPTS, SEEDS, engine=engine)
    assert [r.diverged for r in results] == [False, True, False]
    assert [e.step for e in results[1].evaluations] == [1, 40, 50, 60]
    for ours, theirs in zip(results[1].evaluations[1:], healthy[1].evaluations[3:]):
        assert ours.interpolation_mse == pytest.approx(theirs.interpolation_mse, rel=1e-9)


@pytest.mark.parametrize(("unit", "engine"), [("nmu", "torch"), ("nmu", "compiled"), ("snmu", "torch")])
def test_a_run_of_attempts_resumed_from_its_checkpoints_ends_as_the_uninterrupted_run(tmp_path, unit, engine):
    build = builder(unit, torch.float64, **REGULARIZED["nmu"])  # the sNMU draws noise from its own streams
    uninterrupted = train_seeds(build, TASK, ATTEMPTS, SEEDS, engine=engine)
    checkpoint = tmp_path / "run.pt"
    killed_in_attempt(
        1, 20, lambda: train_seeds(build, TASK, ATTEMPTS, SEEDS, checkpoint=checkpoint, engine=engine, definition="x")
    )
    assert saved_step(checkpoint) == 30
    assert saved_step(attempt_checkpoint(checkpoint, 1)) == 10
    assert attempt_checkpoint(checkpoint, 1).name == "run.attempt-1.pt"
    resumed = train_seeds(build, TASK, ATTEMPTS, SEEDS, checkpoint=checkpoint, engine=engine, definition="x")
    assert [r.evaluations for r in resumed] == [r.evaluations for r in uninterrupted]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"attempts": 0}, "attempts must be a positive integer"),
        ({"attempts": 31}, r"attempts must be at most steps \(30\)"),
        ({"steps": 10**6, "attempts": 1001}, "attempts must be at most 1,000"),
    ],
)
def test_bad_attempts_are_rejected(changes, message):
    with pytest.raises(ValueError, match=message):
        replace(CONFIG, **changes)


def test_attempts_need_a_model_per_attempt():
    with pytest.raises(ValueError, match="use train_seeds"):
        train(builder("nmu")(), TASK, ATTEMPTS)
    with pytest.raises(ValueError, match=r"attempt must be below config.attempts \(2\), got 2"):
        train_stacked(stack_seeds(builder("nmu"), SEEDS), TASK, ATTEMPTS, SEEDS, attempt=2)


def test_attempts_are_part_of_a_runs_identity():
    assert "attempts" not in CONFIG.identity()
    assert ATTEMPTS.identity()["attempts"] == 2
    assert ATTEMPTS.attempt_steps == 30 and replace(ATTEMPTS, steps=61).attempt_steps == 30


@pytest.mark.parametrize("engine", ["torch", "compiled"])
def test_a_later_attempt_moves_the_data_past_the_steps_of_the_attempts_before_it(tmp_path, monkeypatch, engine):
    calls = []
    resume = static_problem_module.StaticProblem.resume

    def spy(problem, steps, batch_size):
        calls.append((steps, batch_size))
        resume(problem, steps, batch_size)

    monkeypatch.setattr(static_problem_module.StaticProblem, "resume", spy)
    three = replace(CONFIG, steps=90, attempts=3)
    train_seeds(builder("nmu"), TASK, three, SEEDS, engine=engine)
    assert calls == [(30, CONFIG.batch_size), (60, CONFIG.batch_size)]  # the first starts at the stream's start
    calls.clear()
    checkpoint = tmp_path / "run.pt"
    killed_in_attempt(
        2, 20, lambda: train_seeds(builder("nmu"), TASK, three, SEEDS, checkpoint=checkpoint, engine=engine)
    )
    calls.clear()
    train_seeds(builder("nmu"), TASK, three, SEEDS, checkpoint=checkpoint, engine=engine)
    # the first two attempts resume at their ends; the third 10 steps in, as its checkpoint says
    assert calls == [(30, CONFIG.batch_size), (60, CONFIG.batch_size), (70, CONFIG.batch_size)]

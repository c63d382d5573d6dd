"""The one training loop: S seeds of one model side by side, on any task, on either engine.

The loop knows a task only through its [`Problem`][nalm.bench.engine.problem.Problem]
([`PROBLEMS`][nalm.bench.engine.loop.PROBLEMS] names the implementation of each task's type). Every step: each seed's MSE on
its next batch, plus the model's ``regularization_loss(step)`` (for stacked weights the sum over
the seeds of each seed's own penalty, see [`nalm.functional.seed_count`][nalm.functional.seed_count]), one Adam step over
the stacked parameters (S independent Adams, as Adam is elementwise), then
``model.apply_constraints()`` (each seed's gradient clipped first where the config asks,
[`clip_seed_gradients`][nalm.bench.engine.stacking.clip_seed_gradients]). Evaluation every ``eval_every`` steps and at the last, in ``eval()``
mode, with a checkpoint where one is asked for. A run of several attempts
([`TrainConfig.attempts`][nalm.bench.engine.config.TrainConfig]) trains them one after the other
([`train_seeds`][nalm.bench.engine.loop.train_seeds]).

Engines ([`ENGINES`][nalm.bench.engine.loop.ENGINES]): ``"torch"`` is the PyTorch loop (autograd); ``"compiled"`` runs the
steps between evaluations in one numba kernel call ([`nalm.bench.engine.compiled`][nalm.bench.engine.compiled]), for the
models it covers; ``"auto"`` takes the compiled engine where it covers the model, else torch.
Both give the same numbers up to float32 rounding.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nalm.bench.engine.compiled import ARITHMETIC
from nalm.bench.engine.config import TrainConfig
from nalm.bench.engine.digit_problem import DigitProblem
from nalm.bench.engine.language_problem import LanguageProblem
from nalm.bench.engine.problem import Compiled, Evaluation, Problem, TrainResult, trainable
from nalm.bench.engine.stacking import check_seeds, clip_seed_gradients
from nalm.bench.engine.state import History, restore_state, run_identity, save_state
from nalm.bench.engine.static_problem import StaticProblem
from nalm.bench.tasks.digits import DigitSequenceTask
from nalm.bench.tasks.language import LanguageTask
from nalm.bench.tasks.static import StaticArithmeticTask
from nalm.validation import choice, non_negative_int

ENGINES = ("auto", "torch", "compiled")
"""How the loop steps: the compiled kernels where they cover the model, PyTorch, or the kernels only."""

PROBLEMS: dict[type, Any] = {
    StaticArithmeticTask: StaticProblem,
    DigitSequenceTask: DigitProblem,
    LanguageTask: LanguageProblem,
}
"""The [`Problem`][nalm.bench.engine.problem.Problem] implementation of each task type."""


def problem_type(task: object) -> Any:
    """The Problem class that trains ``task`` ([`PROBLEMS`][nalm.bench.engine.loop.PROBLEMS], by its type or a base of it), else ValueError."""
    kind = next((PROBLEMS[base] for base in type(task).__mro__ if base in PROBLEMS), None)
    if kind is None:
        known = ", ".join(t.__name__ for t in PROBLEMS)
        raise ValueError(f"task must be one of {known}, got {type(task).__name__}")
    return kind


def resolve_engine(engine: str, task: object, build: Callable[[], nn.Module]) -> str:
    """ "compiled" or "torch": the engine that ``engine`` (one of [`ENGINES`][nalm.bench.engine.loop.ENGINES]) trains the models
    of ``build()`` on ``task`` with; "compiled" on models the kernels do not cover is a ValueError."""
    engine = choice("engine", engine, ENGINES)
    kind = problem_type(task)
    model = kind.stack(build, (0,))
    covered = engine != "torch" and kind.compiles(model, task)
    if engine == "compiled" and not covered:
        raise ValueError(_NOT_COVERED.format(what=f"{type(model).__name__} on {type(task).__name__}"))
    return "compiled" if covered else "torch"


_NOT_COVERED = "the compiled engine does not cover this model on this task ({what}); use engine 'auto' or 'torch'"


def train(
    model: nn.Module,
    task: StaticArithmeticTask | DigitSequenceTask | LanguageTask,
    config: TrainConfig,
    *,
    engine: str = "auto",
    on_step: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Train ``model`` on ``task`` and evaluate it every ``config.eval_every`` steps and at the end.

    The model is trained in place by [`train_stacked`][nalm.bench.engine.loop.train_stacked] as a stack of one seed (the
    Problem's ``alone`` view of it), so one seed alone trains exactly as it would beside others.
    A config of several attempts is a ValueError: each attempt builds its own model
    ([`train_seeds`][nalm.bench.engine.loop.train_seeds]).
    Data follows the model's first parameter's device and dtype; it comes from the streams of
    seed ``config.seed`` (see [`nalm.bench.tasks.streams`][nalm.bench.tasks.streams]; the model's initialization is the
    caller's). ``on_step(step, loss)`` is called every 100 steps and at the last one, e.g. for a
    progress bar.
    """
    if config.attempts > 1:
        raise ValueError(f"train trains one model; {config.attempts} attempts each build their own: use train_seeds")
    with problem_type(task).alone(model) as stacked:
        return train_stacked(stacked, task, config, [config.seed], threads=None, engine=engine, on_step=on_step)[0]


def train_seeds(
    build: Callable[[], nn.Module],
    task: StaticArithmeticTask | DigitSequenceTask | LanguageTask,
    config: TrainConfig,
    seeds: Sequence[int],
    *,
    threads: int | None = 1,
    checkpoint: str | os.PathLike[str] | None = None,
    engine: str = "auto",
    definition: Any = None,
) -> list[TrainResult]:
    """Build and train one model per seed, all at once: the Problem's ``stack`` (e.g.
    [`stack_seeds`][nalm.bench.engine.stacking.stack_seeds]) then [`train_stacked`][nalm.bench.engine.loop.train_stacked], once per attempt
    (``config.attempts``), each seed's evaluations of all attempts in one result. Attempt k keeps
    its checkpoint at [`attempt_checkpoint`][nalm.bench.engine.loop.attempt_checkpoint]`(checkpoint, k)`.

    ``build()`` makes one single-seed model, e.g. ``lambda: build_unit_stack("nmu", task.input_size)``.
    With one attempt, seed s's result equals ``torch.manual_seed(s); train(build(), task,
    replace(config, seed=s))`` up to float32 rounding. Returns one [`TrainResult`][nalm.bench.engine.problem.TrainResult] per seed,
    in the order of ``seeds``.
    """
    seeds = check_seeds(seeds)
    results = [TrainResult() for _ in seeds]
    for attempt in range(config.attempts):
        stacked = problem_type(task).stack(build, seeds, attempt)
        path = None if checkpoint is None else attempt_checkpoint(checkpoint, attempt)
        trained = train_stacked(
            stacked,
            task,
            config,
            seeds,
            threads=threads,
            checkpoint=path,
            engine=engine,
            definition=definition,
            attempt=attempt,
        )
        for result, more in zip(results, trained):
            result.evaluations += more.evaluations
            result.diverged |= more.diverged
    return results


def attempt_checkpoint(checkpoint: str | os.PathLike[str], attempt: int) -> Path:
    """Where attempt ``attempt`` of a run whose checkpoint is ``checkpoint`` keeps its own: the
    path itself for the first attempt (0), NAME.attempt-K.SUFFIX beside it for a later one."""
    path = Path(checkpoint)
    return path if attempt == 0 else path.with_name(f"{path.stem}.attempt-{attempt}{path.suffix}")


def train_stacked(
    model: nn.Module,
    task: StaticArithmeticTask | DigitSequenceTask | LanguageTask,
    config: TrainConfig,
    seeds: Sequence[int],
    *,
    threads: int | None = 1,
    checkpoint: str | os.PathLike[str] | None = None,
    engine: str = "auto",
    definition: Any = None,
    on_step: Callable[[int, float], None] | None = None,
    attempt: int = 0,
) -> list[TrainResult]:
    """Train a stacked ``model`` (the Problem's ``stack`` of ``task`` made it), seed s on seed s's
    data, as [`train`][nalm.bench.engine.loop.train] would train it alone; ``config.seed`` is not used.

    ``attempt`` k < ``config.attempts`` (the model stacked for that attempt) trains
    ``config.attempt_steps`` steps on the data after the k earlier attempts' batches, its
    evaluations numbered after their steps (k * attempt_steps + its own step), its schedules and
    Adam counting its own steps; a result holds that attempt's evaluations only.

    A seed whose MSE is not finite is diverged at that step: it is evaluated then, its parameters
    and Adam state are zeroed, and its loss is left out from then on, so it cannot spread NaN to
    the other seeds. Training stops early when every seed has diverged.

    ``threads`` threads draw the data and run the kernels (None: as they are); ``engine`` is one
    of [`ENGINES`][nalm.bench.engine.loop.ENGINES] ("compiled" on a model the kernels do not cover is a ValueError).

    With a ``checkpoint`` path, the run's state ([`nalm.bench.engine.state`][nalm.bench.engine.state]) is written there at
    every evaluation, atomically, with a checksum, under the run's identity
    ([`run_identity`][nalm.bench.engine.state.run_identity], with ``definition`` and the attempt). If the file exists when
    the run starts, the run continues from it and ends exactly as the uninterrupted run would (the
    data streams are counter-based: the step fixes their positions); a damaged checkpoint, or one
    of another run, is set aside with a warning and the run starts from step 0. The file is left
    in place, for the caller to remove once it has saved the results. ``on_step(step, loss)`` is
    called every 100 steps and at the last one with the loss summed over the seeds.
    """
    seeds = check_seeds(seeds)
    engine = choice("engine", engine, ENGINES)
    if non_negative_int("attempt", attempt) >= config.attempts:
        raise ValueError(f"attempt must be below config.attempts ({config.attempts}), got {attempt}")
    problem = problem_type(task)(model, task, seeds)
    path = None if checkpoint is None else Path(checkpoint)
    if threads is None:
        return _train(problem, config, engine, path, definition, on_step, attempt)
    with problem.threads(threads):
        return _train(problem, config, engine, path, definition, on_step, attempt)


def engine_identity(engine: str) -> dict[str, str]:
    """What a run records of the engine that trained it: its name and, for the compiled kernels,
    the version of their arithmetic ([`ARITHMETIC`][nalm.bench.engine.compiled.ARITHMETIC])."""
    return {"engine": engine, **({"arithmetic": ARITHMETIC} if engine == "compiled" else {})}


def _train(
    problem: Problem,
    config: TrainConfig,
    engine: str,
    checkpoint: Path | None,
    definition: Any,
    on_step: Callable[[int, float], None] | None,
    attempt: int,
) -> list[TrainResult]:
    """[`train_stacked`][nalm.bench.engine.loop.train_stacked] with its arguments checked."""
    model, seeds = problem.model, problem.seeds
    parameters = [p for p in model.parameters() if p.requires_grad]
    like = parameters[0]
    one_kernel = like.device.type in ("cpu", "cuda")  # one kernel for all of Adam's updates, where torch has it
    optimizer = torch.optim.Adam(parameters, lr=config.learning_rate, fused=one_kernel or None)
    compiled: Compiled | None = None if engine == "torch" else problem.compile(optimizer, config.gradient_clip)
    if engine == "compiled" and compiled is None:
        raise ValueError(_NOT_COVERED.format(what=f"{type(model).__name__} on {type(problem.task).__name__}"))
    results = [TrainResult() for _ in seeds]
    alive = torch.ones(len(seeds), dtype=torch.bool, device=like.device)
    run = {
        **run_identity(problem.task, config, seeds, model, definition),
        **engine_identity("torch" if compiled is None else "compiled"),
    }
    if config.attempts > 1:
        run["attempt"] = attempt
    steps, before = config.attempt_steps, attempt * config.attempt_steps  # this attempt's, the earlier ones'
    done = 0 if checkpoint is None else restore_state(checkpoint, run, model, optimizer, results, alive)
    if before + done:
        problem.resume(before + done, config.batch_size)
    history = History(results)

    def evaluate(steps: dict[int, int]) -> None:
        """Evaluate seed i (an index into ``seeds``) as after step steps[i], the model in ``eval()``
        mode (the units whose papers evaluate another formula than they train, e.g. the NRU's)."""
        model.eval()
        try:
            scores = (compiled or problem).evaluate(config.eval_size)
        finally:
            model.train()
        sparsity = problem.sparsity()
        for i, step in steps.items():
            results[i].evaluations.append(
                Evaluation(
                    before + step,
                    scores.interpolation[i],
                    scores.extrapolation[i],
                    sparsity[i],
                    tuple(scores.by_length[i]),
                )
            )

    def diverge(steps: dict[int, int]) -> None:
        """Seeds that diverged: evaluated as they are, then zeroed and left out from now on."""
        evaluate(steps)
        mask = torch.zeros_like(alive)
        for i in steps:
            results[i].diverged = True
            mask[i] = True
        problem.reset(optimizer, mask)
        alive.logical_and_(~mask)

    def evaluated(step: int) -> None:
        """Evaluate the living seeds and save the checkpoint, at the evaluation steps."""
        if step % config.eval_every == 0 or step == steps:
            evaluate({i: step for i in alive.nonzero().flatten().tolist()})
            if checkpoint is not None:
                save_state(checkpoint, run, step, model, optimizer, history, alive)

    step = done
    while step < steps and alive.any():
        if compiled is None:
            step += 1
            errors = problem.errors(config.batch_size)
            loss = torch.where(alive, errors, 0.0).sum() + problem.penalty(step, alive)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.gradient_clip is not None:
                clip_seed_gradients(parameters, config.gradient_clip)
            optimizer.step()
            trainable(model).apply_constraints()
            last_loss = loss.detach()
            diverged = {i: step for i in (alive & ~torch.isfinite(errors.detach())).nonzero().flatten().tolist()}
        else:  # up to the next evaluation (or report) in one call
            stop = min(steps, (step // config.eval_every + 1) * config.eval_every)
            if on_step is not None:
                stop = min(stop, (step // 100 + 1) * 100)
            per_step, diverged_at = compiled.train(
                problem.streams, range(step + 1, stop + 1), config.batch_size, alive.numpy()
            )
            step = stop
            last_loss = torch.from_numpy(per_step[:, -1]).nansum()
            diverged = {i: int(at) for i, at in enumerate(diverged_at) if at}
        if on_step is not None and (step % 100 == 0 or step == steps):
            on_step(before + step, last_loss.item())
        if diverged:
            diverge(diverged)
        if alive.any():
            evaluated(step)
    return results

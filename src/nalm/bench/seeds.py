"""Many seeds of one configuration side by side: one module whose parameters have a leading seed axis.

The units' formulas broadcast over leading axes (see :mod:`nalm.functional`), so a module whose
matrices are (S, in, out) and whose vectors are (S, 1, n) maps inputs (S, batch, in) to
(S, batch, out): S independent models in one forward pass. Adam is elementwise, so one Adam over
the stacked parameters is S independent Adams, and :func:`train_seeds` gives each seed the same
initialization, data, updates and evaluations as :func:`nalm.bench.trainer.train` gives it alone
(up to float32 rounding of the batched matmuls).

Data: each seed draws from its own generators (:func:`nalm.bench.trainer.stream_generator`).
A CPU generator's ``torch.rand`` stream is sequential, so drawing the batches of K steps in one
call gives the same numbers as K calls of one batch; :func:`train_seeds` draws in such chunks to
cut the per-call overhead, and regenerates the evaluation sets in row chunks at every evaluation
so that memory stays O(S * chunk) however many seeds run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor

import torch
from torch import nn

from nalm.bench.metrics import network_sparsity
from nalm.bench.tasks import StaticArithmeticTask
from nalm.bench.trainer import Evaluation, TrainConfig, TrainResult, stream_generator
from nalm.validation import positive_int

TRAIN_CHUNK_ELEMENTS = 1 << 23
"""Training inputs drawn at once, over all seeds: K steps with S * K * batch * inputs <= this."""

EVAL_CHUNK_ELEMENTS = 1 << 22
"""Evaluation inputs in one forward pass, over all seeds: S * rows * inputs <= this."""


def check_seeds(seeds: Sequence[int]) -> tuple[int, ...]:
    """Return ``seeds`` as a tuple if it is a non-empty sequence of distinct integers >= 0, else raise."""
    seeds = tuple(seeds)
    if not seeds:
        raise ValueError("seeds must hold at least one seed, got none")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seeds must be non-negative integers, got {seed!r}")
    duplicates = sorted({seed for seed in seeds if seeds.count(seed) > 1})
    if duplicates:
        raise ValueError(f"seeds must be distinct, got {duplicates} more than once")
    return seeds


def seed_axis_shape(shape: torch.Size, n_seeds: int) -> tuple[int, ...]:
    """The stacked shape of a parameter of ``shape``: (S, *shape) for a matrix; a vector (n,)
    becomes (S, 1, n) and a scalar (S, 1, 1), so that they broadcast over (S, batch, features)."""
    return (n_seeds, *(1,) * max(0, 2 - len(shape)), *shape)


def stack_seeds(build: Callable[[], nn.Module], seeds: Sequence[int]) -> nn.Module:
    """One model per seed, stacked into one module with a leading seed axis on every parameter.

    ``torch.manual_seed(seed)`` runs before each ``build()``, so seed s starts exactly as a model
    built after ``torch.manual_seed(s)`` alone. The returned module is the first built model with
    each parameter replaced by the per-seed parameters stacked in the order of ``seeds``:
    a matrix (in, out) becomes (S, in, out), a vector (n,) becomes (S, 1, n) (see
    :func:`seed_axis_shape`). Its forward maps (S, batch, in) to (S, batch, out).

    Raises ValueError for bad seeds, for a model with buffers (only parameters are stacked) and
    for builds whose parameters differ in names or shapes.
    """
    seeds = check_seeds(seeds)
    models = []
    for seed in seeds:
        torch.manual_seed(seed)
        models.append(build())
    stacked = models[0]
    buffers = [name for name, _ in stacked.named_buffers()]
    if buffers:
        raise ValueError(f"stack_seeds stacks parameters only, but the model has buffers {buffers}")
    layout = [(name, p.shape) for name, p in stacked.named_parameters()]
    for seed, model in zip(seeds[1:], models[1:]):
        other = [(name, p.shape) for name, p in model.named_parameters()]
        if other != layout:
            raise ValueError(f"build() made a different model for seed {seed}: parameters {other} instead of {layout}")
    per_seed = [dict(model.named_parameters()) for model in models]
    for name, shape in layout:
        owner, _, attribute = name.rpartition(".")
        values = torch.stack([parameters[name].detach() for parameters in per_seed])
        setattr(
            stacked.get_submodule(owner),
            attribute,
            nn.Parameter(values.reshape(seed_axis_shape(shape, len(seeds)))),
        )
    return stacked


def _seed_data(
    task: StaticArithmeticTask,
    rows: int,
    bounds: tuple[float, float],
    subsets: Sequence[tuple[slice, slice]],
    streams: Sequence[torch.Generator],
    like: torch.Tensor,
    pool: Executor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``rows`` samples per seed, each from its own stream, drawn by ``pool``'s threads:
    x (S, rows, inputs), target (S, rows, 1), on ``like``'s device and dtype."""

    def draw(seed_subsets: tuple[slice, slice], stream: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return task.sample(rows, bounds, seed_subsets, stream, like.dtype)

    pairs = list(pool.map(draw, subsets, streams))
    x = torch.stack([pair[0] for pair in pairs]).to(like.device)
    target = torch.stack([pair[1] for pair in pairs]).to(like.device)
    return x, target


def _training_batches(
    task: StaticArithmeticTask,
    config: TrainConfig,
    subsets: Sequence[tuple[slice, slice]],
    streams: Sequence[torch.Generator],
    like: torch.Tensor,
    pool: Executor,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Each step's batch for every seed, x (S, batch, inputs) and target (S, batch, 1), drawn
    ``chunk`` steps at a time per seed (the same numbers as one draw per step)."""
    n_seeds, batch = len(streams), config.batch_size
    chunk = max(1, TRAIN_CHUNK_ELEMENTS // (n_seeds * batch * task.input_size))
    for start in range(0, config.steps, chunk):
        steps = min(chunk, config.steps - start)
        x, target = _seed_data(task, steps * batch, task.interpolation_range, subsets, streams, like, pool)
        x, target = x.view(n_seeds, steps, batch, -1), target.view(n_seeds, steps, batch, 1)
        for k in range(steps):
            yield x[:, k], target[:, k]


def _mean_squared_errors(
    model: nn.Module,
    task: StaticArithmeticTask,
    config: TrainConfig,
    seeds: Sequence[int],
    subsets: Sequence[tuple[slice, slice]],
    stream: str,
    like: torch.Tensor,
    pool: Executor,
) -> list[float]:
    """Each seed's MSE on its ``stream`` set ("interpolation" or "extrapolation") of
    ``config.eval_size`` points, drawn again from the seed's generator in row chunks."""
    bounds = task.interpolation_range if stream == "interpolation" else task.extrapolation_range
    streams = [stream_generator(seed, stream) for seed in seeds]
    rows = max(1, EVAL_CHUNK_ELEMENTS // (len(seeds) * task.input_size))
    total = torch.zeros(len(seeds), dtype=torch.float64, device=like.device)
    with torch.no_grad():
        for start in range(0, config.eval_size, rows):
            x, target = _seed_data(task, min(rows, config.eval_size - start), bounds, subsets, streams, like, pool)
            total += ((model(x) - target) ** 2).sum(dim=(1, 2), dtype=torch.float64)
    return (total / config.eval_size).tolist()


def train_stacked(
    model: nn.Module, task: StaticArithmeticTask, config: TrainConfig, seeds: Sequence[int], *, workers: int = 1
) -> list[TrainResult]:
    """Train a :func:`stack_seeds` model, seed s on seed s's data, as :func:`~nalm.bench.trainer.train` would alone.

    ``model`` maps (S, batch, inputs) to (S, batch, 1) with S = len(seeds); ``config.seed`` is not
    used. Each seed's subsets, training batches and evaluation sets come from its own streams, as
    in ``train``. The loss is the sum over seeds of each seed's MSE plus
    ``model.regularization_loss(step)``, which for stacked weights is the sum over the seeds of
    each seed's own penalty (see :func:`nalm.functional.seed_count`), so each seed gets the
    gradient of its own MSE plus its own regularizer; one Adam over the stacked parameters
    updates every seed as its own Adam would. ``model.apply_constraints()`` runs after every step.

    A seed whose MSE is not finite is diverged at that step: it is evaluated then (as ``train``
    does), its parameters and Adam state are zeroed, and its loss is left out from then on, so it
    cannot spread NaN to the other seeds. Training stops early when every seed has diverged.

    ``workers`` threads draw the seeds' data (data dominates the time of many small models);
    each seed has its own generators, so the numbers do not depend on ``workers``.

    Returns one :class:`~nalm.bench.trainer.TrainResult` per seed, in the order of ``seeds``.
    """
    seeds = check_seeds(seeds)
    positive_int("workers", workers)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return _train(model, task, config, seeds, pool)


def _train(
    model: nn.Module, task: StaticArithmeticTask, config: TrainConfig, seeds: tuple[int, ...], pool: Executor
) -> list[TrainResult]:
    """:func:`train_stacked` with its arguments checked and its data threads started."""
    parameters = list(model.parameters())
    if any(p.shape[0] != len(seeds) for p in parameters):
        shapes = [tuple(p.shape) for p in parameters]
        raise ValueError(f"every parameter of model needs a leading seed axis of {len(seeds)}, got shapes {shapes}")
    like = parameters[0]
    subsets = [task.subsets(stream_generator(seed, "subsets")) for seed in seeds]
    streams = [stream_generator(seed, "train") for seed in seeds]
    optimizer = torch.optim.Adam(parameters, lr=config.learning_rate)
    results = [TrainResult() for _ in seeds]
    alive = torch.ones(len(seeds), dtype=torch.bool, device=like.device)

    def evaluate(step: int, which: list[int]) -> None:
        interpolation = _mean_squared_errors(model, task, config, seeds, subsets, "interpolation", like, pool)
        extrapolation = _mean_squared_errors(model, task, config, seeds, subsets, "extrapolation", like, pool)
        sparsity = network_sparsity(model)
        sparsity = [None] * len(seeds) if sparsity is None else sparsity.tolist()
        for i in which:
            results[i].evaluations.append(Evaluation(step, interpolation[i], extrapolation[i], sparsity[i]))

    batches = _training_batches(task, config, subsets, streams, like, pool)
    for step, (x, target) in enumerate(batches, start=1):
        errors = ((model(x) - target) ** 2).mean(dim=(1, 2))
        loss = torch.where(alive, errors, 0.0).sum() + model.regularization_loss(step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        model.apply_constraints()
        diverged = alive & ~torch.isfinite(errors.detach())
        if diverged.any():
            newly = diverged.nonzero().flatten().tolist()
            evaluate(step, newly)
            for i in newly:
                results[i].diverged = True
            _reset_seeds(optimizer, diverged)
            alive &= ~diverged
            if not alive.any():
                break
        if step % config.eval_every == 0 or step == config.steps:
            evaluate(step, alive.nonzero().flatten().tolist())
    return results


@torch.no_grad()
def _reset_seeds(optimizer: torch.optim.Optimizer, seeds: torch.Tensor) -> None:
    """Zero the parameters and Adam state of the seeds where the boolean (S,) ``seeds`` is True."""
    for group in optimizer.param_groups:
        for parameter in group["params"]:
            parameter[seeds] = 0.0
            for name in ("exp_avg", "exp_avg_sq"):
                optimizer.state[parameter][name][seeds] = 0.0


def train_seeds(
    build: Callable[[], nn.Module],
    task: StaticArithmeticTask,
    config: TrainConfig,
    seeds: Sequence[int],
    *,
    workers: int = 1,
) -> list[TrainResult]:
    """Build and train one model per seed, all at once: :func:`stack_seeds` then :func:`train_stacked`.

    ``build()`` makes one single-seed model, (batch, inputs) -> (batch, 1), e.g.
    ``lambda: build_model("nmu", task.input_size)``. Seed s's result equals
    ``torch.manual_seed(s); train(build(), task, replace(config, seed=s))`` up to float32 rounding.
    ``workers`` threads draw the data (see :func:`train_stacked`).
    Returns one :class:`~nalm.bench.trainer.TrainResult` per seed, in the order of ``seeds``.
    """
    return train_stacked(stack_seeds(build, seeds), task, config, seeds, workers=workers)

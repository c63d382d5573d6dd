"""Many seeds of one configuration side by side: one module whose parameters have a leading seed axis.

The units' formulas broadcast over leading axes (see :mod:`nalm.functional`), so a module whose
matrices are (S, in, out) and whose vectors are (S, 1, n) maps inputs (S, batch, in) to
(S, batch, out): S independent models in one forward pass. Adam is elementwise, so one Adam over
the stacked parameters is S independent Adams, and :func:`train_seeds` gives each seed the same
initialization, data, updates and evaluations as :func:`nalm.bench.trainer.train` gives it alone
(up to float32 rounding of the batched matmuls).

Data: each seed draws from its own streams (:mod:`nalm.bench.data`), with compiled kernels that
draw all the seeds at once on ``threads`` threads, or on the model's device (a GPU) where it is not
the CPU. When the first layer is linear (NAC, NAU, a
linear baseline: ``linear_weight()`` is not None) the kernel multiplies each batch by that
layer's weight as it draws it, so the batch never passes through autograd (see
:func:`nalm.bench.data.draw_projection`). Evaluation sets are drawn again in row chunks at every
evaluation, so memory stays O(S * chunk) however many seeds run.

Models whose layers :mod:`nalm.bench.fused` knows (every model of the madsen2020 preset) train
on its compiled kernels instead: the same data, state, checkpoints and results, one kernel call
per evaluation interval.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nalm.bench.checkpoints import read_checkpoint, write_checkpoint
from nalm.bench.data import MAX_SEED, SeedStreams, draw_projection, projectable, set_threads
from nalm.bench.fused import FusedRun, plan
from nalm.bench.metrics import network_sparsity
from nalm.bench.tasks import Range, StaticArithmeticTask, intervals
from nalm.bench.trainer import Evaluation, TrainConfig, TrainResult
from nalm.validation import positive_int

EVAL_CHUNK_ELEMENTS = 1 << 22
"""Evaluation inputs in one forward pass, over all seeds: S * rows * inputs <= this."""


def check_seeds(seeds: Sequence[int]) -> tuple[int, ...]:
    """Return ``seeds`` as a tuple if it is a non-empty sequence of distinct integers >= 0, else raise."""
    seeds = tuple(seeds)
    if not seeds:
        raise ValueError("seeds must hold at least one seed, got none")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
            raise ValueError(f"seeds must be integers in [0, {MAX_SEED}], got {seed!r}")
    duplicates = sorted({seed for seed in seeds if seeds.count(seed) > 1})
    if duplicates:
        raise ValueError(f"seeds must be distinct, got {duplicates} more than once")
    return seeds


def seed_axis_shape(shape: torch.Size, n_seeds: int) -> tuple[int, ...]:
    """The stacked shape of a parameter of ``shape``: (S, *shape) for a matrix; a vector (n,)
    becomes (S, 1, n) and a scalar (S, 1, 1), so that they broadcast over (S, batch, features)."""
    return (n_seeds, *(1,) * max(0, 2 - len(shape)), *shape)


@contextmanager
def seed_axis_view(model: nn.Module) -> Iterator[nn.Module]:
    """Within the block, ``model``'s parameters are views of themselves with a leading seed axis of 1
    (shapes as :func:`seed_axis_shape`), sharing their storage: training the view trains the model."""
    originals = list(model.named_parameters())
    try:
        for name, parameter in originals:
            owner, _, attribute = name.rpartition(".")
            view = nn.Parameter(parameter.detach().view(seed_axis_shape(parameter.shape, 1)))
            setattr(model.get_submodule(owner), attribute, view)
        yield model
    finally:
        for name, parameter in originals:
            owner, _, attribute = name.rpartition(".")
            setattr(model.get_submodule(owner), attribute, parameter)


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


class _SeedBatches:
    """Draws the seeds' rows and runs them through the stacked model: (S, rows, 1) outputs and targets."""

    def __init__(self, model: nn.Module, task: StaticArithmeticTask, seeds: Sequence[int]) -> None:
        self.model, self.task, self.seeds = model, task, seeds
        self.streams = SeedStreams(seeds, "train")
        self.subsets = [task.subsets(seed) for seed in seeds]
        self.spans = task.spans(self.subsets)
        self.layers = list(model) if isinstance(model, nn.Sequential) else [model]
        self.like = next(model.parameters())
        linear = getattr(self.layers[0], "linear_weight", lambda: None)()
        self.fused = linear is not None and projectable(linear) and task.time_steps == 1

    def __call__(self, streams: SeedStreams, rows: int, bounds: Range) -> tuple[torch.Tensor, torch.Tensor]:
        """The next ``rows`` rows of ``streams`` from ``bounds``: model outputs and targets."""
        if not self.fused:
            x, target = self.task.sample(rows, bounds, self.subsets, streams, self.like.dtype, self.like.device)
            return self.model(x), target
        h, sums = draw_projection(streams, rows, intervals(bounds), self.spans, self.layers[0].linear_weight())
        for layer in self.layers[1:]:
            h = layer(h)
        return h, self.task.targets(sums, self.like.dtype)

    def resume(self, steps: int, batch_size: int) -> None:
        """Move the training streams past ``steps`` batches of ``batch_size`` rows."""
        self.streams.advance(steps * batch_size * self.task.time_steps, self.task.input_size)

    def errors(self, batch_size: int) -> torch.Tensor:
        """(S,): each seed's MSE on its next training batch."""
        output, target = self(self.streams, batch_size, self.task.interpolation_range)
        if output.shape != target.shape:
            raise ValueError(f"the model maps the task's inputs to {tuple(output.shape)}, not to the targets' "
                             f"{tuple(target.shape)} (on the recurrent task, its first layer must fold the time steps)")
        return ((output - target) ** 2).mean(dim=(1, 2))

    def evaluate(self, rows: int) -> tuple[list[float], list[float], list[tuple[float, ...]]]:
        """Each seed's interpolation and extrapolation MSE on its sets of ``rows`` points (no per-length MSEs)."""
        interpolation = self.mean_squared_errors("interpolation", rows)
        return interpolation, self.mean_squared_errors("extrapolation", rows), [()] * len(self.seeds)

    def sparsity(self) -> list[float | None]:
        """Each seed's sparsity error, or None for every seed of a model without ``weights()``."""
        sparsity = network_sparsity(self.model)
        return [None] * len(self.seeds) if sparsity is None else sparsity.tolist()

    def penalty(self, step: int, alive: torch.Tensor) -> torch.Tensor:
        """The stacked model's penalties at ``step``: those of every seed, ``alive`` or not, as a
        diverged seed's weights are zero, where the sparsity penalties have no gradient."""
        return self.model.regularization_loss(step)

    def reset(self, optimizer: torch.optim.Optimizer, seeds: torch.Tensor) -> None:
        """Zero the parameters and Adam state of the seeds where the boolean (S,) ``seeds`` is True."""
        _reset_seeds(optimizer, seeds)

    @torch.no_grad()
    def mean_squared_errors(self, stream: str, rows: int) -> list[float]:
        """Each seed's MSE on its ``stream`` set ("interpolation" or "extrapolation") of ``rows``
        points, drawn again from the seed's stream in row chunks."""
        task = self.task
        bounds = task.interpolation_range if stream == "interpolation" else task.extrapolation_range
        streams = SeedStreams(self.seeds, stream)
        chunk = max(1, EVAL_CHUNK_ELEMENTS // (len(self.seeds) * task.input_size * task.time_steps))
        total = torch.zeros(len(self.seeds), dtype=torch.float64, device=self.like.device)
        for start in range(0, rows, chunk):
            output, target = self(streams, min(chunk, rows - start), bounds)
            total += ((output - target) ** 2).sum(dim=(1, 2), dtype=torch.float64)
        return (total / rows).tolist()


def train_stacked(
    model: nn.Module,
    task: StaticArithmeticTask,
    config: TrainConfig,
    seeds: Sequence[int],
    *,
    threads: int = 1,
    checkpoint: str | os.PathLike[str] | None = None,
    on_step: Callable[[int, float], None] | None = None,
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

    ``threads`` threads draw the seeds' data and run the compiled kernels; each seed has its own
    streams, so the numbers do not depend on ``threads``.

    With a ``checkpoint`` path, the run's state (step, weights, Adam state, evaluations so far) is
    written there at every evaluation, atomically, with a checksum. If the file exists when the
    run starts, the run continues from it and ends exactly as the uninterrupted run would (the data
    streams are counter-based: the step fixes their positions); a damaged checkpoint, or one of
    another run (other seeds, task, config or model), is set aside with a warning and the run
    starts from step 0 (:mod:`nalm.bench.checkpoints`). The file is left in place, for the caller to remove once it has
    saved the results. ``on_step(step, loss)`` is called every 100 steps and at the last one with
    the loss summed over the seeds.

    Returns one :class:`~nalm.bench.trainer.TrainResult` per seed, in the order of ``seeds``.
    """
    seeds = check_seeds(seeds)
    problem = _problem(model, task, seeds)
    path = None if checkpoint is None else Path(checkpoint)
    if not isinstance(problem, _SeedBatches):  # no compiled kernels: their threads are not started
        return _train(model, problem, config, seeds, path, on_step)
    previous = set_threads(positive_int("threads", threads))
    try:
        return _train(model, problem, config, seeds, path, on_step)
    finally:
        set_threads(previous)


def _problem(model: nn.Module, task: Any, seeds: tuple[int, ...]) -> Any:
    """What the loop trains the seeds of ``task`` on: batches, evaluations, sparsity and resets."""
    from nalm.bench.sequences import DigitBatches, SeedEnsemble  # sequences builds on this module

    if isinstance(model, SeedEnsemble):
        return DigitBatches(model, task, seeds)
    parameters = list(model.parameters())
    if any(p.shape[0] != len(seeds) for p in parameters):
        shapes = [tuple(p.shape) for p in parameters]
        raise ValueError(f"every parameter of model needs a leading seed axis of {len(seeds)}, got shapes {shapes}")
    return _SeedBatches(model, task, seeds)


def _train(
    model: nn.Module,
    problem: Any,
    config: TrainConfig,
    seeds: tuple[int, ...],
    checkpoint: Path | None,
    on_step: Callable[[int, float], None] | None = None,
) -> list[TrainResult]:
    """:func:`train_stacked` with its arguments checked, on ``problem`` (a static task's
    :class:`_SeedBatches` or a digit task's :class:`nalm.bench.sequences.DigitBatches`: the next
    training batch's per-seed errors and penalties, the evaluations, sparsity and resets of
    diverged seeds);
    ``on_step(step, loss)`` every 100 steps and at the last, with the loss summed over the seeds."""
    parameters = [p for p in model.parameters() if p.requires_grad]
    like = parameters[0]
    task = problem.task
    fused = like.device.type in ("cpu", "cuda")  # one kernel for all of Adam's updates, where torch has it
    optimizer = torch.optim.Adam(parameters, lr=config.learning_rate, fused=fused or None)
    static = isinstance(problem, _SeedBatches)
    compiled = FusedRun(model, task, seeds, optimizer) if static and task.time_steps == 1 and plan(model) is not None else None
    results = [TrainResult() for _ in seeds]
    alive = torch.ones(len(seeds), dtype=torch.bool, device=like.device)
    run = {"seeds": list(seeds), "task": repr(task), "config": repr(config), "model": repr(model), "dtype": str(like.dtype)}
    done = 0
    if checkpoint is not None:
        done = _restore(checkpoint, run, model, optimizer, results, alive)
        problem.resume(done, config.batch_size)
    history = _History(results)

    def evaluate(steps: dict[int, int]) -> None:
        """Evaluate seed i (an index into ``seeds``) as after step steps[i]."""
        if compiled is not None:
            interpolation = compiled.mean_squared_errors("interpolation", config.eval_size, seeds)
            extrapolation = compiled.mean_squared_errors("extrapolation", config.eval_size, seeds)
            by_length = [()] * len(seeds)
        else:
            interpolation, extrapolation, by_length = problem.evaluate(config.eval_size)
        sparsity = problem.sparsity()
        for i, step in steps.items():
            results[i].evaluations.append(
                Evaluation(step, interpolation[i], extrapolation[i], sparsity[i], tuple(by_length[i]))
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
        if step % config.eval_every == 0 or step == config.steps:
            evaluate({i: step for i in alive.nonzero().flatten().tolist()})
            if checkpoint is not None:
                _save(checkpoint, run, step, model, optimizer, history, alive)

    step = done
    while step < config.steps and alive.any():
        if compiled is None:
            step += 1
            errors = problem.errors(config.batch_size)
            loss = torch.where(alive, errors, 0.0).sum() + problem.penalty(step, alive)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            model.apply_constraints()
            last_loss = loss.detach()
            diverged = {i: step for i in (alive & ~torch.isfinite(errors.detach())).nonzero().flatten().tolist()}
        else:  # up to the next evaluation (or report) in one call
            stop = min(config.steps, (step // config.eval_every + 1) * config.eval_every)
            if on_step is not None:
                stop = min(stop, (step // 100 + 1) * 100)
            per_step, diverged_at = compiled.train(
                problem.streams, range(step + 1, stop + 1), config.batch_size, alive.numpy()
            )
            step = stop
            last_loss = torch.from_numpy(per_step[:, -1]).nansum()
            diverged = {i: int(at) for i, at in enumerate(diverged_at) if at}
        if on_step is not None and (step % 100 == 0 or step == config.steps):
            on_step(step, last_loss.item())
        if diverged:
            diverge(diverged)
        if alive.any():
            evaluated(step)
    return results


class _History:
    """Each seed's evaluations as a float64 table (n, 5 + L): step, interpolation MSE, extrapolation
    MSE, sparsity error (0 where there is none), whether there is one, then the L test MSEs by
    length (digit tasks; L = 0 on the static task). :meth:`tables` converts only the evaluations
    added since its last call, so a checkpoint of a long run costs Python time for its new
    evaluations, not for all of them."""

    COLUMNS = 5

    def __init__(self, results: list[TrainResult]) -> None:
        self.results = results
        self._tables: list[torch.Tensor | None] = [None for _ in results]

    def tables(self) -> list[torch.Tensor]:
        for i, result in enumerate(self.results):
            table = self._tables[i]
            known = 0 if table is None else len(table)
            if len(result.evaluations) < known:
                raise RuntimeError("a run's evaluations are only ever appended to")
            new = result.evaluations[known:]
            if new:
                rows = torch.tensor(
                    [(e.step, e.interpolation_mse, e.extrapolation_mse, e.sparsity_error or 0.0,
                      e.sparsity_error is not None, *e.test_mse) for e in new],
                    dtype=torch.float64,
                )
                self._tables[i] = rows if table is None else torch.cat([table, rows])
            elif table is None:
                self._tables[i] = torch.empty(0, self.COLUMNS, dtype=torch.float64)
        return self._tables  # type: ignore[return-value]

    @staticmethod
    def evaluations(table: torch.Tensor) -> list[Evaluation]:
        """The evaluations of one seed's table."""
        return [Evaluation(int(row[0]), row[1], row[2], row[3] if row[4] else None, tuple(row[5:]))
                for row in table.tolist()]


def _save(
    path: Path,
    run: dict[str, Any],
    step: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    history: _History,
    alive: torch.Tensor,
) -> None:
    """Write the state of a run after ``step`` to ``path`` (:func:`nalm.bench.checkpoints.write_checkpoint`)."""
    state = {
        "run": run,
        "step": step,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "alive": alive,
        "results": [{"evaluations": table, "diverged": result.diverged}
                    for table, result in zip(history.tables(), history.results)],
    }
    write_checkpoint(path, state)


def _restore(
    path: Path,
    run: dict[str, Any],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    results: list[TrainResult],
    alive: torch.Tensor,
) -> int:
    """Load the state :func:`_save` wrote into the run's objects and return its step (0 when the
    file is missing or was set aside, see :func:`nalm.bench.checkpoints.read_checkpoint`).
    Checkpoints of earlier versions, whose evaluations are lists of dicts, load too."""
    state = read_checkpoint(path, run, alive.device)
    if state is None:
        return 0
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    alive.copy_(state["alive"])
    for result, saved in zip(results, state["results"]):
        evaluations = saved["evaluations"]
        result.evaluations = (_History.evaluations(evaluations) if isinstance(evaluations, torch.Tensor)
                              else [Evaluation(**e) for e in evaluations])
        result.diverged = saved["diverged"]
    return state["step"]


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
    threads: int = 1,
    checkpoint: str | os.PathLike[str] | None = None,
) -> list[TrainResult]:
    """Build and train one model per seed, all at once: :func:`stack_seeds` then :func:`train_stacked`.

    ``build()`` makes one single-seed model, (batch, inputs) -> (batch, 1), e.g.
    ``lambda: build_unit_stack("nmu", task.input_size)``. Seed s's result equals
    ``torch.manual_seed(s); train(build(), task, replace(config, seed=s))`` up to float32 rounding.
    ``threads`` threads train them; ``checkpoint`` saves and resumes the run (see :func:`train_stacked`).
    Returns one :class:`~nalm.bench.trainer.TrainResult` per seed, in the order of ``seeds``.
    """
    from nalm.bench.sequences import DigitSequenceTask, ensemble_seeds  # sequences builds on this module

    together = ensemble_seeds if isinstance(task, DigitSequenceTask) else stack_seeds
    return train_stacked(together(build, seeds), task, config, seeds, threads=threads, checkpoint=checkpoint)

"""The static (and recurrent) arithmetic task as the loop's [`Problem`][nalm.bench.engine.problem.Problem].

Each seed draws from its own streams ([`nalm.bench.tasks.streams`][nalm.bench.tasks.streams]), with compiled kernels that
draw all the seeds at once, or on the model's device (a GPU) where it is not the CPU. When the
first layer is linear (NAC, NAU, a bias-free linear baseline: ``linear_weight()`` is not None) the
draw multiplies each batch by that layer's weight as it draws it, so the batch never passes
through autograd ([`nalm.bench.tasks.streams.draw_projection`][nalm.bench.tasks.streams.draw_projection]). Evaluation sets are drawn
again in row chunks at every evaluation, so memory stays O(S * chunk) however many seeds run.
Models whose layers the compiled kernels know train on them ([`StaticProblem.compile`][nalm.bench.engine.static_problem.StaticProblem.compile]).
Layers with training noise (the sNMU's) draw it, one after another, from each seed's "noise"
stream, so a seed's noise, like its data, is the same beside any other seeds and after a resume.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn

from nalm.bench.engine.compiled import CompiledRun, covers
from nalm.bench.engine.problem import Scores, trainable
from nalm.bench.engine.stacking import seed_axis_view, stack_seeds
from nalm.bench.models.sparsity import network_sparsity
from nalm.bench.tasks.static import Range, StaticArithmeticTask, intervals
from nalm.bench.tasks.streams import SeedStreams, draw_projection, projectable, set_threads, uniform_noise
from nalm.torch.base import DefinedUnit
from nalm.validation import positive_int

EVAL_CHUNK_ELEMENTS = 1 << 22
"""Evaluation inputs in one forward pass, over all seeds: S * rows * inputs <= this."""


def _linear_weight(layer: nn.Module) -> torch.Tensor | None:
    """``layer.linear_weight()`` ([`nalm.torch.ArithmeticUnit.linear_weight`][nalm.torch.base.ArithmeticUnit.linear_weight]), None for a layer without one."""
    linear_weight: Callable[[], torch.Tensor | None] = getattr(layer, "linear_weight", lambda: None)
    return linear_weight()


class StaticProblem:
    """S seeds of a [`StaticArithmeticTask`][nalm.bench.tasks.static.StaticArithmeticTask] in one module whose
    parameters have a leading seed axis ([`stack_seeds`][nalm.bench.engine.stacking.stack_seeds]):
    (S, batch, inputs) -> (S, batch, 1)."""

    stack = staticmethod(stack_seeds)
    alone = staticmethod(seed_axis_view)

    def __init__(self, model: nn.Module, task: StaticArithmeticTask, seeds: Sequence[int]) -> None:
        parameters = list(model.parameters())
        if any(p.shape[0] != len(seeds) for p in parameters):
            shapes = [tuple(p.shape) for p in parameters]
            raise ValueError(f"every parameter of model needs a leading seed axis of {len(seeds)}, got shapes {shapes}")
        self.model, self.task, self.seeds = model, task, tuple(seeds)
        self.streams = SeedStreams(seeds, "train")
        self.subsets = [task.subsets(seed) for seed in seeds]
        self.spans = task.spans(self.subsets)
        self.layers = list(model) if isinstance(model, nn.Sequential) else [model]
        self.like = parameters[0]
        linear = _linear_weight(self.layers[0])
        self.projected = linear is not None and projectable(linear) and task.time_steps == 1
        self.noisy = [m for m in model.modules() if isinstance(m, DefinedUnit) and m.definition.stochastic]
        if self.noisy and task.time_steps > 1:
            raise ValueError("the benchmark draws training noise on the static task, not on the recurrent one")
        self.noise = SeedStreams(seeds, "noise")
        for layer in self.noisy:  # each seed's noise from its own stream: the same whatever the stack
            layer.noise = functools.partial(uniform_noise, self.noise)

    def __call__(self, streams: SeedStreams, rows: int, bounds: Range) -> tuple[torch.Tensor, torch.Tensor]:
        """The next ``rows`` rows of ``streams`` from ``bounds``: model outputs and targets."""
        if not self.projected:
            x, target = self.task.sample(rows, bounds, self.subsets, streams, self.like.dtype, self.like.device)
            return self.model(x), target
        weight = _linear_weight(self.layers[0])
        assert weight is not None  # projected: the first layer is linear (its options are fixed when it is built)
        h, sums = draw_projection(streams, rows, intervals(bounds), self.spans, weight)
        for layer in self.layers[1:]:
            h = layer(h)
        return h, self.task.targets(sums, self.like.dtype)

    @contextmanager
    def threads(self, threads: int) -> Iterator[None]:
        """Within the block, the draws and the compiled kernels run on ``threads`` threads (numba's)."""
        previous = set_threads(positive_int("threads", threads))
        try:
            yield
        finally:
            set_threads(previous)

    def resume(self, steps: int, batch_size: int) -> None:
        """Move the training streams (and the noise streams) past ``steps`` batches of ``batch_size`` rows."""
        self.streams.advance(steps * batch_size * self.task.time_steps, self.task.input_size)
        for layer in self.noisy:  # one draw of (batch, in_features) a step, layer after layer
            self.noise.advance(steps * batch_size, layer.in_features)

    def errors(self, batch_size: int) -> torch.Tensor:
        """(S,): each seed's MSE on its next training batch."""
        output, target = self(self.streams, batch_size, self.task.interpolation_range)
        if output.shape != target.shape:
            raise ValueError(
                f"the model maps the task's inputs to {tuple(output.shape)}, not to the targets' "
                f"{tuple(target.shape)} (on the recurrent task, its first layer must fold the time steps)"
            )
        return ((output - target) ** 2).mean(dim=(1, 2))

    def evaluate(self, rows: int) -> Scores:
        """Each seed's interpolation and extrapolation MSE on its sets of ``rows`` points (no per-length MSEs)."""
        interpolation = self.mean_squared_errors("interpolation", rows)
        return Scores(interpolation, self.mean_squared_errors("extrapolation", rows), [()] * len(self.seeds))

    def sparsity(self) -> list[float | None]:
        """Each seed's sparsity error, or None for every seed of a model without ``weights()``."""
        sparsity = network_sparsity(self.model)
        return [None] * len(self.seeds) if sparsity is None else sparsity.tolist()

    def penalty(self, step: int, alive: torch.Tensor) -> torch.Tensor:
        """The stacked model's penalties at ``step``: those of every seed, ``alive`` or not, as a
        diverged seed's weights are zero, where the sparsity penalties have no gradient."""
        return trainable(self.model).regularization_loss(step)

    @torch.no_grad()
    def reset(self, optimizer: torch.optim.Optimizer, seeds: torch.Tensor) -> None:
        """Zero the parameters and Adam state of the seeds where the boolean (S,) ``seeds`` is True."""
        for group in optimizer.param_groups:
            for parameter in group["params"]:
                parameter[seeds] = 0.0
                for name in ("exp_avg", "exp_avg_sq"):
                    optimizer.state[parameter][name][seeds] = 0.0

    @staticmethod
    def compiles(model: nn.Module, task: StaticArithmeticTask) -> bool:
        """Whether the compiled kernels cover the stacked ``model`` ([`covers`][nalm.bench.engine.compiled.covers]) on ``task``:
        the static task (one time step) only."""
        return task.time_steps == 1 and covers(model)

    def compile(self, optimizer: torch.optim.Adam, gradient_clip: float | None = None) -> CompiledRun | None:
        """The compiled kernels' run of the seeds (each seed's gradient clipped to ``gradient_clip``
        where given), where they cover them (`compiles`); else None."""
        if not self.compiles(self.model, self.task):
            return None
        return CompiledRun(self.model, self.task, self.seeds, optimizer, gradient_clip)

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

"""Many seeds of one configuration side by side, in one module.

The units' formulas broadcast over leading axes (see [`nalm.functional`][nalm.functional]), so a module whose
matrices are (S, in, out) and whose vectors are (S, 1, n) maps inputs (S, batch, in) to
(S, batch, out): S independent models in one forward pass ([`stack_seeds`][nalm.bench.engine.stacking.stack_seeds]). Adam is
elementwise, so one Adam over the stacked parameters is S independent Adams. Models whose
parameters cannot be stacked (the digit tasks' CNN readers) are held side by side instead, one
member per seed ([`SeedEnsemble`][nalm.bench.engine.stacking.SeedEnsemble]).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn

from nalm.bench.engine.problem import trainable
from nalm.bench.tasks.streams import MAX_SEED
from nalm.validation import non_negative_int


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


@torch.no_grad()
def clip_seed_gradients(parameters: Sequence[torch.Tensor], max_norm: float) -> None:
    """Clip each seed's gradient to an L2 norm of at most ``max_norm``, in place, as
    ``torch.nn.utils.clip_grad_norm_`` clips one model's: seed s's gradient is the slices [s] of
    every parameter's leading seed axis, its norm is taken over all of them, and it is scaled by
    min(1, max_norm / (norm + 1e-6)). Parameters without a gradient are skipped."""
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    norms = torch.stack([torch.linalg.vector_norm(g.flatten(1), dim=1) for g in grads])  # (parameters, S)
    scale = (max_norm / (torch.linalg.vector_norm(norms, dim=0) + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(scale.view(-1, *(1,) * (g.dim() - 1)))


def seed_axis_shape(shape: torch.Size, n_seeds: int) -> tuple[int, ...]:
    """The stacked shape of a parameter of ``shape``: (S, *shape) for a matrix; a vector (n,)
    becomes (S, 1, n) and a scalar (S, 1, 1), so that they broadcast over (S, batch, features)."""
    return (n_seeds, *(1,) * max(0, 2 - len(shape)), *shape)


@contextmanager
def seed_axis_view(model: nn.Module) -> Iterator[nn.Module]:
    """Within the block, ``model``'s parameters are views of themselves with a leading seed axis of 1
    (shapes as [`seed_axis_shape`][nalm.bench.engine.stacking.seed_axis_shape]), sharing their storage: training the view trains the model."""
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


def init_seed(seed: int, attempt: int = 0) -> int:
    """The seed of torch's generator that seed ``seed``'s model of ``attempt`` is built after:
    ``seed`` itself for the first attempt (0), seed + attempt * (MAX_SEED + 1) for a later one
    (see [`TrainConfig.attempts`][nalm.bench.engine.config.TrainConfig]), so that no two (seed,
    attempt) pairs start alike."""
    return seed + non_negative_int("attempt", attempt) * (MAX_SEED + 1)


def stack_seeds(build: Callable[[], nn.Module], seeds: Sequence[int], attempt: int = 0) -> nn.Module:
    """One model per seed, stacked into one module with a leading seed axis on every parameter.

    ``torch.manual_seed(init_seed(seed, attempt))`` runs before each ``build()``, so seed s starts
    exactly as a model built after ``torch.manual_seed(s)`` alone (attempt 0, the default). The returned module is the first built model with
    each parameter replaced by the per-seed parameters stacked in the order of ``seeds``:
    a matrix (in, out) becomes (S, in, out), a vector (n,) becomes (S, 1, n) (see
    [`seed_axis_shape`][nalm.bench.engine.stacking.seed_axis_shape]). Its forward maps (S, batch, in) to (S, batch, out).

    Raises ValueError for bad seeds, for a model with buffers (only parameters are stacked) and
    for builds whose parameters differ in names or shapes.
    """
    seeds = check_seeds(seeds)
    models = []
    for seed in seeds:
        torch.manual_seed(init_seed(seed, attempt))
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


class SeedEnsemble(nn.Module):
    """One model per seed, ``members[i]`` for seed i, trained together: the training hooks are the
    sums of the members' (each member's penalty is its own, so the sum gives each its own gradient)."""

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def regularization_loss(self, step: int, alive: torch.Tensor | None = None) -> torch.Tensor:
        """The sum of the members' penalties at ``step``, of those where the boolean (S,) ``alive``
        is True if given."""
        if alive is not None and alive.shape != (len(self.members),):
            raise ValueError(
                f"alive must have one entry per member ({len(self.members)}), got shape {tuple(alive.shape)}"
            )
        living = [True] * len(self.members) if alive is None else alive.tolist()
        return sum(
            (trainable(member).regularization_loss(step) for member, lives in zip(self.members, living) if lives),
            next(self.parameters()).new_zeros(()),
        )

    @torch.no_grad()
    def apply_constraints(self) -> None:
        for member in self.members:
            trainable(member).apply_constraints()


def ensemble_seeds(build: Callable[[], nn.Module], seeds: Sequence[int], attempt: int = 0) -> SeedEnsemble:
    """``build()`` once per seed after ``torch.manual_seed(init_seed(seed, attempt))``, so each
    member starts exactly as that seed's model built alone (attempt 0, the default)."""
    members = []
    for seed in check_seeds(seeds):
        torch.manual_seed(init_seed(seed, attempt))
        members.append(build())
    return SeedEnsemble(members)

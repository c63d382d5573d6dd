"""How one run trains: steps, batch size, Adam's learning rate, evaluation schedule, seed."""

from __future__ import annotations

from dataclasses import dataclass

from nalm.bench.tasks.streams import MAX_SEED
from nalm.validation import positive_float, positive_int

MAX_STEPS = 10**9
"""The most training steps a run may ask for (200 times the published budget)."""
MAX_ROWS = 10**7
"""The most rows a training batch or an evaluation set may have."""
MAX_ATTEMPTS = 1_000
"""The most attempts a run may split its steps into."""


@dataclass(frozen=True)
class TrainConfig:
    """How to train: steps, batch size, Adam's learning rate, evaluation schedule, seed, the
    largest L2 norm of each seed's gradient (over all its parameters; None: not clipped), and the
    number of attempts the steps are split into.

    Protocol (Madsen and Johansen 2020): Adam, a fresh batch every step, evaluation every
    ``eval_every`` steps (and at the last) on fixed evaluation sets of ``eval_size`` points.

    With ``attempts`` = k > 1 a seed trains k models one after the other, each for
    [`attempt_steps`][nalm.bench.engine.config.TrainConfig.attempt_steps] = steps // k steps: a
    fresh initialization ([`init_seed`][nalm.bench.engine.stacking.init_seed]), a fresh Adam and
    its schedules counted from its own first step, on the training data where the previous attempt
    left off. The seed's evaluations are those of all its attempts, numbered by the steps trained
    before them, so the protocol's selection (the lowest interpolation MSE) picks among all of
    them; the attempts together train at most ``steps`` steps.
    """

    steps: int = 10_000
    batch_size: int = 128
    learning_rate: float = 1e-3
    eval_every: int = 1_000
    eval_size: int = 10_000
    seed: int = 0
    gradient_clip: float | None = None
    attempts: int = 1

    def __post_init__(self) -> None:
        positive_int("steps", self.steps, at_most=MAX_STEPS)
        positive_int("batch_size", self.batch_size, at_most=MAX_ROWS)
        positive_float("learning_rate", self.learning_rate)
        positive_int("eval_every", self.eval_every)
        positive_int("eval_size", self.eval_size, at_most=MAX_ROWS)
        if self.gradient_clip is not None:
            positive_float("gradient_clip", self.gradient_clip)
        if positive_int("attempts", self.attempts, at_most=MAX_ATTEMPTS) > self.steps:
            raise ValueError(
                f"attempts must be at most steps ({self.steps:,}), got {self.attempts:,}: "
                "each attempt trains steps // attempts steps"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"seed must be an integer in [0, {MAX_SEED}], got {self.seed!r}")

    @classmethod
    def of(cls, settings: object) -> TrainConfig:
        """The training settings of ``settings`` (a benchmark): its steps, batch size, learning
        rate and evaluation schedule, checked here; the seed is each run's own."""
        names = ("steps", "batch_size", "learning_rate", "eval_every", "eval_size")
        return cls(**{name: getattr(settings, name) for name in names})

    @property
    def attempt_steps(self) -> int:
        """The steps of each attempt: steps // attempts (all of them for one attempt)."""
        return self.steps // self.attempts

    def identity(self) -> dict[str, int | float]:
        """The settings that define a stacked run (all but ``seed``: each seed is its own run;
        ``gradient_clip`` where it is set, ``attempts`` where there are more than one)."""
        identity: dict[str, int | float] = {
            "steps": self.steps,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "eval_every": self.eval_every,
            "eval_size": self.eval_size,
        }
        if self.gradient_clip is not None:
            identity["gradient_clip"] = self.gradient_clip
        if self.attempts > 1:
            identity["attempts"] = self.attempts
        return identity

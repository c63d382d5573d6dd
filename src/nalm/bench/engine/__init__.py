"""The benchmark's engine: seeds stacked side by side, the Problem each task implements, the one
training loop on the PyTorch or the compiled engine, and the run state that checkpoints hold.
Imports only the tasks and models of nalm.bench."""

from nalm.bench.engine.checkpoint import CheckpointWarning
from nalm.bench.engine.config import TrainConfig
from nalm.bench.engine.loop import ENGINES, PROBLEMS, train, train_seeds, train_stacked
from nalm.bench.engine.problem import Evaluation, Problem, Scores, TrainResult
from nalm.bench.engine.stacking import SeedEnsemble, ensemble_seeds, stack_seeds

__all__ = [
    "ENGINES",
    "PROBLEMS",
    "CheckpointWarning",
    "Evaluation",
    "Problem",
    "Scores",
    "SeedEnsemble",
    "TrainConfig",
    "TrainResult",
    "ensemble_seeds",
    "stack_seeds",
    "train",
    "train_seeds",
    "train_stacked",
]

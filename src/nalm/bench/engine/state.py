"""What a checkpoint of a run holds, and the identity that ties it to its run.

The state of a run after a step: the step, the stacked model's parameters, Adam's state, which
seeds are alive, and each seed's evaluations so far as a float64 table ([`History`][nalm.bench.engine.state.History]). It is
written with [`nalm.bench.engine.checkpoint.write_checkpoint`][nalm.bench.engine.checkpoint.write_checkpoint] under the run's identity
([`run_identity`][nalm.bench.engine.state.run_identity]), and read back only for a run of the same identity.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nalm.bench.engine.checkpoint import read_checkpoint, write_checkpoint
from nalm.bench.engine.config import TrainConfig
from nalm.bench.engine.problem import Evaluation, TrainResult
from nalm.bench.tasks.streams import DATA_STREAMS

RUN_FORMAT = 1
"""The version of [`run_identity`][nalm.bench.engine.state.run_identity]'s layout: a checkpoint of another layout belongs to no run."""


def run_identity(
    task: Any, config: TrainConfig, seeds: Sequence[int], model: nn.Module, definition: Any = None
) -> dict[str, Any]:
    """The settings that define a stacked run, as plain values: the task's kind and fields, the
    training settings, the seeds, the parameters' dtype, the version of the data streams, the
    model's structure ([`model_structure`][nalm.bench.engine.state.model_structure]) and its ``definition`` where the caller names one
    (JSON-like: the benchmark gives its model's name and definition). Two runs with the same
    identity train to the same numbers."""
    like = next(model.parameters())
    return {
        "format": RUN_FORMAT,
        "task": {"kind": type(task).__name__, **plain(dataclasses.asdict(task))},
        "training": config.identity(),
        "seeds": list(seeds),
        "dtype": str(like.dtype),
        "data": DATA_STREAMS,
        "model": plain({"structure": model_structure(model), "definition": definition}),
    }


def model_structure(model: nn.Module) -> dict[str, Any]:
    """A model's layout: each submodule's class and options (a unit's ``options``, where it has
    them) and each parameter's shape."""
    return {
        "modules": [
            [name, type(module).__name__, dict(getattr(module, "options", None) or {})]
            for name, module in model.named_modules()
        ],
        "parameters": [[name, list(parameter.shape)] for name, parameter in model.named_parameters()],
    }


def plain(value: Any) -> Any:
    """``value`` with every tuple a list, as JSON and ``torch.load(weights_only=True)`` give them back."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (tuple, list)):
        return [plain(item) for item in value]
    return value


class History:
    """Each seed's evaluations as a float64 table (n, 5 + L): step, interpolation MSE, extrapolation
    MSE, sparsity error (0 where there is none), whether there is one, then the L test MSEs by
    length (digit tasks; L = 0 on the static task). `tables` converts only the evaluations
    added since its last call, so a checkpoint of a long run costs Python time for its new
    evaluations, not for all of them."""

    COLUMNS = 5

    def __init__(self, results: list[TrainResult]) -> None:
        self.results = results
        self._tables: list[torch.Tensor] = [torch.empty(0, self.COLUMNS, dtype=torch.float64) for _ in results]
        self._known = [0 for _ in results]

    def tables(self) -> list[torch.Tensor]:
        for i, result in enumerate(self.results):
            if len(result.evaluations) < self._known[i]:
                raise RuntimeError("a run's evaluations are only ever appended to")
            new = result.evaluations[self._known[i] :]
            if new:
                rows = torch.tensor(
                    [
                        (
                            e.step,
                            e.interpolation_mse,
                            e.extrapolation_mse,
                            e.sparsity_error or 0.0,
                            e.sparsity_error is not None,
                            *e.test_mse,
                        )
                        for e in new
                    ],
                    dtype=torch.float64,
                )
                self._tables[i] = rows if self._known[i] == 0 else torch.cat([self._tables[i], rows])
                self._known[i] = len(result.evaluations)
        return self._tables

    @staticmethod
    def evaluations(table: torch.Tensor) -> list[Evaluation]:
        """The evaluations of one seed's table."""
        return [
            Evaluation(int(row[0]), row[1], row[2], row[3] if row[4] else None, tuple(row[5:]))
            for row in table.tolist()
        ]


def save_state(
    path: Path,
    run: dict[str, Any],
    step: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    history: History,
    alive: torch.Tensor,
) -> None:
    """Write the state of the run ``run`` (its identity) after ``step`` to ``path``."""
    state = {
        "run": run,
        "step": step,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "alive": alive,
        "results": [
            {"evaluations": table, "diverged": result.diverged}
            for table, result in zip(history.tables(), history.results)
        ],
    }
    write_checkpoint(path, state)


def restore_state(
    path: Path,
    run: dict[str, Any],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    results: list[TrainResult],
    alive: torch.Tensor,
) -> int:
    """Load the state [`save_state`][nalm.bench.engine.state.save_state] wrote for ``run`` into the run's objects and return its
    step (0 when the file is missing or was set aside, see
    [`nalm.bench.engine.checkpoint.read_checkpoint`][nalm.bench.engine.checkpoint.read_checkpoint])."""
    state = read_checkpoint(path, run, alive.device)
    if state is None:
        return 0
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    alive.copy_(state["alive"])
    for result, saved in zip(results, state["results"]):
        result.evaluations = History.evaluations(saved["evaluations"])
        result.diverged = saved["diverged"]
    return int(state["step"])

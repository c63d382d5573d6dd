"""The benchmark presets: the published settings of each task, by name (``nalm bench --preset NAME``)."""

from __future__ import annotations

from nalm.bench.runs.digit_grid import SequenceBenchmark
from nalm.bench.runs.grid import Grid
from nalm.bench.runs.language_grid import LanguageBenchmark
from nalm.bench.runs.static_grid import Benchmark, RangePair
from nalm.validation import choice

SINGLE_RANGES: tuple[RangePair, ...] = (
    ((-20.0, -10.0), (-40.0, -20.0)),
    ((-2.0, -1.0), (-6.0, -2.0)),
    ((-1.2, -1.1), (-6.1, -1.2)),
    ((-0.2, -0.1), (-2.0, -0.2)),
    ((-2.0, 2.0), ((-6.0, -2.0), (2.0, 6.0))),
    ((0.1, 0.2), (0.2, 2.0)),
    ((1.0, 2.0), (2.0, 6.0)),
    ((1.1, 1.2), (1.2, 6.0)),
    ((10.0, 20.0), (20.0, 40.0)),
)
"""The nine range pairs of the single-unit tasks of Mistry et al. (the Primer 2021, the division paper 2021)."""

DIVISION_MODELS = ("nru", "nmru", "sign_nmru", "realnpu_mod", "realnpu_l1", "nmu_single")
"""The division paper's units, its Real NPU baseline and the NMU."""


def _mistry(models: tuple[str, ...], operation: str, input_size: int, steps: int) -> Benchmark:
    """Mistry et al.'s single-unit protocol: ``models`` alone on a op b, a and b one input each
    among ``input_size``, over the nine range pairs, 25 seeds, evaluations every 1,000 steps, a
    constant threshold of 1e-5 and the model at step 0 in the selection."""
    return Benchmark(
        models=models,
        operations=(operation,),
        seeds=25,
        steps=steps,
        eval_every=1_000,
        input_size=input_size,
        subset_ratio=1 / input_size,
        overlap_ratio=0.0,
        hidden_size=0,
        ranges=SINGLE_RANGES,
        threshold=1e-5,
        select_initial=True,
    )


PRESETS: dict[str, Benchmark] = {
    # About 40 seconds on two CPU cores: the published task and protocol, but 6,000 steps
    # instead of 5e6, 8 seeds, evaluated every 500 steps. Enough for NAU to solve sub.
    "quick": Benchmark(),
    # Madsen and Johansen, "Neural Arithmetic Units", ICLR 2020, arXiv 2001.05016: the static
    # task at the published settings and models (every model of their Table 1 and its appendix
    # on every operation of Table 1).
    "madsen2020": Benchmark(
        models=("linear", "relu", "relu6", "nac", "nac_mul", "nalu", "nau", "nmu"),
        operations=("add", "sub", "mul"),
        seeds=100,
        steps=5_000_000,
        eval_every=1_000,
        threshold_samples=1_000_000,
    ),
    # Trask et al. 2018, section 4.1, the recurrent task: the input vector of the static task arrives
    # over 10 time steps (our choice of length) and a recurrent cell of the first unit accumulates a and b.
    "trask2018-recurrent": Benchmark(
        models=("nac", "nalu", "nau", "nmu"),
        operations=("add", "sub", "mul"),
        seeds=8,
        steps=50_000,
        eval_every=1_000,
        time_steps=10,
    ),
    # Mistry, Farrahi, Hare, "A Primer for Neural Arithmetic Logic Modules", 2021, arXiv 2101.09530:
    # each unit alone on two inputs, a op b, over their range pairs.
    "primer2021": Benchmark(
        models=("nac", "nalu", "inalu", "nau", "nmu", "npu", "realnpu"),
        operations=("add", "sub", "mul", "div"),
        seeds=25,
        steps=50_000,
        eval_every=1_000,
        input_size=2,
        subset_ratio=0.5,
        overlap_ratio=0.0,
        hidden_size=0,
        ranges=SINGLE_RANGES,
        threshold_samples=1_000_000,
    ),
    # Mistry, Li, Weng, Barrett, "Learning Division with Neural Arithmetic Logic Modules", 2021,
    # arXiv 2110.05177: one unit on a / b over the nine range pairs, each model with its paper's
    # learning rate, clipping and ramps. Two inputs (a = x0, b = x1) for 50,000 steps, and ten
    # inputs (a and b two neighbours among eight distractors) for 100,000 steps.
    "mistry2021-div2": _mistry(DIVISION_MODELS, "div", 2, 50_000),
    "mistry2021-div10": _mistry(DIVISION_MODELS, "div", 10, 100_000),
    # Mistry, Li, Weng, Barrett, "Improving the Robustness of Neural Multiplication Units with
    # Reversible Stochasticity", 2022, arXiv 2211.05624: the sNMU beside the NMU on a * b.
    "mistry2022-snmu": _mistry(("snmu", "nmu_single"), "mul", 2, 50_000),
}
"""The static task's presets by name; ``nalm bench --preset NAME`` overrides any value from the command line."""


SEQUENCE_PRESETS: dict[str, SequenceBenchmark] = {
    # A few minutes on two CPU cores: scikit-learn's digits, the published lengths, 4 seeds.
    "digits-quick": SequenceBenchmark(test_lengths=None),
    # Madsen and Johansen's sequential MNIST at their lengths, every cell and the LSTM, 10 seeds.
    "digits": SequenceBenchmark(
        models=("nau", "nmu", "nac", "nalu", "lstm"),
        operations=("count", "sum", "product"),
        seeds=10,
        steps=100_000,
        eval_every=1_000,
        eval_size=1_000,
    ),
}
"""The digit benchmark presets; ``nalm bench --preset NAME`` overrides any value from the command line."""


LANGUAGE_PRESETS: dict[str, LanguageBenchmark] = {
    # A short look, 17 seconds on two idle CPU cores: three seeds of three cells, 1,500 of the 30,000 steps.
    "language-quick": LanguageBenchmark(models=("nau", "nalu", "lstm"), seeds=3, steps=1_500),
    # Trask et al. 2018, section 4.3, as Madsen and Johansen's reference code runs it (embedding and
    # LSTM of 2, the cell at every token, 10,000 epochs of 169 numbers), 10 seeds.
    "language": LanguageBenchmark(),
}
"""The language-to-number task's presets; ``nalm bench --preset NAME`` overrides any value from the command line."""


ALL_PRESETS: dict[str, Grid] = {**PRESETS, **SEQUENCE_PRESETS, **LANGUAGE_PRESETS}
"""``nalm bench``'s presets: the static task's ([`PRESETS`][nalm.bench.runs.presets.PRESETS]), the digit tasks' and the language task's."""


def preset(name: str) -> Grid:
    """The preset ``name``; an unknown name raises ValueError listing the known ones."""
    return ALL_PRESETS[choice("preset", name, tuple(ALL_PRESETS))]

"""The benchmark's tasks: counter-based data streams, the static (and recurrent) arithmetic task,
the digit sequence tasks, the language-to-number task, and the static task's success threshold. Imports nothing else of nalm.bench."""

from nalm.bench.tasks.digits import SEQUENCE_OPERATIONS, DigitSequenceTask, load_images
from nalm.bench.tasks.language import LanguageTask, split, words
from nalm.bench.tasks.static import OPERATIONS, Range, StaticArithmeticTask, intervals, range_label, value_range
from nalm.bench.tasks.streams import DATA_STREAMS, MAX_SEED, SeedStreams
from nalm.bench.tasks.thresholds import success_threshold

__all__ = [
    "LanguageTask",
    "split",
    "words",
    "DATA_STREAMS",
    "MAX_SEED",
    "OPERATIONS",
    "SEQUENCE_OPERATIONS",
    "DigitSequenceTask",
    "Range",
    "SeedStreams",
    "StaticArithmeticTask",
    "intervals",
    "load_images",
    "range_label",
    "success_threshold",
    "value_range",
]

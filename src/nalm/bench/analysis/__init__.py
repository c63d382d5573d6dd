"""The benchmark's analysis: statistics (Wilson intervals, Student-t bounds, the beta fit), the
summaries of each configuration's rows, the published comparison and the report. Imports the
rest of nalm.bench; nothing there imports it."""

from nalm.bench.analysis.aggregate import SequenceSummary, Summary, summarize, summarize_sequences
from nalm.bench.analysis.published import PUBLISHED, Comparison, compare
from nalm.bench.analysis.report import write_report
from nalm.bench.analysis.statistics import beta_fit, success_bounds, wilson_interval

__all__ = [
    "PUBLISHED",
    "Comparison",
    "SequenceSummary",
    "Summary",
    "beta_fit",
    "compare",
    "success_bounds",
    "summarize",
    "summarize_sequences",
    "wilson_interval",
    "write_report",
]

"""The arithmetic benchmark as a pipeline, each stage importing only those before it:

tasks (data streams, tasks, thresholds) -> models (published and digit models) -> engine (stacked
seeds, the Problem of each task, the one training loop, compiled kernels, run state) -> runs
(grids, presets, rows, results files, runner, executors) -> analysis (statistics, summaries,
published comparison, report).
"""

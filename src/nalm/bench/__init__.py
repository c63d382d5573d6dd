"""The arithmetic benchmark as a pipeline: tasks (data) -> models (stacked units) -> trainer."""

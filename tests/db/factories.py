"""Small builders for db tests: runs without going through the trainer's config."""

from __future__ import annotations

from db.entities import NewRun


def new_run(
    name: str = "run", *, priority: int = 0, study: str | None = None, **overrides
) -> NewRun:
    values = {
        "name": name,
        "config": {"name": name},
        "dataset": "var/data/weather-sample",
        "architecture": "report_cnn",
        "optimizer": "adam",
        "learning_rate": 0.001,
        "batch_size": 16,
        "epochs": 3,
        "image_size": 112,
        "augmented": False,
        "seed": 0,
        "priority": priority,
        "study": study,
    }
    values.update(overrides)
    return NewRun(**values)

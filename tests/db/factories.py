"""Small builders for db tests: runs without going through the trainer's config."""

from __future__ import annotations

from db import queue
from db.entities import NewRun
from db.session import Database


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


def running_run(database: Database, name: str = "a") -> tuple[int, int]:
    """Queue a run and claim it as worker `w`: its id and the attempt that fences its writes."""
    with database.begin() as session:
        queue.enqueue(session, new_run(name))
    with database.begin() as session:
        claimed = queue.claim_next(session, "w")
    assert claimed is not None
    return claimed.id, claimed.attempt

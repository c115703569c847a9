"""Grid previews: duplicates of existing runs and time estimates from past epochs."""

from __future__ import annotations

import pytest

from db import queue
from db.entities import EpochRecord
from db.metrics import EpochTime, epoch_times, record_epoch
from db.models import RunStatus, StopReason
from db.runs import runs_by_config_hash
from db.session import Database
from experiment.config import parse_config
from experiment.estimate import estimate_epoch_seconds, plan
from experiment.grid import expand


def test_identity_hash_ignores_labels_but_not_knobs() -> None:
    """Name, tags, priority and study do not change the hash; a knob does."""
    a = parse_config({"name": "a", "tags": ["x"], "priority": 1})
    b = parse_config({"name": "b", "study": "s"})
    c = parse_config({"name": "a", "batch_size": 32})
    assert a.identity_hash() == b.identity_hash() != c.identity_hash()


def test_estimate_prefers_the_same_batch_size() -> None:
    """The same architecture, size and batch wins; else the closest batch size."""
    history = [EpochTime("report_cnn", 224, 16, 20.0, 5), EpochTime("report_cnn", 224, 64, 9.0, 5)]
    config = parse_config({"name": "x"})
    assert estimate_epoch_seconds(config, history) == 20.0
    assert estimate_epoch_seconds(config.model_copy(update={"batch_size": 48}), history) == 9.0
    assert estimate_epoch_seconds(config.model_copy(update={"image_size": 128}), history) is None


def test_plan_flags_duplicates_and_sums_time(sqlite_database_url: str) -> None:
    """A grid config equal to a succeeded run is flagged; estimates use its epoch times."""
    database = Database(sqlite_database_url)
    done = parse_config({"name": "done", "optimizer": "sgd", "epochs": 3})
    with database.begin() as session:
        run_id = queue.enqueue(session, done.to_new_run())
    with database.begin() as session:
        claimed = queue.claim_next(session, "w")
    assert claimed is not None
    for epoch in (1, 2, 3):
        with database.begin() as session:
            record_epoch(session, run_id, claimed.attempt, EpochRecord(epoch, epoch_seconds=10.0))
    with database.begin() as session:
        queue.finish_run(
            session,
            run_id,
            claimed.attempt,
            status=RunStatus.SUCCEEDED,
            stop_reason=StopReason.COMPLETED,
        )
    configs = expand({"name": "grid", "epochs": 3}, {"optimizer": ["sgd", "adam"]})
    with database.read() as session:
        existing = runs_by_config_hash(session, [c.identity_hash() for c in configs])
        history = epoch_times(session)
    planned = plan(configs, existing, history)
    assert [p.duplicate_of for p in planned] == [(run_id,), ()]
    assert [p.estimated_seconds for p in planned] == [pytest.approx(30.0)] * 2

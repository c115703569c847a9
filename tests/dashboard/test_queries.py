"""Cached reads: the fast driver-row queries give what the ORM records give."""

from __future__ import annotations

import pandas as pd

from dashboard.frames import (
    CURVE_COLUMNS,
    LAZY_JSON,
    RUN_COLUMNS,
    RUN_FIELDS,
    curve_table_frame,
    curves_frame,
    run_table_frame,
    runs_frame,
)
from dashboard.knobs import config_of
from dashboard.queries import fetch_runs_by_ids
from db import queue
from db.entities import EpochRecord
from db.metrics import curve_table, load_curves, record_epoch
from db.models import RunStatus, StopReason
from db.runs import list_runs, run_table
from db.session import Database
from tests.db.factories import new_run


def test_fetch_runs_by_ids_returns_only_those_runs(lab) -> None:
    """The live panels refresh just the runs they show."""

    frame = fetch_runs_by_ids(lab.database, (lab.sgd, lab.running))
    assert sorted(frame["id"]) == [lab.sgd, lab.running]
    assert fetch_runs_by_ids(lab.database, ()).empty


def _lab_of_three(database: Database) -> None:
    """Queued, running (two epochs, one metric missing) and failed runs, through the queue."""
    with database.begin() as session:
        for name in ("queued", "running", "failed"):
            queue.enqueue(session, new_run(name, study="s", tags=("t",)))
    for name, epochs in (("running", 2), ("failed", 1)):
        with database.begin() as session:
            claimed = queue.claim_next(session, "w")
        assert claimed is not None and claimed.name in ("queued", "running", "failed")
        for epoch in range(1, epochs + 1):
            record = EpochRecord(epoch=epoch, loss=1.0 / epoch, val_accuracy=0.3 * epoch)
            with database.begin() as session:
                assert record_epoch(session, claimed.id, claimed.attempt, record)
        if name == "failed":
            with database.begin() as session:
                queue.finish_run(session, claimed.id, claimed.attempt, status=RunStatus.FAILED,
                                 stop_reason=StopReason.FAILED, error="ValueError: x")  # fmt: skip


def test_column_queries_give_the_frames_the_orm_records_give(database: Database) -> None:
    """The pages' fast paths (Core columns, raw driver rows for curves) read exactly what the
    ORM records do, on SQLite and on PostgreSQL: same values, NaN for missing metrics, UTC
    times."""
    _lab_of_three(database)
    with database.read() as session:
        fast_runs = run_table_frame(run_table(session, RUN_FIELDS, json_as_text=LAZY_JSON))
        orm_runs = runs_frame(list_runs(session))
        ids = [int(i) for i in orm_runs["id"]]
        fast_curves = curve_table_frame(curve_table(session, ids))
        orm_curves = curves_frame(load_curves(session, ids))
    assert fast_runs["config"].map(config_of).tolist() == orm_runs["config"].tolist()
    columns = [c for c in RUN_COLUMNS if c != "config"]
    pd.testing.assert_frame_equal(fast_runs[columns], orm_runs[columns], check_dtype=False)
    # EpochRecord does not carry recorded_at; the rows do, as the database's clock wrote it.
    metrics = list(CURVE_COLUMNS)
    pd.testing.assert_frame_equal(fast_curves[metrics], orm_curves[metrics], check_dtype=False)
    assert len(fast_curves) == 3 and fast_curves["accuracy"].isna().all()
    assert str(fast_curves["recorded_at"].dt.tz) == "UTC"
    age = pd.Timestamp.now(tz="UTC") - fast_curves["recorded_at"]
    assert age.between(pd.Timedelta(0), pd.Timedelta(minutes=5)).all()
    assert str(fast_runs["created_at"].dt.tz) == "UTC"

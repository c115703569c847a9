"""Records from db/ become DataFrames the pages and charts use."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from dashboard.frames import RUN_COLUMNS, curves_frame, runs_frame
from db.entities import EpochRecord, RunRecord
from db.models import RunStatus, StopReason


def test_runs_frame_has_one_row_per_run_in_order() -> None:
    """Runs keep their order and carry every listed column."""
    frame = runs_frame([_record(9), _record(3)])
    assert list(frame["id"]) == [9, 3]
    assert list(frame.columns) == list(RUN_COLUMNS)


def test_runs_frame_turns_enums_into_text() -> None:
    """Status and stop reason are their string values, so tables and filters use text."""
    frame = runs_frame([_record(status=RunStatus.SUCCEEDED, stop_reason=StopReason.EARLY_STOPPING)])
    assert frame.loc[0, "status"] == "succeeded"
    assert frame.loc[0, "stop_reason"] == "early_stopping"


def test_runs_frame_computes_progress_and_label() -> None:
    """One of four epochs done is 25 % and `1/4`; the label is `id · name`."""
    row = runs_frame([_record()]).iloc[0]
    assert row["progress"] == 0.25
    assert row["epochs_text"] == "1/4"
    assert row["label"] == "7 · adam-run"
    assert row["tags"] == "a, b"


def test_runs_frame_of_nothing_is_empty_with_columns() -> None:
    """No runs give an empty frame that still has every column."""
    frame = runs_frame([])
    assert frame.empty
    assert list(frame.columns) == list(RUN_COLUMNS)


def test_runs_frame_times_are_utc_datetimes() -> None:
    """Timestamps become timezone-aware pandas datetimes; missing ones are NaT."""
    frame = runs_frame([_record()])
    assert frame.loc[0, "created_at"] == pd.Timestamp("2026-01-01", tz="UTC")
    assert pd.isna(frame.loc[0, "finished_at"])


def test_curves_frame_is_long_format_with_nan_for_missing() -> None:
    """One row per epoch; a metric stored as NULL is NaN."""
    frame = curves_frame(
        [
            EpochRecord(epoch=1, loss=0.9, accuracy=0.4, run_id=2),
            EpochRecord(epoch=2, loss=None, accuracy=0.5, run_id=2),
        ]
    )
    assert list(frame[["run_id", "epoch"]].itertuples(index=False, name=None)) == [(2, 1), (2, 2)]
    assert pd.isna(frame.loc[1, "loss"])
    assert frame["val_accuracy"].dtype == float


def test_curves_frame_of_nothing_is_empty() -> None:
    """No epochs give an empty frame with the curve columns."""
    frame = curves_frame([])
    assert frame.empty and "val_loss" in frame.columns


def test_curves_frame_keeps_recorded_times_when_records_have_them() -> None:
    """A record's `recorded_at` becomes a UTC timestamp; records without one give NaT."""
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Stamped(EpochRecord):
        recorded_at: datetime | None = None

    frame = curves_frame([Stamped(epoch=1, run_id=2, recorded_at=datetime(2026, 1, 1, tzinfo=UTC))])
    assert frame.loc[0, "recorded_at"] == pd.Timestamp("2026-01-01", tz="UTC")
    assert curves_frame([EpochRecord(epoch=1, run_id=2)])["recorded_at"].isna().all()


def _record(run_id: int = 7, **overrides: object) -> RunRecord:
    values: dict = {
        "id": run_id, "name": "adam-run", "study": "optim", "status": RunStatus.RUNNING,
        "priority": 0, "config": {"name": "adam-run"}, "tags": ("a", "b"), "dataset": "d",
        "architecture": "report_cnn", "optimizer": "adam", "learning_rate": 0.001,
        "batch_size": 16, "epochs": 4, "image_size": 112, "augmented": True, "seed": 0,
        "created_at": datetime(2026, 1, 1, tzinfo=UTC), "started_at": None,
        "finished_at": None, "heartbeat_at": None, "attempt": 1, "max_attempts": 3,
        "worker": "w", "cancel_requested": False, "error": None, "stop_reason": None,
        "stop_detail": None, "warnings": (), "epochs_done": 1, "best_val_accuracy": 0.5,
        "best_epoch": 1, "last_val_accuracy": 0.5, "class_names": None, "environment": None,
    }  # fmt: skip
    values.update(overrides)
    return RunRecord(**values)

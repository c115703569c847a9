"""A script run's writes by client key (db/scripts.py): every one harmless to apply twice."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from db.entities import NewRun
from db.metrics import load_curves
from db.models import Run, RunSource, RunStatus, StopReason
from db.scripts import (
    FitStart,
    beat_script_run,
    finish_fit,
    record_fit_epoch,
    record_fit_steps,
    start_fit,
)
from db.session import Database

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _start(fit: str, initial_epoch: int = 0, epochs: int = 3) -> FitStart:
    new = NewRun(
        name="mine", config={"batch_size": 8}, dataset=None, architecture=None, optimizer=None,
        learning_rate=None, batch_size=8, epochs=epochs, image_size=None, augmented=None,
        seed=None, source=RunSource.SCRIPT,
    )  # fmt: skip
    return FitStart(fit, new, NOW, initial_epoch=initial_epoch, epochs=epochs, steps_per_epoch=2)


def _epochs(database: Database, run_id: int) -> dict[int, float | None]:
    with database.read() as session:
        return {r.epoch: r.metrics.get("loss") for r in load_curves(session, [run_id])}


def test_replayed_writes_change_nothing(database: Database) -> None:
    """Starting the same fit, writing the same epoch and steps and finishing twice leaves one
    run with each epoch and step once."""
    for _ in range(2):
        with database.begin() as session:
            run_id = start_fit(session, "k1", _start("f1"))
            record_fit_epoch(session, "k1", "f1", 1, {"loss": 0.5, "val_accuracy": 0.4}, NOW)
            record_fit_steps(
                session, "k1", "f1", [(1, {"loss": 0.6}, NOW), (2, {"loss": 0.5}, None)]
            )
            finish_fit(
                session, "k1", "f1", status=RunStatus.SUCCEEDED,
                stop_reason=StopReason.COMPLETED, stop_detail="done", error=None, finished_at=NOW,
            )  # fmt: skip
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(Run)) == 1
        run = session.get(Run, run_id)
        assert run is not None
        assert (run.status, run.epochs_done, run.best_val_accuracy) == (RunStatus.SUCCEEDED, 1, 0.4)
        assert len(run.environment["fits"]) == 1
    assert _epochs(database, run_id) == {1: 0.5}


def test_fits_number_their_epochs_after_the_run_or_from_initial_epoch(database: Database) -> None:
    """A fit from epoch 0 counts on after the run's epochs; one from initial_epoch k replaces
    the epochs after k."""
    with database.begin() as session:
        run_id = start_fit(session, "k2", _start("a"))
        for epoch in (1, 2, 3):
            record_fit_epoch(session, "k2", "a", epoch, {"loss": float(epoch)}, NOW)
        start_fit(session, "k2", _start("b"))
        for epoch in (1, 2):
            record_fit_epoch(session, "k2", "b", epoch, {"loss": 10.0 + epoch}, NOW)
        start_fit(session, "k2", _start("c", initial_epoch=4, epochs=6))
        record_fit_epoch(session, "k2", "c", 1, {"loss": 20.0}, NOW)
    assert _epochs(database, run_id) == {1: 1.0, 2: 2.0, 3: 3.0, 4: 11.0, 5: 20.0}
    with database.read() as session:
        run = session.get(Run, run_id)
        assert run is not None and run.epochs == 6 and run.epochs_done == 5
        assert [phase["epoch"] for phase in run.phases or []] == [1, 4, 5]


def test_heartbeats_only_while_running(database: Database) -> None:
    """A running script run heartbeats; a finished one does not."""
    with database.begin() as session:
        start_fit(session, "k3", _start("f"))
        assert beat_script_run(session, "k3")
        finish_fit(
            session, "k3", "f", status=RunStatus.FAILED, stop_reason=StopReason.FAILED,
            stop_detail="boom", error="Traceback ...", finished_at=NOW,
        )  # fmt: skip
        assert not beat_script_run(session, "k3")
        assert not beat_script_run(session, "unknown")

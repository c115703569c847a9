"""Imported runs: written whole in the caller's one transaction, found again by content hash."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from db.entities import ImportedRun
from db.metrics import clean_metrics, insert_steps, register_names
from db.models import EpochMetric, MetricAxis, Run, RunSource, RunStatus, StopReason


def save_imported_run(session: Session, imported: ImportedRun) -> int:
    """Create a finished, read-only run with all its epochs and steps; returns its id.

    Nothing is committed here: the caller's transaction makes the import all or nothing.
    """
    new = imported.run
    if new.source is not RunSource.IMPORT or not new.import_hash:
        raise ValueError("an imported run needs source=import and the files' import_hash")
    epochs = [(record, clean_metrics(record.metrics)) for record in imported.epochs]
    run = Run(
        **new.columns(),
        status=RunStatus.SUCCEEDED,
        stop_reason=StopReason.IMPORTED,
        stop_detail=(imported.stop_detail or "")[:500] or None,
        attempt=0,
        cancel_requested=False,
        warnings=list(imported.warnings),
        environment=imported.environment,
        started_at=imported.started_at,
        finished_at=imported.finished_at,
        **_summary([(record.epoch, metrics) for record, metrics in epochs]),
    )
    session.add(run)
    session.flush()
    if epochs:
        rows: list[dict[str, Any]] = [
            {
                "run_id": run.id,
                "epoch": record.epoch,
                "metrics": metrics,
                "attempt": 0,
                "recorded_at": record.recorded_at,
            }
            for record, metrics in epochs
        ]
        session.execute(insert(EpochMetric), rows)
        names = {name for _, metrics in epochs for name in metrics}
        register_names(session, run.id, MetricAxis.EPOCH, names)
    insert_steps(session, run.id, 0, imported.steps)
    return run.id


def _summary(epochs: Sequence[tuple[int, dict[str, float | None]]]) -> dict[str, Any]:
    """What `record_epoch` leaves on a run row, computed at once: the first best epoch wins."""
    summary: dict[str, Any] = {
        "epochs_done": max((epoch for epoch, _ in epochs), default=0),
        "best_val_accuracy": None,
        "best_epoch": None,
        "last_val_accuracy": None,
    }
    for epoch, metrics in sorted(epochs, key=lambda item: item[0]):
        value = metrics.get("val_accuracy")
        summary["last_val_accuracy"] = value
        if value is not None and (
            summary["best_val_accuracy"] is None or value > summary["best_val_accuracy"]
        ):
            summary["best_val_accuracy"], summary["best_epoch"] = value, epoch
    return summary


def imported_as(session: Session, import_hash: str) -> dict[int, str]:
    """Runs already imported from files with this content hash: id -> name, oldest first."""
    rows = session.execute(
        select(Run.id, Run.name)
        .where(Run.import_hash == import_hash, Run.source == RunSource.IMPORT)
        .order_by(Run.id)
    )
    return {run_id: name for run_id, name in rows}

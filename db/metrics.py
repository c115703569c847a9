"""Per-epoch metrics: fenced writes from workers, bulk reads for curves."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, delete, func, select
from sqlalchemy.orm import Session

from db.driver_rows import driver_rows
from db.entities import EpochRecord
from db.models import EpochMetric, Run
from db.queue import update_held_run


def finite_or_none(value: float | None) -> float | None:
    """NaN and infinities become NULL: they are not numbers a chart or a max() can use."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def record_epoch(session: Session, run_id: int, attempt: int, record: EpochRecord) -> bool:
    """Store one finished epoch and refresh the run's summary, if the worker still holds the run.

    The fenced UPDATE of the run row comes first: it locks the row (PostgreSQL) or holds the
    write lock (SQLite), so a takeover cannot slip in between it and the insert.
    """
    val_accuracy = finite_or_none(record.val_accuracy)
    values: dict[str, Any] = {"epochs_done": record.epoch, "last_val_accuracy": val_accuracy}
    if val_accuracy is not None:
        improves = Run.best_val_accuracy.is_(None) | (Run.best_val_accuracy < val_accuracy)
        values["best_val_accuracy"] = case((improves, val_accuracy), else_=Run.best_val_accuracy)
        values["best_epoch"] = case((improves, record.epoch), else_=Run.best_epoch)
    if not update_held_run(session, run_id, attempt, values):
        return False
    session.add(
        EpochMetric(
            run_id=run_id,
            epoch=record.epoch,
            loss=finite_or_none(record.loss),
            accuracy=finite_or_none(record.accuracy),
            val_loss=finite_or_none(record.val_loss),
            val_accuracy=val_accuracy,
            learning_rate=finite_or_none(record.learning_rate),
            epoch_seconds=finite_or_none(record.epoch_seconds),
            attempt=attempt,
        )
    )
    session.flush()
    return True


CURVE_FIELDS = (
    "run_id",
    "epoch",
    "loss",
    "accuracy",
    "val_loss",
    "val_accuracy",
    "learning_rate",
    "epoch_seconds",
    "recorded_at",
)


def curve_table(session: Session, run_ids: Sequence[int]) -> list[tuple[Any, ...]]:
    """Every epoch of the given runs as driver rows, in `CURVE_FIELDS` order.

    The Compare page reads thousands of rows per refresh; skipping the ORM and SQLAlchemy's
    Row objects halves the query. `recorded_at` is the driver's (a datetime, or ISO text on
    SQLite).
    """
    if not run_ids:
        return []
    table = EpochMetric.__table__
    statement = (
        select(*[table.c[name] for name in CURVE_FIELDS])
        .where(table.c.run_id.in_(list(run_ids)))
        .order_by(table.c.run_id, table.c.epoch)
    )
    return driver_rows(session, statement)


def load_curves(session: Session, run_ids: Sequence[int]) -> list[EpochRecord]:
    """All epochs of the given runs, ordered by run then epoch."""
    if not run_ids:
        return []
    rows = session.scalars(
        select(EpochMetric)
        .where(EpochMetric.run_id.in_(list(run_ids)))
        .order_by(EpochMetric.run_id, EpochMetric.epoch)
    )
    return [EpochRecord.from_row(row) for row in rows]


def reset_progress(session: Session, run_id: int, attempt: int, keep_epochs: int = 0) -> bool:
    """Forget a previous attempt's epochs after `keep_epochs` before training on (fenced).

    0 restarts from epoch 1; a resumed run keeps the epochs its checkpoint holds, so rows a
    crash left ahead of the stored checkpoint are trained and written again, once.
    """
    if not update_held_run(session, run_id, attempt, _summary_of(session, run_id, keep_epochs)):
        return False
    session.execute(
        delete(EpochMetric).where(EpochMetric.run_id == run_id, EpochMetric.epoch > keep_epochs)
    )
    return True


def _summary_of(session: Session, run_id: int, keep_epochs: int) -> dict[str, Any]:
    """The run's summary columns as the epochs up to `keep_epochs` make them."""
    rows = session.execute(
        select(EpochMetric.epoch, EpochMetric.val_accuracy)
        .where(EpochMetric.run_id == run_id, EpochMetric.epoch <= keep_epochs)
        .order_by(EpochMetric.epoch)
    ).all()
    scored = [(value, epoch) for epoch, value in rows if value is not None]
    best = max(scored, key=lambda item: (item[0], -item[1]), default=(None, None))
    return {
        "epochs_done": rows[-1].epoch if rows else 0,
        "best_val_accuracy": best[0],
        "best_epoch": best[1],
        "last_val_accuracy": rows[-1].val_accuracy if rows else None,
    }


def recorded_by(session: Session, run_id: int, epoch: int) -> int | None:
    """The attempt that wrote the run's row for `epoch`, if there is one (replays check it)."""
    return session.scalar(
        select(EpochMetric.attempt).where(EpochMetric.run_id == run_id, EpochMetric.epoch == epoch)
    )


@dataclass(frozen=True)
class EpochTime:
    """Mean seconds per epoch seen for one (architecture, image size, batch size)."""

    architecture: str
    image_size: int
    batch_size: int
    seconds: float
    epochs: int


def epoch_times(session: Session) -> list[EpochTime]:
    """Past epoch durations grouped by the knobs that decide them, for time estimates."""
    rows = session.execute(
        select(
            Run.architecture,
            Run.image_size,
            Run.batch_size,
            func.avg(EpochMetric.epoch_seconds),
            func.count(EpochMetric.id),
        )
        .join(Run, Run.id == EpochMetric.run_id)
        .where(EpochMetric.epoch_seconds.is_not(None), EpochMetric.epoch > 1)
        .group_by(Run.architecture, Run.image_size, Run.batch_size)
    )
    return [
        EpochTime(a, size, batch, float(seconds), int(n)) for a, size, batch, seconds, n in rows
    ]

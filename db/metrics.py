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
from db.models import EpochMetric, Run, RunStatus, ValidationPrediction
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


def reset_progress(session: Session, run_id: int, attempt: int) -> bool:
    """Forget a previous attempt's epochs before training again from epoch 1 (fenced)."""
    summary = {
        "epochs_done": 0,
        "best_val_accuracy": None,
        "best_epoch": None,
        "last_val_accuracy": None,
    }
    if not update_held_run(session, run_id, attempt, summary):
        return False
    session.execute(delete(EpochMetric).where(EpochMetric.run_id == run_id))
    return True


@dataclass(frozen=True)
class RunTiming:
    """How long one run took, with what decides it: the facts time estimates are built from."""

    architecture: str
    image_size: int
    batch_size: int
    dataset: str
    steps_per_epoch: int | None  # None: one pass over the training split
    validation_steps: int | None  # None: the whole validation split
    validation_split: float
    validation_images: int  # the stored verdicts on the validation split (0 before evaluation)
    epochs: int  # epochs with a recorded time
    first_epoch_seconds: float | None  # includes tracing the training step
    steady_epoch_seconds: float | None  # mean of the epochs after the first
    run_seconds: float | None  # start to finish of a succeeded run's only attempt


def run_timings(session: Session, limit: int = 500) -> list[RunTiming]:
    """The newest runs with timed epochs (at most `limit`), newest first, for time estimates.

    A run's whole time is kept only for a succeeded first attempt: a resumed run's clock
    started at its last claim, a failed one may have stopped anywhere.
    """
    timed = EpochMetric.epoch_seconds
    later = EpochMetric.epoch > 1
    verdicts = (
        select(func.count(ValidationPrediction.id))
        .where(ValidationPrediction.run_id == Run.id)
        .scalar_subquery()
    )
    columns = (
        Run.architecture, Run.image_size, Run.batch_size, Run.dataset, Run.config,
        Run.status, Run.attempt, Run.started_at, Run.finished_at, verdicts,
        func.count(timed),
        func.sum(case((EpochMetric.epoch == 1, timed))),
        func.sum(case((later, timed))),
        func.count(case((later, timed))),
    )  # fmt: skip
    rows = session.execute(
        select(*columns)
        .join(EpochMetric, EpochMetric.run_id == Run.id)
        .where(timed.is_not(None))
        .group_by(Run.id)
        .order_by(Run.id.desc())
        .limit(limit)
    )
    timings = []
    for (
        architecture, image_size, batch_size, dataset, config, status, attempt, started,
        finished, validation_images, epochs, first, later_sum, later_count,
    ) in rows:  # fmt: skip
        whole = status == RunStatus.SUCCEEDED and attempt == 1 and started and finished
        timings.append(
            RunTiming(
                architecture=architecture,
                image_size=image_size,
                batch_size=batch_size,
                dataset=dataset,
                steps_per_epoch=config.get("steps_per_epoch"),
                validation_steps=config.get("validation_steps"),
                validation_split=float(config.get("validation_split", 0.2)),
                validation_images=int(validation_images or 0),
                epochs=int(epochs),
                first_epoch_seconds=None if first is None else float(first),
                steady_epoch_seconds=float(later_sum) / later_count if later_count else None,
                run_seconds=(finished - started).total_seconds() if whole else None,
            )
        )
    return timings

"""Metrics under any name, per epoch and per step: fenced writes from workers, bulk reads.

Each epoch (or logged step) of a run is one row whose `metrics` JSON object holds every value
under its name; `metric_series` lists the names a run has on each axis. Reads pick named
values out of the JSON in SQL (`JSON_EXTRACT` on SQLite, `->>` on PostgreSQL), so a caller
gets plain wide rows for the names it asks for.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, case, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from db.driver_rows import driver_rows
from db.entities import EpochRecord, StepRecord
from db.models import (
    EpochMetric,
    MetricAxis,
    MetricSeries,
    Run,
    RunSource,
    RunStatus,
    StepMetric,
    ValidationPrediction,
)
from db.queue import update_held_run

# What the lab's own workers record for every epoch, and what the dashboard's curves read.
CURVE_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "epoch_seconds")
CURVE_FIELDS = ("run_id", "epoch", *CURVE_METRICS, "recorded_at")
MAX_NAME_LENGTH = 200
# A name is a JSON object key and a JSON path label (`$."name"`, which has no escapes).
_UNSAFE_NAME = re.compile(r'["\\\x00-\x1f\x7f]')


def finite_or_none(value: float | None) -> float | None:
    """NaN and infinities become NULL: they are not numbers a chart or a max() can use."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def metric_name(name: str) -> str:
    """The stored form of a metric name: surrounding blanks go, quotes, backslashes and
    control characters become `_`, and it is cut at 200 characters."""
    cleaned = _UNSAFE_NAME.sub("_", str(name).strip())[:MAX_NAME_LENGTH]
    if not cleaned:
        raise ValueError(f"metric name {name!r} is empty")
    return cleaned


def clean_metrics(metrics: Mapping[str, Any]) -> dict[str, float | None]:
    """Names in their stored form, values as floats or None (not finite)."""
    cleaned: dict[str, float | None] = {}
    for name, value in metrics.items():
        try:
            cleaned[metric_name(name)] = finite_or_none(value)
        except (TypeError, ValueError):
            raise ValueError(f"metric {name!r} is not a number: {value!r}") from None
    return cleaned


# Writes -----------------------------------------------------------------------------------


def record_epoch(session: Session, run_id: int, attempt: int, record: EpochRecord) -> bool:
    """Store one finished epoch and refresh the run's summary, if `attempt` still holds the run.

    The fenced UPDATE of the run row comes first: it locks the row (PostgreSQL) or holds the
    write lock (SQLite), so a takeover cannot slip in between it and the insert. A replayed
    epoch violates the (run_id, epoch) unique constraint and raises IntegrityError.
    """
    metrics = clean_metrics(record.metrics)
    if not update_held_run(session, run_id, attempt, epoch_summary(record.epoch, metrics)):
        return False
    row = EpochMetric(run_id=run_id, epoch=record.epoch, metrics=metrics, attempt=attempt)
    if record.recorded_at is not None:  # otherwise the database's clock (server default)
        row.recorded_at = record.recorded_at
    session.add(row)
    register_names(session, run_id, MetricAxis.EPOCH, metrics)
    session.flush()
    return True


def epoch_summary(epoch: int, metrics: Mapping[str, float | None]) -> dict[str, Any]:
    """The run-row values one more epoch leaves: epochs done, last and best val accuracy."""
    val_accuracy = metrics.get("val_accuracy")
    values: dict[str, Any] = {"epochs_done": epoch, "last_val_accuracy": val_accuracy}
    if val_accuracy is not None:
        improves = Run.best_val_accuracy.is_(None) | (Run.best_val_accuracy < val_accuracy)
        values["best_val_accuracy"] = case((improves, val_accuracy), else_=Run.best_val_accuracy)
        values["best_epoch"] = case((improves, epoch), else_=Run.best_epoch)
    return values


def record_steps(session: Session, run_id: int, attempt: int, steps: Sequence[StepRecord]) -> bool:
    """Store per-batch values, if `attempt` still holds the run; a replayed step raises
    IntegrityError like a replayed epoch."""
    # A no-op update is the fence: it locks the run row only while this attempt holds it.
    if not update_held_run(session, run_id, attempt, {"attempt": attempt}):
        return False
    insert_steps(session, run_id, attempt, steps)
    return True


def insert_steps(session: Session, run_id: int, attempt: int, steps: Sequence[StepRecord]) -> None:
    """Insert step rows of a run the caller holds (fenced by `record_steps`, or being created
    by an import in the same transaction)."""
    if not steps:
        return
    rows = []
    names: set[str] = set()
    for record in steps:
        metrics = clean_metrics(record.metrics)
        names.update(metrics)
        rows.append({"run_id": run_id, "step": record.step, "metrics": metrics, "attempt": attempt})
    stamps = [record.recorded_at for record in steps]
    if any(stamp is not None for stamp in stamps):
        for row, stamp in zip(rows, stamps, strict=True):
            row["recorded_at"] = stamp
    session.execute(insert(StepMetric), rows)
    register_names(session, run_id, MetricAxis.STEP, names)


def register_names(session: Session, run_id: int, axis: MetricAxis, names: Iterable[str]) -> None:
    """Add the names the run did not have yet on this axis to `metric_series`.

    Only the run's holder writes its rows, so reading then inserting cannot race.
    """
    known = select(MetricSeries.name).where(
        MetricSeries.run_id == run_id, MetricSeries.axis == axis
    )
    existing = set(session.scalars(known))
    new = sorted(set(names) - existing)
    if new:
        session.execute(
            insert(MetricSeries), [{"run_id": run_id, "axis": axis, "name": n} for n in new]
        )


def reset_progress(session: Session, run_id: int, attempt: int, keep_epochs: int = 0) -> bool:
    """Forget a previous attempt's epochs after `keep_epochs` before training on (fenced).

    0 restarts from epoch 1 and forgets the run's steps and metric names too; a resumed run
    keeps the epochs its checkpoint holds, so rows a crash left ahead of the stored checkpoint
    are trained and written again, once.
    """
    if not update_held_run(session, run_id, attempt, summary_of(session, run_id, keep_epochs)):
        return False
    session.execute(
        delete(EpochMetric).where(EpochMetric.run_id == run_id, EpochMetric.epoch > keep_epochs)
    )
    if keep_epochs == 0:
        for table in (StepMetric, MetricSeries):
            session.execute(delete(table).where(table.run_id == run_id))
    return True


def summary_of(session: Session, run_id: int, keep_epochs: int) -> dict[str, Any]:
    """The run's summary columns as the epochs up to `keep_epochs` make them."""
    rows = session.execute(
        select(EpochMetric.epoch, EpochMetric.metrics)
        .where(EpochMetric.run_id == run_id, EpochMetric.epoch <= keep_epochs)
        .order_by(EpochMetric.epoch)
    ).all()
    values = [(epoch, finite_or_none((found or {}).get("val_accuracy"))) for epoch, found in rows]
    scored = [(value, epoch) for epoch, value in values if value is not None]
    best = max(scored, key=lambda item: (item[0], -item[1]), default=(None, None))
    return {
        "epochs_done": values[-1][0] if values else 0,
        "best_val_accuracy": best[0],
        "best_epoch": best[1],
        "last_val_accuracy": values[-1][1] if values else None,
    }


def recorded_by(session: Session, run_id: int, epoch: int) -> int | None:
    """The attempt that wrote the run's row for `epoch`, if there is one (replays check it)."""
    return session.scalar(
        select(EpochMetric.attempt).where(EpochMetric.run_id == run_id, EpochMetric.epoch == epoch)
    )


# Reads ------------------------------------------------------------------------------------


def metric_names(
    session: Session, run_ids: Sequence[int], axis: MetricAxis = MetricAxis.EPOCH
) -> dict[str, int]:
    """Every metric name the given runs have on `axis`, with how many of the runs have it,
    alphabetically (`experiment.metrics.ordered` gives a picker's order)."""
    if not run_ids:
        return {}
    statement = (
        select(MetricSeries.name, func.count())
        .where(MetricSeries.run_id.in_(list(run_ids)), MetricSeries.axis == axis)
        .group_by(MetricSeries.name)
        .order_by(MetricSeries.name)
    )
    return {name: int(count) for name, count in session.execute(statement)}


def metric_columns(names: Sequence[str], axis: MetricAxis = MetricAxis.EPOCH) -> tuple[str, ...]:
    """The column names of `metric_table` rows: run_id, epoch (or step), the names, recorded_at."""
    return ("run_id", axis.value, *names, "recorded_at")


def metric_table(
    session: Session,
    run_ids: Sequence[int],
    names: Sequence[str],
    axis: MetricAxis = MetricAxis.EPOCH,
) -> list[tuple[Any, ...]]:
    """The named series of the given runs as wide driver rows, in `metric_columns` order,
    ordered by run then epoch (or step); None where a run lacks a name or a value was NaN.

    Epoch axis: one row per recorded epoch, even when none of the names has a value there.
    Step axis: only the steps where at least one of the names has a value (per-batch logs
    can be long, and a series logged every 100 steps should not drag 99 empty rows along).
    `recorded_at` is the driver's (a datetime, or ISO text on SQLite).

    The stored JSON holds each value's exact shortest text. SQLite's parser reads metric-sized
    numbers back exactly; near 1e±300 it can be one unit in the last place off in a process
    where a native library lowered the x87 FPU's precision. `load_curves` parses in Python
    and is exact for every double.
    """
    if not run_ids:
        return []
    table = (EpochMetric if axis is MetricAxis.EPOCH else StepMetric).__table__
    values = [table.c.metrics[name].as_float() for name in names]
    position = table.c[axis.value]
    statement = (
        select(table.c.run_id, position, *values, table.c.recorded_at)
        .where(table.c.run_id.in_(list(run_ids)))
        .order_by(table.c.run_id, position)
    )
    if axis is MetricAxis.STEP and values:
        present: list[ColumnElement[bool]] = [value.is_not(None) for value in values]
        statement = statement.where(or_(*present))
    return driver_rows(session, statement)


def curve_table(session: Session, run_ids: Sequence[int]) -> list[tuple[Any, ...]]:
    """Every epoch of the given runs with the standard metrics, in `CURVE_FIELDS` order.

    The Compare page reads thousands of rows per refresh; driver rows skip the ORM and
    SQLAlchemy's Row objects, which would double the query's time.
    """
    return metric_table(session, run_ids, CURVE_METRICS)


def load_curves(session: Session, run_ids: Sequence[int]) -> list[EpochRecord]:
    """All epochs of the given runs with every metric, ordered by run then epoch."""
    if not run_ids:
        return []
    rows = session.scalars(
        select(EpochMetric)
        .where(EpochMetric.run_id.in_(list(run_ids)))
        .order_by(EpochMetric.run_id, EpochMetric.epoch)
    )
    return [EpochRecord.from_row(row) for row in rows]


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
    timed = EpochMetric.metrics["epoch_seconds"].as_float()
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
        # Scripts and imports lack the knobs an estimate needs (and no worker trains them).
        .where(timed.is_not(None), Run.source == RunSource.QUEUED)
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

"""Runs a user's own script logs (trainer/tracking.py), written by the run's client key.

A script may not reach the database while it trains, so its writes are records replayed
later, perhaps twice (a commit whose answer was lost). Every write here therefore names the
run by the key the script chose before it could ask the database for an id, and is
harmless to apply again: a fit is recorded once by its own id, an epoch or a step replaces
the row at its position.

One fit call (`model.fit`) is a "fit": its epochs count on from where the run was when it
began (`initial_epoch=0` of a run that has epochs continues after them; `initial_epoch=k`
replaces what came after epoch k). The offsets live in the run's environment under "fits",
so a replay in another process numbers epochs the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, insert, select, update
from sqlalchemy.orm import Session

from db.clock import now_expr
from db.entities import NewRun, TrainingPhase
from db.metrics import clean_metrics, register_names, summary_of
from db.models import (
    FINAL_STATUSES,
    EpochMetric,
    MetricAxis,
    Run,
    RunSource,
    RunStatus,
    StepMetric,
    StopReason,
)

# What a script run's attempt is: writes to its model artifact are fenced by it like a
# worker's (db/artifacts.py), and no worker ever claims the run to change it.
SCRIPT_ATTEMPT = 1


@dataclass(frozen=True)
class FitStart:
    """One `model.fit` call beginning: what the run gets created or reopened with.

    Attributes:
        fit: the fit's own id (a replay of the same start changes nothing).
        initial_epoch: Keras's `initial_epoch` (0-based); 0 continues after the run's epochs.
        epochs: Keras's `epochs` (the last 0-based epoch + 1 of this fit).
        steps_per_epoch: batches per epoch when Keras knows it, for per-batch steps.
        environment: script, host, versions, model summary; merged into the run's.
    """

    fit: str
    new: NewRun
    started_at: datetime
    initial_epoch: int = 0
    epochs: int = 0
    steps_per_epoch: int | None = None
    total_params: int | None = None
    trainable_params: int | None = None
    learning_rate: float | None = None
    environment: Mapping[str, Any] = field(default_factory=dict)


def script_run_id(session: Session, key: str) -> int | None:
    """The id of the script run with this client key, if it was created."""
    return session.scalar(select(Run.id).where(Run.client_key == key))


def start_fit(session: Session, key: str, start: FitStart) -> int:
    """Create the run (first fit) or reopen it as running; returns its id.

    The fit's epoch and step offsets are fixed here, once: a fit already recorded (a replay)
    leaves the run as it is.
    """
    run = session.scalar(select(Run).where(Run.client_key == key).with_for_update())
    if run is None:
        run = _create(session, key, start)
    environment = dict(run.environment or {})
    fits: list[dict[str, Any]] = list(environment.get("fits") or [])
    if any(item.get("fit") == start.fit for item in fits):
        return run.id
    epoch_offset, step_offset = _offsets(session, run, start)
    if start.initial_epoch > 0:  # retrained from there: later rows go
        session.execute(
            delete(EpochMetric).where(
                EpochMetric.run_id == run.id, EpochMetric.epoch > epoch_offset
            )
        )
        session.execute(
            delete(StepMetric).where(StepMetric.run_id == run.id, StepMetric.step > step_offset)
        )
    fits.append(
        {
            "fit": start.fit,
            "epoch_offset": epoch_offset,
            "step_offset": step_offset,
            "initial_epoch": start.initial_epoch,
            "epochs": start.epochs,
            "started_at": start.started_at.isoformat(),
        }
    )
    environment.update(start.environment)
    environment["fits"] = fits
    first_epoch = epoch_offset + 1
    phases = [p for p in (run.phases or []) if int(p.get("epoch", 0)) < first_epoch]
    phases.append(
        TrainingPhase(
            epoch=first_epoch,
            kind="train",
            total_params=start.total_params or 0,
            trainable_params=start.trainable_params or 0,
            learning_rate=start.learning_rate or 0.0,
        ).to_json()
    )
    planned = epoch_offset + max(start.epochs - start.initial_epoch, 0)
    run.environment = environment
    run.phases = phases
    run.epochs = max(planned, run.epochs or 0) if start.initial_epoch == 0 else planned
    run.status = RunStatus.RUNNING
    run.finished_at = None
    run.error = None
    run.stop_reason = None
    run.stop_detail = None
    run.total_params = start.total_params
    run.trainable_params = start.trainable_params
    run.heartbeat_at = now_expr(session.get_bind().dialect.name)
    for column, value in summary_of(session, run.id, epoch_offset).items():
        setattr(run, column, value)
    session.flush()
    return run.id


def _create(session: Session, key: str, start: FitStart) -> Run:
    if start.new.source is not RunSource.SCRIPT:
        raise ValueError("a script's run needs source=script")
    run = Run(
        **start.new.columns(),
        client_key=key,
        status=RunStatus.RUNNING,
        attempt=SCRIPT_ATTEMPT,
        cancel_requested=False,
        warnings=[],
        started_at=start.started_at,
        epochs_done=0,
    )
    session.add(run)
    session.flush()
    return run


def _offsets(session: Session, run: Run, start: FitStart) -> tuple[int, int]:
    """Where this fit's epochs and steps count from."""
    if start.initial_epoch > 0:
        steps = start.steps_per_epoch
        step_offset = start.initial_epoch * steps if steps else _last_step(session, run.id)
        return start.initial_epoch, step_offset
    last_epoch = session.scalar(
        select(func.max(EpochMetric.epoch)).where(EpochMetric.run_id == run.id)
    )
    return int(last_epoch or 0), _last_step(session, run.id)


def _last_step(session: Session, run_id: int) -> int:
    last = session.scalar(select(func.max(StepMetric.step)).where(StepMetric.run_id == run_id))
    return int(last or 0)


def _fit(session: Session, key: str, fit: str) -> tuple[int, dict[str, Any]]:
    """The run's id and the fit's offsets; LookupError if the fit was never started."""
    row = session.execute(select(Run.id, Run.environment).where(Run.client_key == key)).first()
    if row is None:
        raise LookupError(f"script run {key} was never started")
    for item in (row.environment or {}).get("fits") or []:
        if item.get("fit") == fit:
            return row.id, item
    raise LookupError(f"script run {key} has no fit {fit}")


def record_fit_epoch(
    session: Session,
    key: str,
    fit: str,
    fit_epoch: int,
    metrics: Mapping[str, Any],
    recorded_at: datetime | None,
) -> int:
    """Store an epoch of a fit (`fit_epoch` counts from 1 within Keras's own numbering,
    i.e. Keras's epoch + 1 - `initial_epoch`); replaces the row a replay left. Returns the
    run's epoch number."""
    run_id, item = _fit(session, key, fit)
    epoch = int(item["epoch_offset"]) + fit_epoch
    cleaned = clean_metrics(metrics)
    session.execute(
        delete(EpochMetric).where(EpochMetric.run_id == run_id, EpochMetric.epoch == epoch)
    )
    row = EpochMetric(run_id=run_id, epoch=epoch, metrics=cleaned, attempt=SCRIPT_ATTEMPT)
    if recorded_at is not None:
        row.recorded_at = recorded_at
    session.add(row)
    register_names(session, run_id, MetricAxis.EPOCH, cleaned)
    session.flush()
    summary = summary_of(session, run_id, epoch)
    dialect = session.get_bind().dialect.name
    session.execute(
        update(Run)
        .where(Run.id == run_id)
        .values(**summary, heartbeat_at=now_expr(dialect))
        .execution_options(synchronize_session=False)
    )
    return epoch


def record_fit_steps(
    session: Session,
    key: str,
    fit: str,
    steps: Sequence[tuple[int, Mapping[str, Any], datetime | None]],
) -> None:
    """Store per-batch values of a fit: (batches since the fit began, values, when)."""
    if not steps:
        return
    run_id, item = _fit(session, key, fit)
    offset = int(item["step_offset"])
    rows = []
    names: set[str] = set()
    for fit_step, values, stamp in steps:
        metrics = clean_metrics(values)
        names.update(metrics)
        row: dict[str, Any] = {
            "run_id": run_id,
            "step": offset + fit_step,
            "metrics": metrics,
            "attempt": SCRIPT_ATTEMPT,
        }
        if stamp is not None:
            row["recorded_at"] = stamp
        rows.append(row)
    positions = [row["step"] for row in rows]
    session.execute(
        delete(StepMetric).where(StepMetric.run_id == run_id, StepMetric.step.in_(positions))
    )
    # Rows with and without a time differ in columns: insert each kind on its own.
    timed = [row for row in rows if "recorded_at" in row]
    untimed = [row for row in rows if "recorded_at" not in row]
    for group in (timed, untimed):
        if group:
            session.execute(insert(StepMetric), group)
    register_names(session, run_id, MetricAxis.STEP, names)


def beat_script_run(session: Session, key: str) -> bool:
    """Mark the running script run alive now (database clock); False if it is not running."""
    dialect = session.get_bind().dialect.name
    result = session.execute(
        update(Run)
        .where(Run.client_key == key, Run.status == RunStatus.RUNNING)
        .values(heartbeat_at=now_expr(dialect))
        .execution_options(synchronize_session=False)
    )
    return cast("CursorResult[Any]", result).rowcount == 1


def finish_fit(
    session: Session,
    key: str,
    fit: str,
    *,
    status: RunStatus,
    stop_reason: StopReason,
    stop_detail: str | None,
    error: str | None,
    finished_at: datetime,
) -> int:
    """End the fit's run with `status` (a replay writes the same values again)."""
    if status not in FINAL_STATUSES:
        raise ValueError(f"a fit ends with a final status, not {status.value!r}")
    run_id, _ = _fit(session, key, fit)
    session.execute(
        update(Run)
        .where(Run.id == run_id)
        .values(
            status=status,
            stop_reason=stop_reason,
            stop_detail=(stop_detail or "")[:500] or None,
            error=error,
            finished_at=finished_at,
        )
        .execution_options(synchronize_session=False)
    )
    return run_id

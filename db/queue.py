"""The run queue: enqueue, claim exactly once, heartbeat, finish, cancel, recover lost runs.

Every function takes the caller's session and never commits. Worker-side writes are fenced by
the run's `attempt`: they only touch a row that is still `running` under that attempt, and
report whether they did, so a worker whose lease was taken over writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, and_, delete, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from db.clock import db_now, now_expr
from db.entities import ClaimedRun, NewRun
from db.models import (
    FINAL_STATUSES,
    AttemptOutcome,
    Run,
    RunAttempt,
    RunSource,
    RunStatus,
    StopReason,
)

# Highest priority first, then oldest; `id` breaks ties between runs queued in the same instant.
CLAIM_ORDER = (Run.priority.desc(), Run.created_at, Run.id)


class ReadOnlyRun(ValueError):
    """The run was not trained by the lab (a script's or an import): it cannot be re-run."""


def enqueue(session: Session, new: NewRun) -> int:
    """Add a queued run and return its id."""
    if new.source is not RunSource.QUEUED:
        raise ValueError(f"only the lab's own runs are queued, not a run of source {new.source}")
    run = Run(
        **new.columns(),
        status=RunStatus.QUEUED,
        attempt=0,
        epochs_done=0,
        cancel_requested=False,
        warnings=[],
    )
    session.add(run)
    session.flush()
    return run.id


def enqueue_many(session: Session, runs: Sequence[NewRun]) -> list[int]:
    """Queue several runs in the caller's one transaction: all or none."""
    return [enqueue(session, new) for new in runs]


def claim_next(session: Session, worker: str) -> ClaimedRun | None:
    """Atomically move the next queued run to `running` for `worker`.

    One guarded statement: the subquery picks the candidate and the outer `status = 'queued'`
    re-check makes a race lose cleanly (zero rows) instead of running the job twice. PostgreSQL
    adds `FOR UPDATE SKIP LOCKED` so concurrent claimers pick different rows; SQLite serialises
    writers with `BEGIN IMMEDIATE` (see db/session.py).
    """
    dialect = session.get_bind().dialect.name
    candidate = select(Run.id).where(Run.status == RunStatus.QUEUED).order_by(*CLAIM_ORDER).limit(1)
    if dialect == "postgresql":
        candidate = candidate.with_for_update(skip_locked=True)
    now = now_expr(dialect)
    statement = (
        update(Run)
        .where(Run.id == candidate.scalar_subquery(), Run.status == RunStatus.QUEUED)
        .values(
            status=RunStatus.RUNNING,
            attempt=Run.attempt + 1,
            worker=worker,
            started_at=now,
            heartbeat_at=now,
        )
        .returning(Run.id, Run.attempt, Run.name, Run.config, Run.search_id)
        .execution_options(synchronize_session=False)
    )
    row = session.execute(statement).first()
    if row is None:
        return None
    session.add(
        RunAttempt(
            run_id=row.id,
            attempt=row.attempt,
            worker=worker,
            started_at=now,
            outcome=AttemptOutcome.RUNNING,
        )
    )
    session.flush()
    return ClaimedRun(
        id=row.id,
        attempt=row.attempt,
        name=row.name,
        config=dict(row.config),
        search_id=row.search_id,
    )


def _end_attempt(
    session: Session, run_id: int, attempts: Any, outcome: AttemptOutcome, detail: str | None
) -> None:
    """Close the attempt row(s) of a claim that just ended (any that are still running)."""
    session.execute(
        update(RunAttempt)
        .where(
            RunAttempt.run_id == run_id,
            attempts,
            RunAttempt.outcome == AttemptOutcome.RUNNING,
        )
        .values(
            outcome=outcome,
            detail=detail[:500] if detail else None,
            ended_at=now_expr(session.get_bind().dialect.name),
        )
        .execution_options(synchronize_session=False)
    )


def _held(run_id: int, attempt: int) -> tuple[Any, ...]:
    """The fence: the row is still running under this worker's attempt."""
    return (Run.id == run_id, Run.attempt == attempt, Run.status == RunStatus.RUNNING)


@dataclass(frozen=True)
class Heartbeat:
    """What a heartbeat learned: whether the lease is still ours and whether to stop."""

    held: bool
    cancel_requested: bool = False


def heartbeat(session: Session, run_id: int, attempt: int) -> Heartbeat:
    """Renew the lease on the database clock; tells the worker if it lost the run or must stop."""
    dialect = session.get_bind().dialect.name
    statement = (
        update(Run)
        .where(*_held(run_id, attempt))
        .values(heartbeat_at=now_expr(dialect))
        .returning(Run.cancel_requested)
        .execution_options(synchronize_session=False)
    )
    row = session.execute(statement).first()
    if row is None:
        return Heartbeat(held=False)
    return Heartbeat(held=True, cancel_requested=bool(row.cancel_requested))


def set_run_info(
    session: Session,
    run_id: int,
    attempt: int,
    *,
    class_names: Sequence[str] | None = None,
    environment: dict | None = None,
    warnings: Sequence[str] | None = None,
) -> bool:
    """Record what the worker learned before training (classes, versions, dataset warnings)."""
    values: dict = {}
    if class_names is not None:
        values["class_names"] = list(class_names)
    if environment is not None:
        values["environment"] = environment
    if warnings is not None:
        values["warnings"] = list(warnings)
    if not values:
        return True
    return update_held_run(session, run_id, attempt, values)


def finish_run(
    session: Session,
    run_id: int,
    attempt: int,
    *,
    status: RunStatus,
    stop_reason: StopReason,
    stop_detail: str | None = None,
    error: str | None = None,
) -> bool:
    """End a running run (succeeded, failed or cancelled); False if the lease was lost."""
    if status not in FINAL_STATUSES:
        raise ValueError(f"finish_run needs a final status, not {status.value!r}")
    dialect = session.get_bind().dialect.name
    values = {
        "status": status,
        "stop_reason": stop_reason,
        "stop_detail": stop_detail,
        "error": error,
        "finished_at": now_expr(dialect),
    }
    if not update_held_run(session, run_id, attempt, values):
        return False
    outcome = AttemptOutcome(status.value)
    _end_attempt(session, run_id, RunAttempt.attempt == attempt, outcome, stop_detail)
    return True


def release_run(session: Session, run_id: int, attempt: int) -> bool:
    """Hand a running run back to the queue (worker shutting down); it resumes elsewhere.

    A run whose cancel was requested meanwhile ends cancelled instead of being trained again.
    """
    cancel = session.scalar(select(Run.cancel_requested).where(*_held(run_id, attempt)))
    if cancel is None:
        return False
    if cancel:
        return finish_run(
            session,
            run_id,
            attempt,
            status=RunStatus.CANCELLED,
            stop_reason=StopReason.CANCELLED,
            stop_detail="cancelled while its worker was shutting down",
        )
    values = {"status": RunStatus.QUEUED, "worker": None, "heartbeat_at": None}
    if not update_held_run(session, run_id, attempt, values):
        return False
    detail = "worker shut down; the run resumes from its last checkpoint"
    _end_attempt(session, run_id, RunAttempt.attempt == attempt, AttemptOutcome.HANDED_BACK, detail)
    return True


def attempt_outcome(session: Session, run_id: int, attempt: int) -> AttemptOutcome | None:
    """How an attempt ended (RUNNING while it holds the run); None if there is no such attempt.

    A worker whose commit was cut off asks this before writing again: a final write that did
    land shows here, so it is not mistaken for a lost lease.
    """
    return session.scalar(
        select(RunAttempt.outcome).where(RunAttempt.run_id == run_id, RunAttempt.attempt == attempt)
    )


def update_held_run(session: Session, run_id: int, attempt: int, values: dict[str, Any]) -> bool:
    """Apply `values` to the run only while `attempt` still holds it; True if it did."""
    statement = (
        update(Run)
        .where(*_held(run_id, attempt))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    result = cast("CursorResult[Any]", session.execute(statement))
    return result.rowcount == 1


def cancel_run(session: Session, run_id: int) -> RunStatus | None:
    """Cancel a run: a queued one at once, a running one at its worker's next check.

    Returns the run's status after the call, or None if there is no such run.
    """
    dialect = session.get_bind().dialect.name
    session.execute(
        update(Run)
        .where(Run.id == run_id, Run.status == RunStatus.QUEUED)
        .values(
            status=RunStatus.CANCELLED,
            stop_reason=StopReason.CANCELLED,
            stop_detail="cancelled before it started",
            finished_at=now_expr(dialect),
        )
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Run)
        .where(Run.id == run_id, Run.status == RunStatus.RUNNING)
        .values(cancel_requested=True)
        .execution_options(synchronize_session=False)
    )
    return session.scalar(select(Run.status).where(Run.id == run_id))


def requeue_lost(session: Session, grace: timedelta) -> tuple[list[int], list[int]]:
    """Recover runs whose worker stopped heartbeating for longer than `grace`.

    Runs with attempts left go back to the queue (their checkpoint lets them resume); the
    others end as failed with the reason "worker lost"; runs whose cancel was requested end
    cancelled. Returns (requeued ids, failed ids).
    """
    cutoff = db_now(session) - grace
    # A script trains in its own process: no worker could resume it, so it is left alone.
    lost = and_(
        Run.status == RunStatus.RUNNING,
        Run.heartbeat_at < cutoff,
        Run.source == RunSource.QUEUED,
    )
    _, failed, requeued = _recover(session, lost, f"no heartbeat for {grace.total_seconds():g} s")
    return requeued, failed


def requeue_ended(session: Session, run_id: int, attempt: int, detail: str) -> RunStatus | None:
    """Recover a run at once when its worker is known to be gone, e.g. its Slurm job ended.

    The same outcomes as an expired lease (queued, failed when out of attempts, or cancelled),
    without waiting for it. Fenced by `attempt`: a run a newer claim holds is left alone.
    Returns the run's new status, or None if `attempt` no longer held it.
    """
    cancelled, failed, requeued = _recover(session, and_(*_held(run_id, attempt)), detail)
    if requeued:
        return RunStatus.QUEUED
    if failed:
        return RunStatus.FAILED
    return RunStatus.CANCELLED if cancelled else None


def _recover(
    session: Session, lost: ColumnElement[bool], detail: str
) -> tuple[list[int], list[int], list[int]]:
    """End the claims of the running runs matching `lost`: (cancelled, failed, requeued) ids."""
    dialect = session.get_bind().dialect.name
    # A run cancelled while its worker was already dead is not trained again: it ends here.
    cancelled = session.scalars(
        update(Run)
        .where(lost, Run.cancel_requested.is_(True))
        .values(
            status=RunStatus.CANCELLED,
            stop_reason=StopReason.CANCELLED,
            stop_detail="cancelled; its worker had stopped",
            finished_at=now_expr(dialect),
        )
        .returning(Run.id)
        .execution_options(synchronize_session=False)
    ).all()
    failed = session.scalars(
        update(Run)
        .where(lost, Run.attempt >= Run.max_attempts)
        .values(
            status=RunStatus.FAILED,
            stop_reason=StopReason.WORKER_LOST,
            stop_detail=f"worker lost ({detail}); no attempts left"[:500],
            error="worker lost",
            finished_at=now_expr(dialect),
        )
        .returning(Run.id)
        .execution_options(synchronize_session=False)
    ).all()
    requeued = session.scalars(
        update(Run)
        .where(lost, Run.attempt < Run.max_attempts)
        .values(status=RunStatus.QUEUED, worker=None, heartbeat_at=None)
        .returning(Run.id)
        .execution_options(synchronize_session=False)
    ).all()
    for run_id in [*cancelled, *failed, *requeued]:
        _end_attempt(session, run_id, RunAttempt.attempt.is_not(None), AttemptOutcome.LOST, detail)
    return list(cancelled), list(failed), list(requeued)


def rerun(session: Session, run_id: int) -> int | None:
    """Queue a fresh copy of a finished run's config (its history stays); None if none such.

    Raises ReadOnlyRun for a run the lab did not train (imported, or logged by a script):
    its config is not one a worker can train.
    """
    source = session.get(Run, run_id)
    if source is None or source.status not in FINAL_STATUSES:
        return None
    if source.source is not RunSource.QUEUED:
        how = "was imported" if source.source is RunSource.IMPORT else "was logged by a script"
        raise ReadOnlyRun(
            f"run {run_id} {how}: the lab cannot train it again. Clone it into the Queue form "
            "instead (when its config names the lab's fields) and queue that."
        )
    copy = NewRun.copy_of(source)
    return enqueue(session, copy)


def delete_run(session: Session, run_id: int) -> bool:
    """Delete a run that is not running, with its metrics, models and verdicts (cascade)."""
    result = cast(
        "CursorResult[Any]",
        session.execute(
            delete(Run)
            .where(Run.id == run_id, Run.status != RunStatus.RUNNING)
            .execution_options(synchronize_session=False)
        ),
    )
    return result.rowcount == 1

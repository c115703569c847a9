"""Slurm jobs and dispatchers: what was submitted, what Slurm says of it, which run it trains.

Every function takes the caller's session and never commits. The dispatcher records the jobs
it submits and the states it reads from `squeue`; the worker inside a job records the run it
claimed, in its claim's own transaction (so a job submitted by hand shows up too). The rows
live in the database, so a dashboard on another machine sees them and a restarted dispatcher
follows the jobs its predecessor submitted.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from db.clock import db_now, now_expr
from db.entities import SlurmDispatcherRecord, SlurmJobRecord, as_utc
from db.models import SLURM_FINAL_STATES, Run, RunStatus, SlurmDispatcher, SlurmJob

# Slurm's name for a job that waits to start, the only state in which cancelling it costs
# nothing (a running one may already have claimed a run).
PENDING = "PENDING"
RUNNING = "RUNNING"


def _now(session: Session) -> Any:
    return now_expr(session.get_bind().dialect.name)


def _insert(session: Session) -> Any:
    """The dialect's INSERT, which has ON CONFLICT on both SQLite and PostgreSQL."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert
    return sqlite.insert


# --- the dispatcher ---------------------------------------------------------------------------


def register_dispatcher(
    session: Session,
    *,
    name: str,
    host: str,
    pid: int,
    template: str,
    partition: str | None,
    max_jobs: int,
) -> int:
    """Start (or restart) the dispatcher called `name`; its last error is kept until resolved."""
    now = _now(session)
    values = {
        "host": host,
        "pid": pid,
        "template": template[:1000],
        "partition": partition,
        "max_jobs": max_jobs,
        "started_at": now,
        "heartbeat_at": now,
        "stopped_at": None,
    }
    statement = _insert(session)(SlurmDispatcher).values(name=name, error_count=0, **values)
    statement = statement.on_conflict_do_update(index_elements=["name"], set_=values)
    session.execute(statement)
    dispatcher_id = session.scalar(select(SlurmDispatcher.id).where(SlurmDispatcher.name == name))
    assert dispatcher_id is not None
    return dispatcher_id


def _update_dispatcher(session: Session, dispatcher_id: int, **values: Any) -> None:
    session.execute(
        update(SlurmDispatcher)
        .where(SlurmDispatcher.id == dispatcher_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def beat_dispatcher(session: Session, dispatcher_id: int) -> None:
    _update_dispatcher(session, dispatcher_id, heartbeat_at=_now(session))


def stop_dispatcher(session: Session, dispatcher_id: int) -> None:
    _update_dispatcher(session, dispatcher_id, stopped_at=_now(session))


def record_dispatch_error(session: Session, dispatcher_id: int, message: str) -> int:
    """Store why submissions fail (sbatch's message); returns how often this message repeated."""
    row = session.get(SlurmDispatcher, dispatcher_id)
    if row is None:
        return 0
    if row.last_error == message:
        row.error_count += 1
    else:
        row.last_error, row.error_count, row.error_since = message, 1, _now(session)
    session.flush()
    return row.error_count


def clear_dispatch_error(session: Session, dispatcher_id: int) -> None:
    _update_dispatcher(session, dispatcher_id, last_error=None, error_since=None, error_count=0)


def record_submitted(session: Session, job_id: str, dispatcher_id: int | None) -> None:
    """A job `sbatch` accepted. Its worker may have recorded its claim first: then keep that."""
    now = _now(session)
    statement = _insert(session)(SlurmJob).values(
        job_id=job_id, dispatcher_id=dispatcher_id, state=PENDING, submitted_at=now, updated_at=now
    )
    statement = statement.on_conflict_do_update(
        index_elements=["job_id"],
        set_={"dispatcher_id": dispatcher_id, "submitted_at": now},
    )
    session.execute(statement)


def active_jobs(session: Session) -> list[SlurmJobRecord]:
    """Jobs that may still be pending or running, oldest first: the ones to ask Slurm about."""
    rows = session.scalars(
        select(SlurmJob).where(SlurmJob.ended_at.is_(None)).order_by(SlurmJob.id)
    )
    return [SlurmJobRecord.from_row(row) for row in rows]


def update_job(
    session: Session,
    job_id: str,
    *,
    state: str,
    reason: str | None = None,
    node: str | None = None,
    log_path: str | None = None,
    exit_code: str | None = None,
    note: str | None = None,
) -> SlurmJobRecord | None:
    """Store what Slurm says of a job; returns the new record if anything changed, else None.

    The first RUNNING state stamps `started_at` and the first final state `ended_at`, after
    which the dispatcher stops following the job. The reason is always Slurm's current one;
    other empty values leave the stored ones alone (an ended job keeps its node and log).
    """
    row = session.scalar(select(SlurmJob).where(SlurmJob.job_id == job_id))
    if row is None:
        return None
    given = {"node": node, "log_path": log_path, "exit_code": exit_code, "note": note}
    values = {"state": state, "reason": reason} | {k: v for k, v in given.items() if v is not None}
    values = {key: _fit(key, value) for key, value in values.items()}
    changes = {key: value for key, value in values.items() if getattr(row, key) != value}
    ending = state in SLURM_FINAL_STATES and row.ended_at is None
    if not changes and not ending:
        return None
    for key, value in changes.items():
        setattr(row, key, value)
    now = _now(session)
    row.updated_at = now
    if state == RUNNING and row.started_at is None:
        row.started_at = now
    if ending:
        row.ended_at = now
    session.flush()
    return SlurmJobRecord.from_row(row)


def _fit(column: str, value: str | None) -> str | None:
    """Cut Slurm's text to the column (a long node list must not fail the whole pass)."""
    length = getattr(SlurmJob.__table__.c[column].type, "length", None)
    return value[:length] if value is not None and length else value


def note_job(session: Session, job_id: str, note: str) -> None:
    """Say what the lab did about a job (cancelled it as surplus, requeued its run)."""
    session.execute(
        update(SlurmJob)
        .where(SlurmJob.job_id == job_id)
        .values(note=note[:500], updated_at=_now(session))
        .execution_options(synchronize_session=False)
    )


# --- the worker inside a job ------------------------------------------------------------------


def record_claim(
    session: Session, job_id: str, run_id: int, attempt: int, worker_id: int | None
) -> None:
    """The worker running as Slurm job `job_id` claimed `run_id` under `attempt`.

    Called in the claim's transaction, so nobody sees the run running without its job. A job
    the dispatcher did not submit (sbatch by hand) gets its row here; a job Slurm requeued
    under the same id is followed again.
    """
    now = _now(session)
    claim = {"run_id": run_id, "attempt": attempt, "worker_id": worker_id, "state": RUNNING}
    statement = _insert(session)(SlurmJob).values(
        job_id=job_id, started_at=now, updated_at=now, **claim
    )
    statement = statement.on_conflict_do_update(
        index_elements=["job_id"],
        set_={
            **claim,
            "reason": None,
            "ended_at": None,
            "updated_at": now,
            "started_at": func.coalesce(SlurmJob.started_at, now),
        },
    )
    session.execute(statement)


# --- how many jobs are wanted -----------------------------------------------------------------


@dataclass(frozen=True)
class Demand:
    """One snapshot of the queue and the jobs, from which the dispatcher decides.

    `waiting` are the active jobs whose worker has not claimed a run yet, newest first: each
    will take one queued run.
    """

    queued_runs: int
    active_jobs: int
    waiting: tuple[SlurmJobRecord, ...]


def demand(session: Session) -> Demand:
    queued = session.scalar(
        select(func.count()).select_from(Run).where(Run.status == RunStatus.QUEUED)
    )
    active = active_jobs(session)
    waiting = tuple(sorted((job for job in active if job.run_id is None), key=lambda j: -j.id))
    return Demand(queued_runs=queued or 0, active_jobs=len(active), waiting=waiting)


# --- reads for the dashboard ------------------------------------------------------------------


def jobs_for_run(session: Session, run_id: int) -> list[SlurmJobRecord]:
    """The Slurm jobs whose worker claimed this run, in claim order (one per attempt)."""
    rows = session.scalars(
        select(SlurmJob).where(SlurmJob.run_id == run_id).order_by(SlurmJob.attempt, SlurmJob.id)
    )
    return [SlurmJobRecord.from_row(row) for row in rows]


def recent_jobs(session: Session, *, limit: int = 100) -> list[SlurmJobRecord]:
    """Active jobs, then the most recently ended ones, up to `limit` in all."""
    rows = session.scalars(
        select(SlurmJob).order_by(SlurmJob.ended_at.is_not(None), SlurmJob.id.desc()).limit(limit)
    )
    return [SlurmJobRecord.from_row(row) for row in rows]


def jobs_for_workers(session: Session, worker_ids: Collection[int]) -> dict[int, SlurmJobRecord]:
    """The Slurm job each of these workers runs in (workers outside Slurm are absent)."""
    if not worker_ids:
        return {}
    rows = session.scalars(
        select(SlurmJob).where(SlurmJob.worker_id.in_(list(worker_ids))).order_by(SlurmJob.id)
    )
    return {row.worker_id: SlurmJobRecord.from_row(row) for row in rows if row.worker_id}


def list_dispatchers(session: Session, grace: timedelta) -> list[SlurmDispatcherRecord]:
    """Every dispatcher, newest first; alive = not stopped and heartbeat within `grace`."""
    now = db_now(session)
    records = []
    for row in session.scalars(select(SlurmDispatcher).order_by(SlurmDispatcher.id.desc())):
        beat = as_utc(row.heartbeat_at)
        alive = row.stopped_at is None and beat is not None and now - beat <= grace
        records.append(SlurmDispatcherRecord.from_row(row, alive=alive))
    return records

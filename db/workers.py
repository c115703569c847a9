"""Worker processes: registration, liveness heartbeats, and the Workers page's reads."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from db.clock import db_now, now_expr
from db.entities import AttemptRecord, WorkerRecord, as_utc
from db.models import RunAttempt, Worker


def register_worker(session: Session, name: str, host: str, pid: int, device: str) -> int:
    now = now_expr(session.get_bind().dialect.name)
    worker = Worker(name=name, host=host, pid=pid, device=device, started_at=now, heartbeat_at=now)
    session.add(worker)
    session.flush()
    return worker.id


def beat_worker(session: Session, worker_id: int, current_run_id: int | None) -> None:
    """Say this worker is alive, and which run it holds now (None when idle)."""
    session.execute(
        update(Worker)
        .where(Worker.id == worker_id)
        .values(
            heartbeat_at=now_expr(session.get_bind().dialect.name), current_run_id=current_run_id
        )
        .execution_options(synchronize_session=False)
    )


def stop_worker(session: Session, worker_id: int) -> None:
    session.execute(
        update(Worker)
        .where(Worker.id == worker_id)
        .values(stopped_at=now_expr(session.get_bind().dialect.name), current_run_id=None)
        .execution_options(synchronize_session=False)
    )


def workers_on_host(session: Session, worker_id: int, window: timedelta) -> int:
    """Running workers on the same host as `worker_id`, itself included (at least 1).

    Running: not stopped, heartbeat within `window` (an idle worker beats every poll, a busy
    one every 2 s). A worker's share of the machine's memory is split by this count.
    """
    host = select(Worker.host).where(Worker.id == worker_id).scalar_subquery()
    cutoff = db_now(session) - window
    count = session.scalar(
        select(func.count())
        .select_from(Worker)
        .where(Worker.host == host, Worker.stopped_at.is_(None), Worker.heartbeat_at >= cutoff)
    )
    return max(1, count or 0)


def list_workers(
    session: Session, grace: timedelta, *, since: timedelta = timedelta(days=1)
) -> list[WorkerRecord]:
    """Workers seen within `since`, newest first; alive = not stopped and heartbeat within grace."""
    now = db_now(session)
    rows = session.scalars(
        select(Worker).where(Worker.heartbeat_at >= now - since).order_by(Worker.id.desc())
    )
    records = []
    for row in rows:
        beat = as_utc(row.heartbeat_at)
        alive = row.stopped_at is None and beat is not None and now - beat <= grace
        records.append(WorkerRecord.from_row(row, alive=alive))
    return records


def list_attempts(session: Session, run_ids: list[int]) -> list[AttemptRecord]:
    if not run_ids:
        return []
    rows = session.scalars(
        select(RunAttempt)
        .where(RunAttempt.run_id.in_(run_ids))
        .order_by(RunAttempt.run_id, RunAttempt.attempt)
    )
    return [AttemptRecord.from_row(row) for row in rows]

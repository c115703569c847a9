"""Worker registration reads, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from db.clock import db_now
from db.models import Worker
from db.session import Database
from db.workers import register_worker, stop_worker, workers_on_host

WINDOW = timedelta(seconds=60)


def test_workers_on_host_counts_the_running_workers_of_that_machine(database: Database) -> None:
    """Stopped, silent and other machines' workers do not count; the asker does."""
    with database.begin() as session:
        me = register_worker(session, "a:1", "box-a", 1, "CPU")
        register_worker(session, "a:2", "box-a", 2, "CPU")
        stopped = register_worker(session, "a:3", "box-a", 3, "CPU")
        stop_worker(session, stopped)
        silent = register_worker(session, "a:4", "box-a", 4, "CPU")
        long_ago = db_now(session) - timedelta(minutes=5)
        session.execute(update(Worker).where(Worker.id == silent).values(heartbeat_at=long_ago))
        elsewhere = register_worker(session, "b:1", "box-b", 1, "CPU")
    with database.read() as session:
        assert workers_on_host(session, me, WINDOW) == 2
        assert workers_on_host(session, elsewhere, WINDOW) == 1


def test_workers_on_host_is_at_least_one(database: Database) -> None:
    """An unknown worker id (a run trained outside a worker) counts as one."""
    with database.read() as session:
        assert workers_on_host(session, 12345, WINDOW) == 1

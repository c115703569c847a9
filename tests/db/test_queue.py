"""The queue contract, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from db import queue
from db.entities import EpochRecord
from db.metrics import record_epoch
from db.models import Run, RunStatus, StopReason
from db.runs import get_run
from db.session import Database
from tests.db.factories import new_run


def _enqueue(database: Database, *names: str, priority: int = 0) -> list[int]:
    with database.begin() as session:
        return [queue.enqueue(session, new_run(n, priority=priority)) for n in names]


def _claim(database: Database, worker: str = "w1") -> queue.ClaimedRun | None:
    with database.begin() as session:
        return queue.claim_next(session, worker)


def test_claim_on_empty_queue_returns_none(database: Database) -> None:
    """An empty queue yields no claim."""
    assert _claim(database) is None


def test_claim_marks_run_running_with_first_attempt(database: Database) -> None:
    """A claim moves the run to running, names the worker and starts attempt 1."""
    (run_id,) = _enqueue(database, "a")
    claimed = _claim(database, "host:1")
    assert claimed is not None and claimed.id == run_id and claimed.attempt == 1
    with database.read() as session:
        run = get_run(session, run_id)
    assert run is not None
    assert run.status is RunStatus.RUNNING
    assert run.worker == "host:1"
    assert run.started_at is not None and run.heartbeat_at is not None


def test_claim_order_is_priority_then_age(database: Database) -> None:
    """Higher priority first; within a priority, the oldest run first."""
    first, second = _enqueue(database, "old", "new")
    (urgent,) = _enqueue(database, "urgent", priority=5)
    order = [c.id for c in (_claim(database), _claim(database), _claim(database)) if c]
    assert order == [urgent, first, second]


def test_a_run_is_claimed_once(database: Database) -> None:
    """Once claimed, a run is not handed to a second claimer."""
    _enqueue(database, "only")
    assert _claim(database, "w1") is not None
    assert _claim(database, "w2") is None


def test_cancel_queued_run_is_immediate(database: Database) -> None:
    """Cancelling a queued run ends it at once and it is never claimed."""
    (run_id,) = _enqueue(database, "a")
    with database.begin() as session:
        assert queue.cancel_run(session, run_id) is RunStatus.CANCELLED
    assert _claim(database) is None
    with database.read() as session:
        run = get_run(session, run_id)
    assert run is not None and run.stop_reason is StopReason.CANCELLED


def test_cancel_running_run_is_seen_by_heartbeat(database: Database) -> None:
    """Cancelling a running run flags it; the worker's next heartbeat reports it."""
    (run_id,) = _enqueue(database, "a")
    claimed = _claim(database)
    assert claimed is not None
    with database.begin() as session:
        assert queue.cancel_run(session, run_id) is RunStatus.RUNNING
    with database.begin() as session:
        beat = queue.heartbeat(session, run_id, claimed.attempt)
    assert beat.held and beat.cancel_requested


def test_cancel_unknown_run_returns_none(database: Database) -> None:
    """Cancelling a run that does not exist says so."""
    with database.begin() as session:
        assert queue.cancel_run(session, 9999) is None


def _backdate_heartbeat(database: Database, run_id: int, seconds: int) -> None:
    with database.begin() as session:
        run = session.get(Run, run_id)
        assert run is not None and run.heartbeat_at is not None
        session.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(heartbeat_at=run.heartbeat_at - timedelta(seconds=seconds))
        )


def test_lost_run_is_requeued_and_old_attempt_is_fenced(database: Database) -> None:
    """After a lease expires the run is requeued; the old attempt can no longer write."""
    (run_id,) = _enqueue(database, "a")
    old = _claim(database)
    assert old is not None
    _backdate_heartbeat(database, run_id, 600)
    with database.begin() as session:
        requeued, failed = queue.requeue_lost(session, timedelta(seconds=60))
    assert (requeued, failed) == ([run_id], [])
    new = _claim(database, "w2")
    assert new is not None and new.attempt == 2
    with database.begin() as session:
        assert not record_epoch(session, run_id, old.attempt, EpochRecord(epoch=1, loss=1.0))
        assert not queue.heartbeat(session, run_id, old.attempt).held
        assert not queue.finish_run(
            session,
            run_id,
            old.attempt,
            status=RunStatus.SUCCEEDED,
            stop_reason=StopReason.COMPLETED,
        )
    with database.begin() as session:
        assert record_epoch(session, run_id, new.attempt, EpochRecord(epoch=1, loss=1.0))


def test_live_heartbeat_is_not_requeued(database: Database) -> None:
    """A run whose worker heartbeats recently stays with that worker."""
    _enqueue(database, "a")
    assert _claim(database) is not None
    with database.begin() as session:
        assert queue.requeue_lost(session, timedelta(seconds=60)) == ([], [])


def test_run_out_of_attempts_fails_as_worker_lost(database: Database) -> None:
    """A lost run with no attempts left ends failed with the reason worker_lost."""
    with database.begin() as session:
        run_id = queue.enqueue(session, new_run("a", max_attempts=1))
    assert _claim(database) is not None
    _backdate_heartbeat(database, run_id, 600)
    with database.begin() as session:
        assert queue.requeue_lost(session, timedelta(seconds=60)) == ([], [run_id])
    with database.read() as session:
        run = get_run(session, run_id)
    assert run is not None and run.status is RunStatus.FAILED
    assert run.stop_reason is StopReason.WORKER_LOST
    assert _claim(database) is None


def test_finish_run_requires_final_status(database: Database) -> None:
    """finish_run refuses a non-final status."""
    (run_id,) = _enqueue(database, "a")
    claimed = _claim(database)
    assert claimed is not None
    with database.begin() as session, pytest.raises(ValueError, match="final status"):
        queue.finish_run(
            session, run_id, 1, status=RunStatus.RUNNING, stop_reason=StopReason.COMPLETED
        )


def test_release_returns_run_to_queue(database: Database) -> None:
    """A released run is queued again and the next claim is attempt 2."""
    (run_id,) = _enqueue(database, "a")
    claimed = _claim(database)
    assert claimed is not None
    with database.begin() as session:
        assert queue.release_run(session, run_id, claimed.attempt)
    again = _claim(database)
    assert again is not None and again.id == run_id and again.attempt == 2


def test_enqueue_many_is_all_or_nothing(database: Database) -> None:
    """A failure inside the transaction queues none of the batch."""
    with pytest.raises(RuntimeError), database.begin() as session:
        queue.enqueue_many(session, [new_run("a"), new_run("b")])
        raise RuntimeError("boom")
    assert _claim(database) is None


def test_rerun_queues_a_copy_of_a_finished_run(database: Database) -> None:
    """Re-running a finished run queues a new run with the same config; the old one stays."""
    (run_id,) = _enqueue(database, "a")
    with database.begin() as session:
        queue.cancel_run(session, run_id)
    with database.begin() as session:
        new_id = queue.rerun(session, run_id)
    assert new_id is not None and new_id != run_id
    with database.read() as session:
        old, new = get_run(session, run_id), get_run(session, new_id)
    assert old is not None and new is not None
    assert new.status is RunStatus.QUEUED and new.config == old.config
    assert old.status is RunStatus.CANCELLED


def test_rerun_refuses_a_run_still_queued(database: Database) -> None:
    """A queued run is not copied (it will run anyway)."""
    (run_id,) = _enqueue(database, "a")
    with database.begin() as session:
        assert queue.rerun(session, run_id) is None


def test_delete_removes_a_finished_run_but_not_a_running_one(database: Database) -> None:
    """Deleting works for finished runs, cascades to metrics, and refuses running runs."""
    first, second = _enqueue(database, "a", "b")
    claimed = _claim(database)
    assert claimed is not None and claimed.id == first
    with database.begin() as session:
        record_epoch(session, first, claimed.attempt, EpochRecord(epoch=1, loss=1.0))
    with database.begin() as session:
        assert not queue.delete_run(session, first)
        assert queue.delete_run(session, second)
    with database.begin() as session:
        queue.finish_run(
            session, first, claimed.attempt, status=RunStatus.FAILED, stop_reason=StopReason.FAILED
        )
    with database.begin() as session:
        assert queue.delete_run(session, first)
    with database.read() as session:
        assert get_run(session, first) is None and get_run(session, second) is None


def test_a_handed_back_run_whose_cancel_was_requested_ends_cancelled(database: Database) -> None:
    """A worker shutting down hands back a run the user cancelled: it ends cancelled, not queued."""
    (run_id,) = _enqueue(database, "a")
    claimed = _claim(database, "w1")
    assert claimed is not None
    with database.begin() as session:
        assert queue.cancel_run(session, run_id) is RunStatus.RUNNING
    with database.begin() as session:
        assert queue.release_run(session, run_id, claimed.attempt)
    with database.read() as session:
        run = get_run(session, run_id)
    assert run is not None and run.status is RunStatus.CANCELLED
    assert _claim(database, "w2") is None

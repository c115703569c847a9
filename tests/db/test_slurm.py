"""Slurm jobs and dispatchers in the database, on SQLite and PostgreSQL, and their migration."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text, update

from db import queue, workers
from db import slurm as jobs_db
from db.migrate import upgrade
from db.models import AttemptOutcome, Run, RunStatus, SlurmDispatcher, StopReason
from db.session import Database
from db.workers import list_attempts
from tests.databases import sqlite_url
from tests.db.factories import new_run, running_run


def _dispatcher(database: Database, name: str = "login1") -> int:
    with database.begin() as session:
        return jobs_db.register_dispatcher(
            session,
            name=name,
            host="login1",
            pid=123,
            template="/lab/worker.sbatch",
            partition="gpu",
            max_jobs=2,
        )


def _submit(database: Database, job_id: str, dispatcher_id: int | None = None) -> None:
    with database.begin() as session:
        jobs_db.record_submitted(session, job_id, dispatcher_id)


def _job(database: Database, job_id: str) -> jobs_db.SlurmJobRecord:
    with database.read() as session:
        found = [job for job in jobs_db.recent_jobs(session) if job.job_id == job_id]
    assert len(found) == 1
    return found[0]


def _claim_in_job(database: Database, job_id: str) -> tuple[int, int]:
    """A worker inside Slurm job `job_id` claims the next run, recording the job as it does."""
    with database.begin() as session:
        worker_id = workers.register_worker(session, "n1:7", "n1", 7, "CPU")
        claimed = queue.claim_next(session, "n1:7")
        assert claimed is not None
        jobs_db.record_claim(session, job_id, claimed.id, claimed.attempt, worker_id)
    return claimed.id, claimed.attempt


def test_a_submitted_job_is_pending_and_followed(database: Database) -> None:
    """record_submitted stores a PENDING job under its dispatcher, among the active jobs."""
    dispatcher_id = _dispatcher(database)
    _submit(database, "101", dispatcher_id)
    job = _job(database, "101")
    assert (job.state, job.dispatcher_id, job.run_id) == ("PENDING", dispatcher_id, None)
    assert job.active and job.submitted_at is not None and job.ended_how is None
    with database.read() as session:
        assert [j.job_id for j in jobs_db.active_jobs(session)] == ["101"]


@pytest.mark.parametrize("claim_first", [False, True], ids=["submit-first", "claim-first"])
def test_submission_and_claim_make_one_row_in_either_order(
    database: Database, claim_first: bool
) -> None:
    """The worker's claim and the dispatcher's record meet in one row whichever comes first."""
    with database.begin() as session:
        queue.enqueue(session, new_run("a"))
    dispatcher_id = _dispatcher(database)
    if not claim_first:
        _submit(database, "7", dispatcher_id)
    run_id, attempt = _claim_in_job(database, "7")
    if claim_first:
        _submit(database, "7", dispatcher_id)
    job = _job(database, "7")
    assert (job.run_id, job.attempt, job.state) == (run_id, attempt, "RUNNING")
    assert job.dispatcher_id == dispatcher_id and job.worker_id is not None
    assert job.started_at is not None
    with database.read() as session:
        assert [j.job_id for j in jobs_db.jobs_for_run(session, run_id)] == ["7"]
        assert jobs_db.jobs_for_workers(session, [job.worker_id])[job.worker_id].job_id == "7"


def test_update_job_stamps_start_and_end_once(database: Database) -> None:
    """RUNNING stamps started_at, a final state ended_at; an unchanged status writes nothing."""
    _submit(database, "5")
    with database.begin() as session:
        pending = jobs_db.update_job(session, "5", state="PENDING", reason="Priority")
        again = jobs_db.update_job(session, "5", state="PENDING", reason="Priority")
    assert pending is not None and pending.reason == "Priority" and again is None
    with database.begin() as session:
        running = jobs_db.update_job(session, "5", state="RUNNING", node="gpu01", log_path="/l/5")
    assert running is not None and running.started_at is not None and running.reason is None
    with database.begin() as session:
        ended = jobs_db.update_job(session, "5", state="TIMEOUT", exit_code="0:15")
    assert ended is not None and not ended.active
    assert (ended.node, ended.log_path) == ("gpu01", "/l/5")  # kept from when it ran
    assert ended.ended_how == "hit its time limit (exit 0:15)"
    with database.read() as session:
        assert jobs_db.active_jobs(session) == []


def test_long_slurm_text_is_cut_to_its_column(database: Database) -> None:
    """A node list longer than its column is stored cut, not refused (PostgreSQL would)."""
    _submit(database, "6")
    with database.begin() as session:
        record = jobs_db.update_job(session, "6", state="RUNNING", node="n" * 300)
    assert record is not None and record.node == "n" * 200


def test_a_requeued_slurm_job_is_followed_again(database: Database) -> None:
    """Slurm requeues a preempted job under its id: the next claim makes it active again."""
    with database.begin() as session:
        queue.enqueue_many(session, [new_run("a"), new_run("b")])
    _claim_in_job(database, "9")
    with database.begin() as session:
        jobs_db.update_job(session, "9", state="PREEMPTED")
    second_run, _ = _claim_in_job(database, "9")
    job = _job(database, "9")
    assert job.active and job.run_id == second_run and job.state == "RUNNING"


def test_demand_counts_queued_runs_and_waiting_jobs(database: Database) -> None:
    """Queued runs, active jobs, and the active ones without a run (newest first) are counted."""
    with database.begin() as session:
        queue.enqueue_many(session, [new_run(str(i)) for i in range(3)])
    for job_id in ("1", "2", "3"):
        _submit(database, job_id)
    _claim_in_job(database, "1")
    with database.begin() as session:
        jobs_db.update_job(session, "3", state="CANCELLED")
    with database.read() as session:
        demand = jobs_db.demand(session)
    assert demand.queued_runs == 2 and demand.active_jobs == 2
    assert [job.job_id for job in demand.waiting] == ["2"]


def test_requeue_ended_is_fenced_by_the_attempt(database: Database) -> None:
    """A run whose job ended goes back to the queue at once; a stale attempt changes nothing."""
    run_id, attempt = running_run(database)
    with database.begin() as session:
        assert queue.requeue_ended(session, run_id, attempt + 1, "job 4 ended") is None
        assert queue.requeue_ended(session, run_id, attempt, "Slurm job 4 preempted") == (
            RunStatus.QUEUED
        )
    with database.read() as session:
        attempts = list_attempts(session, [run_id])
        status = session.scalar(select(Run.status).where(Run.id == run_id))
    assert status is RunStatus.QUEUED
    assert [(a.outcome, a.detail) for a in attempts] == [
        (AttemptOutcome.LOST, "Slurm job 4 preempted")
    ]


def test_requeue_ended_without_attempts_left_fails_the_run(database: Database) -> None:
    """On its last attempt, a run whose job ended fails as "worker lost", naming the job."""
    run_id, attempt = running_run(database)
    with database.begin() as session:
        session.execute(update(Run).where(Run.id == run_id).values(max_attempts=1))
        assert queue.requeue_ended(session, run_id, attempt, "Slurm job 4 timed out") == (
            RunStatus.FAILED
        )
    with database.read() as session:
        run = session.get(Run, run_id)
        assert run is not None and run.stop_reason is StopReason.WORKER_LOST
        assert "Slurm job 4 timed out" in (run.stop_detail or "")


def test_a_restarted_dispatcher_reuses_its_row_and_keeps_its_error(database: Database) -> None:
    """Registering the same name again updates one row; an unresolved error stays visible."""
    first = _dispatcher(database)
    with database.begin() as session:
        assert jobs_db.record_dispatch_error(session, first, "sbatch failed: bad") == 1
        assert jobs_db.record_dispatch_error(session, first, "sbatch failed: bad") == 2
        jobs_db.stop_dispatcher(session, first)
    second = _dispatcher(database)
    with database.read() as session:
        [record] = jobs_db.list_dispatchers(session, timedelta(seconds=60))
    assert second == first
    assert record.alive and record.stopped_at is None
    assert (record.last_error, record.error_count) == ("sbatch failed: bad", 2)
    with database.begin() as session:
        jobs_db.clear_dispatch_error(session, first)
    with database.read() as session:
        [record] = jobs_db.list_dispatchers(session, timedelta(seconds=60))
    assert (record.last_error, record.error_count, record.error_since) == (None, 0, None)


def test_a_silent_dispatcher_is_not_alive(database: Database) -> None:
    """A dispatcher whose heartbeat is older than the grace shows as not alive."""
    dispatcher_id = _dispatcher(database)
    with database.begin() as session:
        beat = session.scalar(select(SlurmDispatcher.heartbeat_at))
        assert beat is not None
        session.execute(
            update(SlurmDispatcher)
            .where(SlurmDispatcher.id == dispatcher_id)
            .values(heartbeat_at=beat - timedelta(minutes=5))
        )
    with database.read() as session:
        [record] = jobs_db.list_dispatchers(session, timedelta(seconds=60))
    assert not record.alive


def test_recent_jobs_lists_active_ones_first(database: Database) -> None:
    """Active jobs come before ended ones, each group newest first."""
    for job_id in ("1", "2", "3"):
        _submit(database, job_id)
    with database.begin() as session:
        jobs_db.update_job(session, "3", state="COMPLETED")
        jobs_db.note_job(session, "3", "its run 5 was queued")
    with database.read() as session:
        jobs = jobs_db.recent_jobs(session)
    assert [job.job_id for job in jobs] == ["2", "1", "3"]
    assert jobs[-1].ended_how == "completed: its run 5 was queued"


def test_migration_keeps_existing_rows(tmp_path: Path) -> None:
    """A database at 0005 with runs and workers upgrades to 0009 with its rows intact."""
    database = Database(sqlite_url(tmp_path))
    upgrade(database.engine, "0005")
    with database.engine.begin() as connection:  # rows as 0005 wrote them (today's ORM is newer)
        connection.execute(
            text(
                "INSERT INTO runs (id, name, status, priority, config, tags, dataset, "
                "architecture, optimizer, learning_rate, batch_size, epochs, image_size, "
                "augmented, seed, attempt, max_attempts, cancel_requested, warnings, "
                "epochs_done) VALUES (1, 'before', 'queued', 0, '{}', '[]', 'd', 'report_cnn', "
                "'adam', 0.001, 16, 2, 112, false, 0, 0, 3, false, '[]', 0)"
            )
        )
        connection.execute(
            text("INSERT INTO workers (name, host, pid, device) VALUES ('old', 'host', 1, 'CPU')")
        )
    run_id = 1
    upgrade(database.engine)
    tables = set(inspect(database.engine).get_table_names())
    assert {"slurm_jobs", "slurm_dispatchers"} <= tables
    with database.read() as session:
        assert session.scalar(select(Run.name).where(Run.id == run_id)) == "before"
        assert session.execute(text("SELECT count(*) FROM workers")).scalar() == 1
    _submit(database, "1")
    assert _job(database, "1").state == "PENDING"
    database.dispose()

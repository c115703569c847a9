"""The dispatcher on a real one-node Slurm cluster, with real worker jobs training tiny runs.

Every test runs `python -m trainer slurm dispatch` as a process on a SQLite file (an absolute
path the jobs reach) or on PostgreSQL behind a TCP proxy. Jobs that must not start use a
template with `--begin=now+3600`, so they stay pending (reason BeginTime) and cost nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from db import queue
from db import slurm as jobs_db
from db.entities import RunRecord, SlurmDispatcherRecord, SlurmJobRecord
from db.migrate import upgrade
from db.models import AttemptOutcome, EpochMetric, RunStatus, Worker
from db.runs import get_run
from db.session import Database
from db.workers import list_attempts
from experiment.config import parse_config
from tests.databases import postgres_url_for_test
from tests.faultproxy import FaultProxy
from tests.trainer.slurm.cluster import SlurmCluster
from tests.trainer.slurm.helpers import (
    DispatcherProcess,
    make_template,
    pending_template,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.slurm]

TRAIN_SECONDS = 300  # TensorFlow's start-up per job, three waves of jobs, a busy 2-core box
SLURM_SECONDS = 30  # Slurm starting or cancelling a job, the dispatcher's next pass
# An epoch of the tiny sample at 40 steps lasts about a second here (see tests/trainer/test_crash).
SLOW_EPOCH_STEPS = 40


@pytest.fixture
def database(sqlite_database_url: str) -> Iterator[Database]:
    db = Database(sqlite_database_url)
    yield db
    db.dispose()


@pytest.fixture
def dispatcher(
    slurm: SlurmCluster, sqlite_database_url: str, tmp_path: Path
) -> Iterator[DispatcherProcess]:
    process = DispatcherProcess(slurm, sqlite_database_url, tmp_path)
    yield process
    process.kill()


def _enqueue(
    database: Database, count: int, dataset: Path | str = "unused", **fields: object
) -> list[int]:
    configs = [
        parse_config(
            {"name": f"slurm-{i}", "dataset": str(dataset), "image_size": 106, "batch_size": 8}
            | fields
        )
        for i in range(count)
    ]
    with database.begin() as session:
        return queue.enqueue_many(session, [config.to_new_run() for config in configs])


def _jobs(database: Database) -> list[SlurmJobRecord]:
    with database.read() as session:
        return sorted(jobs_db.recent_jobs(session, limit=1000), key=lambda job: job.id)


def _runs(database: Database, ids: list[int]) -> list[RunRecord]:
    with database.read() as session:
        return [run for run in (get_run(session, run_id) for run_id in ids) if run is not None]


def _dispatcher_row(database: Database) -> SlurmDispatcherRecord | None:
    with database.read() as session:
        rows = jobs_db.list_dispatchers(session, grace=timedelta(seconds=60))
    return rows[0] if rows else None


def _epochs(database: Database, run_id: int) -> list[tuple[int, int]]:
    with database.read() as session:
        rows = session.execute(
            select(EpochMetric.epoch, EpochMetric.attempt)
            .where(EpochMetric.run_id == run_id)
            .order_by(EpochMetric.epoch)
        ).all()
    return [(epoch, attempt) for epoch, attempt in rows]


class JobCounter(threading.Thread):
    """Counts the cluster's pending, running and completing jobs every 0.2 s."""

    def __init__(self, cluster: SlurmCluster) -> None:
        super().__init__(daemon=True)
        self.cluster = cluster
        self.halt = threading.Event()
        self.counts: list[int] = []

    def run(self) -> None:
        while not self.halt.wait(0.2):
            self.counts.append(len(self.cluster.job_ids()))


def test_six_runs_two_jobs_at_a_time(
    slurm: SlurmCluster, database: Database, dispatcher: DispatcherProcess, tiny_sample: Path
) -> None:
    """--max-jobs 2: never more than 2 jobs, 6 jobs for 6 runs, each run trained by one job."""
    ids = _enqueue(database, 6, tiny_sample, epochs=1)
    counter = JobCounter(slurm)
    counter.start()
    dispatcher.start(make_template(dispatcher.folder), "--max-jobs", "2")
    try:
        wait_for(
            lambda: [run.status for run in _runs(database, ids)],
            lambda statuses: all(status.is_final for status in statuses),
            "6 finished runs",
            TRAIN_SECONDS,
            dispatcher,
        )
        jobs = wait_for(
            lambda: _jobs(database),
            lambda jobs: not any(job.active for job in jobs),
            "every job seen ending",
            SLURM_SECONDS,
            dispatcher,
        )
    finally:
        counter.halt.set()
        counter.join()
    assert dispatcher.stop() == 0
    assert [run.status for run in _runs(database, ids)] == [RunStatus.SUCCEEDED] * 6
    assert max(counter.counts) == 2, counter.counts  # both slots used, never a third job
    assert len(jobs) == 6 and sorted(job.run_id or 0 for job in jobs) == ids
    assert {(job.state, job.exit_code, job.attempt) for job in jobs} == {("COMPLETED", "0:0", 1)}
    with database.read() as session:
        attempts = list_attempts(session, ids)
        worker_names = dict(session.execute(select(Worker.id, Worker.name)).all())
    assert [(a.run_id, a.outcome) for a in attempts] == [
        (run_id, AttemptOutcome.SUCCEEDED) for run_id in ids
    ]
    trained_by = {job.run_id: worker_names[job.worker_id] for job in jobs if job.worker_id}
    assert trained_by == {a.run_id: a.worker for a in attempts}
    for job in jobs:
        assert job.log_path and f"run {job.run_id} " in Path(job.log_path).read_text()


def test_a_scancelled_or_killed_job_leaves_its_run_to_the_next(
    slurm: SlurmCluster, database: Database, dispatcher: DispatcherProcess, tiny_sample: Path
) -> None:
    """scancel (SIGTERM) hands the run back; after SIGKILL the dispatcher requeues it when the
    job ends; the third job finishes it, every epoch written once, in order, resuming each time."""
    [run_id] = _enqueue(database, 1, tiny_sample, epochs=6, steps_per_epoch=SLOW_EPOCH_STEPS)
    # The default lease (90 s): the dispatcher requeues a killed job's run as soon as squeue
    # shows the job ended, and a short lease would take runs from live workers on a busy box.
    dispatcher.start(make_template(dispatcher.folder), "--max-jobs", "1")

    def job_with_an_epoch(attempt: int) -> SlurmJobRecord:
        wait_for(
            lambda: _epochs(database, run_id),
            lambda epochs: any(a == attempt for _, a in epochs),
            f"an epoch from attempt {attempt}",
            TRAIN_SECONDS / 2,
            dispatcher,
        )
        [job] = [job for job in _jobs(database) if job.attempt == attempt]
        return job

    first = job_with_an_epoch(1)
    slurm.run("scancel", first.job_id)  # what preemption does: SIGTERM, SIGKILL after KillWait
    second = job_with_an_epoch(2)
    # As a node failure or the OOM killer would: no signal the worker can handle.
    slurm.run("scancel", "--batch", "--signal=KILL", second.job_id)
    wait_for(
        lambda: _runs(database, [run_id])[0].status,
        lambda status: status.is_final,
        "the run finished",
        TRAIN_SECONDS,
        dispatcher,
    )
    jobs = wait_for(
        lambda: _jobs(database),
        lambda jobs: not any(job.active for job in jobs),
        "every job seen ending",
        SLURM_SECONDS,
        dispatcher,
    )
    assert dispatcher.stop() == 0
    assert _runs(database, [run_id])[0].status is RunStatus.SUCCEEDED, dispatcher.job_logs()
    epochs = _epochs(database, run_id)
    assert [epoch for epoch, _ in epochs] == list(range(1, 7))
    assert [attempt for _, attempt in epochs] == sorted(attempt for _, attempt in epochs)
    assert {attempt for _, attempt in epochs} == {1, 2, 3}
    with database.read() as session:
        outcomes = [(a.attempt, a.outcome) for a in list_attempts(session, [run_id])]
    assert outcomes == [
        (1, AttemptOutcome.HANDED_BACK),
        (2, AttemptOutcome.LOST),
        (3, AttemptOutcome.SUCCEEDED),
    ]
    assert [(job.attempt, job.state) for job in jobs] == [
        (1, "CANCELLED"),
        (2, "FAILED"),
        (3, "COMPLETED"),
    ]
    assert jobs[1].exit_code == "0:9" and f"its run {run_id} was queued" in (jobs[1].note or "")


def test_cancelling_queued_runs_cancels_their_pending_jobs(
    slurm: SlurmCluster, database: Database, dispatcher: DispatcherProcess
) -> None:
    """Three runs wait in three pending jobs; cancelling two runs in the lab scancels two jobs."""
    ids = _enqueue(database, 3)
    dispatcher.start(pending_template(dispatcher.folder), "--max-jobs", "5")
    wait_for(
        lambda: [(job.state, job.reason) for job in _jobs(database)],
        lambda jobs: jobs == [("PENDING", "BeginTime")] * 3,
        "three pending jobs with Slurm's reason",
        SLURM_SECONDS,
        dispatcher,
    )
    with database.begin() as session:
        for run_id in ids[:2]:
            assert queue.cancel_run(session, run_id) is RunStatus.CANCELLED
    jobs = wait_for(
        lambda: _jobs(database),
        lambda jobs: sorted(job.state for job in jobs) == ["CANCELLED", "CANCELLED", "PENDING"],
        "two cancelled jobs",
        SLURM_SECONDS,
        dispatcher,
    )
    assert dispatcher.stop() == 0
    assert len(slurm.job_ids("PENDING")) == 1
    cancelled = [job for job in jobs if job.state == "CANCELLED"]
    assert all("more pending jobs than queued runs" in (job.ended_how or "") for job in cancelled)
    assert max(job.id for job in jobs) not in {job.id for job in jobs if job.active}  # newest go


def test_a_restarted_dispatcher_follows_the_jobs_it_submitted(
    slurm: SlurmCluster, database: Database, dispatcher: DispatcherProcess
) -> None:
    """--once twice: the second pass finds the first one's pending jobs and submits nothing."""
    _enqueue(database, 2)
    template = pending_template(dispatcher.folder)
    first = dispatcher.once(template, "--max-jobs", "4")
    assert first.returncode == 0, first.stderr
    second = dispatcher.once(template, "--max-jobs", "4")
    assert second.returncode == 0, second.stderr
    assert len(_jobs(database)) == 2 and len(slurm.job_ids("PENDING")) == 2
    assert "submitted Slurm job" in first.stderr and "submitted" not in second.stderr


def test_a_bad_template_is_reported_once_and_the_dispatcher_keeps_going(
    slurm: SlurmCluster, database: Database, dispatcher: DispatcherProcess
) -> None:
    """sbatch's error is logged and stored once, not retried every pass; a fixed template is
    submitted at once."""
    _enqueue(database, 1)
    template = make_template(dispatcher.folder, add=["#SBATCH --no-such-option"])
    dispatcher.start(template)
    wait_for(
        lambda: _dispatcher_row(database),
        lambda row: row is not None and row.last_error is not None,
        "a stored sbatch error",
        SLURM_SECONDS,
        dispatcher,
    )
    time.sleep(4)  # at least two more passes (1 s, then 2 s apart)
    row = _dispatcher_row(database)
    assert row is not None and row.error_count == 1 and row.alive
    assert "unrecognized option '--no-such-option'" in (row.last_error or "")
    assert dispatcher.output().count("--no-such-option") == 1
    assert _jobs(database) == []

    template.write_text(pending_template(dispatcher.folder, "fixed.sbatch").read_text())
    wait_for(
        lambda: len(_jobs(database)),
        lambda count: count == 1,
        "a job from the fixed template",
        SLURM_SECONDS,
        dispatcher,
    )
    # The job's row lands first, then the dispatcher clears the error in its next write.
    wait_for(
        lambda: _dispatcher_row(database),
        lambda row: row is not None and row.last_error is None,
        "the error cleared",
        SLURM_SECONDS,
        dispatcher,
    )
    assert dispatcher.stop() == 0


def test_jobs_failing_before_their_claim_hold_submissions(
    slurm: SlurmCluster, database: Database, dispatcher: DispatcherProcess
) -> None:
    """Three jobs that die before claiming a run stop the submissions, with the reason stored."""
    _enqueue(database, 1)
    dispatcher.start(make_template(dispatcher.folder, command="exit 3"))
    row = wait_for(
        lambda: _dispatcher_row(database),
        lambda row: row is not None and row.last_error is not None,
        "submissions held",
        SLURM_SECONDS * 2,
        dispatcher,
    )
    assert row is not None and "3 jobs in a row failed before claiming a run" in row.last_error
    assert "exit 3:0" in row.last_error
    time.sleep(3)
    jobs = _jobs(database)
    assert [(job.state, job.exit_code) for job in jobs] == [("FAILED", "3:0")] * 3
    assert dispatcher.stop() == 0


@pytest.mark.postgres
def test_the_dispatcher_survives_a_database_outage(slurm: SlurmCluster, tmp_path: Path) -> None:
    """PostgreSQL unreachable for a while: reported once, no exit, and it submits again after."""
    with postgres_url_for_test() as url:
        database = Database(url)
        upgrade(database.engine)
        target = make_url(url)
        proxy = FaultProxy(target.host or "127.0.0.1", target.port or 5432)
        dispatcher = DispatcherProcess(slurm, proxy.url_for(url), tmp_path)
        try:
            _enqueue(database, 1)
            dispatcher.start(pending_template(tmp_path))
            wait_for(
                lambda: len(_jobs(database)), lambda n: n == 1, "a job", SLURM_SECONDS, dispatcher
            )
            proxy.refuse()
            _enqueue(database, 1)
            wait_for(
                dispatcher.output,
                lambda text: "database unavailable" in text,
                "the outage reported",
                SLURM_SECONDS,
                dispatcher,
            )
            time.sleep(3)  # a few failing passes
            assert dispatcher.alive() and len(_jobs(database)) == 1
            proxy.allow()
            wait_for(
                lambda: len(_jobs(database)),
                lambda n: n == 2,
                "the second job after the outage",
                SLURM_SECONDS,
                dispatcher,
            )
            assert dispatcher.stop() == 0
        finally:
            dispatcher.kill()
            proxy.close()
            database.dispose()
    output = dispatcher.output()
    assert output.count("database unavailable") == 1 and "database back after" in output

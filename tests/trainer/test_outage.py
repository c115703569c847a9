"""Workers that outlive the database: real worker processes talking to the real PostgreSQL
through a fault-injecting proxy (tests/faultproxy.py), and SQLite locked for longer than the
busy timeout.

Each scenario asserts the run's final state, epochs 1..N written exactly once, and the worker's
exit code; the worker's log shows it saw the fault (so the fault really happened).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from db import queue
from db.migrate import upgrade
from db.models import AttemptOutcome, RunStatus
from db.session import Database
from experiment.config import parse_config
from tests.databases import postgres_url_for_test
from tests.faultproxy import FaultProxy
from tests.trainer.processes import RunState, WorkerProcesses, run_state, wait_for

EPOCHS = 5
STEPS = 12  # per epoch: a fraction of a second each on this 2-core box
STARTUP_SECONDS = 120  # TensorFlow's import and the first epoch's tracing on a busy box
RUN_SECONDS = 180
LEASE_SECONDS = 5  # the smallest --lease-seconds the CLI allows


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with postgres_url_for_test() as url:
        database = Database(url)
        upgrade(database.engine)
        database.dispose()
        yield url


@pytest.fixture
def postgres(postgres_url: str) -> Iterator[Database]:
    """The test's own, direct connection: it sees what the workers managed to write."""
    database = Database(postgres_url)
    yield database
    database.dispose()


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[FaultProxy]:
    with FaultProxy.in_front_of(postgres_url) as proxy:
        yield proxy


@pytest.fixture
def workers(postgres_url: str, tmp_path: Path) -> Iterator[WorkerProcesses]:
    processes = WorkerProcesses(postgres_url, tmp_path)
    try:
        yield processes
    finally:
        processes.kill_all()


def _queue(database: Database, dataset: Path, **fields: object) -> int:
    config = {
        "name": "outage",
        "dataset": str(dataset),
        "image_size": 106,
        "batch_size": 8,
        "epochs": EPOCHS,
        "steps_per_epoch": STEPS,
        **fields,
    }
    with database.begin() as session:
        return queue.enqueue(session, parse_config(config).to_new_run())


def _has_an_epoch(state: RunState) -> bool:
    return state.committed >= 1


def _wait_for_log(workers: WorkerProcesses, name: str, line: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while line not in workers.log(name):
        if time.monotonic() > deadline:
            pytest.fail(f"worker {name} never logged {line!r}\n{workers.logs()}")
        time.sleep(0.1)


def _assert_succeeded_once(state: RunState, worker: str) -> None:
    assert state.run.status is RunStatus.SUCCEEDED, state
    assert state.epochs == [(epoch, 1) for epoch in range(1, EPOCHS + 1)]
    assert state.run.epochs_done == EPOCHS
    assert state.attempts == [(1, worker, AttemptOutcome.SUCCEEDED)]
    assert set(state.artifacts) == {"model"}  # the checkpoint went with the run's end


@pytest.mark.postgres
def test_the_proxy_refuses_cuts_and_triggers(proxy: FaultProxy, postgres_url: str) -> None:
    """The fixture itself: refused and cut connections fail, allowed ones work again."""
    engine = create_engine(proxy.url_for(postgres_url), pool_pre_ping=True)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
        proxy.refuse()
        with pytest.raises(OperationalError), engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        proxy.allow()
        proxy.cut_on(b"SELECT 4", b"2")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 3")).scalar() == 3
            with pytest.raises(OperationalError):
                connection.execute(text("SELECT 42"))
        assert proxy.fired.is_set() and proxy.refused == 1
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 5")).scalar() == 5
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.postgres
def test_a_five_second_outage_loses_and_repeats_nothing(
    workers: WorkerProcesses,
    proxy: FaultProxy,
    postgres: Database,
    postgres_url: str,
    tiny_sample: Path,
) -> None:
    """The database away for 5 s mid-run: training goes on, the backlog lands in order, exit 0."""
    run_id = _queue(postgres, tiny_sample)
    worker = workers.start("w", "--until-idle", url=proxy.url_for(postgres_url))
    wait_for(postgres, run_id, _has_an_epoch, "an epoch", workers, worker, STARTUP_SECONDS)
    proxy.refuse()
    time.sleep(5)
    during = run_state(postgres, run_id)
    proxy.allow()
    assert workers.exit_code(worker, RUN_SECONDS) == 0
    _assert_succeeded_once(run_state(postgres, run_id), "w")
    assert during.committed < EPOCHS and during.run.status is RunStatus.RUNNING
    log = workers.log("w")
    assert "database unreachable" in log and "database back after" in log, log


@pytest.mark.slow
@pytest.mark.postgres
def test_an_outage_longer_than_the_lease_hands_the_run_over_once(
    workers: WorkerProcesses,
    proxy: FaultProxy,
    postgres: Database,
    postgres_url: str,
    tiny_sample: Path,
) -> None:
    """Cut off past its lease, a worker finds its run taken over: it drops its buffered writes,
    and the new holder finishes the run; every epoch exactly once, both workers exit 0."""
    run_id = _queue(postgres, tiny_sample)
    first = workers.start("first", "--until-idle", url=proxy.url_for(postgres_url))
    wait_for(postgres, run_id, _has_an_epoch, "an epoch", workers, first, STARTUP_SECONDS)
    proxy.refuse()
    # The other worker reaches the database directly: to it, the first one fell silent.
    second = workers.start("second", "--lease-seconds", str(LEASE_SECONDS))
    wait_for(
        postgres,
        run_id,
        lambda state: state.run.attempt == 2,
        "a takeover",
        workers,
        second,
        STARTUP_SECONDS,
    )
    proxy.allow()
    assert workers.exit_code(first, RUN_SECONDS) == 0
    done = wait_for(
        postgres,
        run_id,
        lambda state: state.run.status.is_final,
        "the end of the run",
        workers,
        second,
        RUN_SECONDS,
    )
    second.terminate()
    assert workers.exit_code(second, 30) == 0
    assert done.run.status is RunStatus.SUCCEEDED and done.run.attempt == 2
    first_epochs = sum(1 for _, attempt in done.epochs if attempt == 1)
    assert first_epochs >= 1
    assert done.epochs == [
        (epoch, 1 if epoch <= first_epochs else 2) for epoch in range(1, EPOCHS + 1)
    ]
    assert done.attempts == [
        (1, "first", AttemptOutcome.LOST),
        (2, "second", AttemptOutcome.SUCCEEDED),
    ]
    log = workers.log("first")
    assert "its lease was taken over" in log and "dropped" in log, log


@pytest.mark.slow
@pytest.mark.postgres
def test_a_cut_mid_transaction_is_retried_and_an_idle_worker_waits(
    workers: WorkerProcesses,
    proxy: FaultProxy,
    postgres: Database,
    postgres_url: str,
    tiny_sample: Path,
) -> None:
    """A worker started while the database is down waits for it; an epoch's transaction cut
    between its fenced update and its insert is written again, once."""
    run_id = _queue(postgres, tiny_sample)
    proxy.refuse()
    worker = workers.start("w", "--until-idle", url=proxy.url_for(postgres_url))
    _wait_for_log(workers, "w", "database unreachable", STARTUP_SECONDS)
    assert worker.poll() is None
    proxy.cut_on(b"INSERT INTO epoch_metrics")
    proxy.allow()
    assert workers.exit_code(worker, RUN_SECONDS) == 0
    assert proxy.fired.is_set()
    _assert_succeeded_once(run_state(postgres, run_id), "w")


@pytest.mark.slow
@pytest.mark.postgres
def test_a_final_write_cut_after_its_commit_is_not_mistaken_for_a_lost_run(
    workers: WorkerProcesses,
    proxy: FaultProxy,
    postgres: Database,
    postgres_url: str,
    tiny_sample: Path,
) -> None:
    """The "succeeded" write commits but its answer is cut, then the database is away for 3 s:
    the worker retries, sees its write landed, and ends normally."""
    run_id = _queue(postgres, tiny_sample)
    proxy.cut_on(b"succeeded", b"COMMIT", forward=True, refuse_for=3.0)
    worker = workers.start("w", "--until-idle", url=proxy.url_for(postgres_url))
    assert workers.exit_code(worker, STARTUP_SECONDS + RUN_SECONDS) == 0
    assert proxy.fired.is_set()
    _assert_succeeded_once(run_state(postgres, run_id), "w")
    log = workers.log("w")
    assert "run 1: database unreachable" in log and "taken over" not in log, log


@pytest.mark.slow
def test_sqlite_locked_longer_than_the_busy_timeout(
    sqlite_database_url: str, tmp_path: Path, tiny_sample: Path
) -> None:
    """Another connection holds SQLite's write lock for 4 s (busy timeout 0.2 s): the worker
    keeps training, writes the backlog once the lock is gone, and exits 0."""
    database = Database(sqlite_database_url)
    workers = WorkerProcesses(sqlite_database_url, tmp_path)
    try:
        run_id = _queue(database, tiny_sample)
        worker = workers.start("w", "--until-idle", env={"LAB_SQLITE_BUSY_TIMEOUT": "0.2"})
        wait_for(database, run_id, _has_an_epoch, "an epoch", workers, worker, STARTUP_SECONDS)
        path = sqlite_database_url.removeprefix("sqlite:///")
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        time.sleep(4)
        holder.execute("COMMIT")
        holder.close()
        assert workers.exit_code(worker, RUN_SECONDS) == 0
        _assert_succeeded_once(run_state(database, run_id), "w")
        log = workers.log("w")
        assert "database is locked" in log and "database back after" in log, log
    finally:
        workers.kill_all()
        database.dispose()

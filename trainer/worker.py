"""The worker loop: recover lost runs, claim the next one, train it, repeat."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from db import queue, slurm, workers
from db.artifact_store import ArtifactStore, open_store
from db.entities import ClaimedRun
from db.migrate import check_schema
from db.models import RunStatus, StopReason
from db.session import Database
from experiment.config import ConfigError, parse_config
from settings import Settings
from trainer import search_hook
from trainer.link import RunLink, remove_stale_outboxes
from trainer.outage import Outage, is_transient
from trainer.reporting import RunReporter

if TYPE_CHECKING:
    from trainer.devices import Device
    from trainer.train import Outcome

log = logging.getLogger("trainer.worker")


@dataclass(frozen=True)
class WorkerOptions:
    """How one worker behaves; defaults suit a workstation.

    `lease_grace` is how long a run may go without a heartbeat before another worker takes it
    over; it is far longer than the heartbeat interval (2 s) and SQLite's busy timeout (30 s).
    While the database does not answer, the worker retries with back-off up to `retry_most`
    seconds apart; on shutdown it keeps trying to send a run's last writes for
    `shutdown_grace` seconds, after which the run's lease hands it to another worker.
    `max_runs` stops the worker after that many claims, however each ended (finished, handed
    back, lost), so a scheduler's job trains one run and exits. `slurm_job_id` is the Slurm
    job this worker runs in (`SLURM_JOB_ID`): each claim records it, for the dashboard and
    the dispatcher.
    """

    name: str = ""
    until_idle: bool = False
    gpu: int | None = None
    poll_min: float = 0.5
    poll_max: float = 2.0
    lease_grace: timedelta = timedelta(seconds=90)
    max_runs: int | None = None
    retry_most: float = 5.0
    shutdown_grace: float = 30.0
    slurm_job_id: str | None = None


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class ShutdownFlag:
    """Set by SIGTERM/SIGINT: the current run is handed back; a second signal exits at once."""

    def __init__(
        self, message: str = "finishing the current batch, then handing the run back"
    ) -> None:
        self._event = threading.Event()
        self._message = message

    def __call__(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        self._event.set()

    def wait(self, seconds: float) -> bool:
        return self._event.wait(seconds)

    def install(self) -> None:
        def handle(signum: int, _frame: FrameType | None) -> None:
            if self._event.is_set():
                os._exit(128 + signum)  # second signal: the lease recovers the run
            log.warning("signal %s: %s", signum, self._message)
            self._event.set()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)


def run_worker(
    settings: Settings, options: WorkerOptions, shutdown: ShutdownFlag | None = None
) -> int:
    """Process queued runs until stopped (or, with `until_idle`, until the queue is empty).

    Returns the number of runs this worker finished (in any final state). A database that
    does not answer never ends the worker: it waits, with back-off, at start, between runs and
    for a run's writes.
    """
    shutdown = shutdown or ShutdownFlag()
    database = Database(settings.database_url, busy_timeout=settings.sqlite_busy_timeout)
    name = options.name or default_worker_name()
    outage = Outage(log, f"worker {name}", most=options.retry_most)
    if not _retrying(outage, shutdown, lambda: _check_database(database)):
        return 0
    store = open_store(settings.artifacts, database)
    spool = settings.spool / "worker"
    spool.mkdir(parents=True, exist_ok=True)
    for folder in remove_stale_outboxes(spool):
        log.info("removed %s, left by a worker that was killed", folder)
    # Import TensorFlow only now: a bad URL or schema fails fast, without its start-up cost.
    from trainer.devices import setup_device

    device = setup_device(options.gpu)
    worker_id = _retrying(outage, shutdown, lambda: _register(database, name, device))
    if worker_id is None:
        return 0
    log.info("worker %s ready on %s; artifacts in %s", name, device.describe(), store.describe())
    try:
        return _work_loop(
            database,
            options,
            shutdown,
            device,
            name,
            worker_id,
            store=store,
            spool=spool,
            settings=settings,
        )
    finally:
        _stop_worker(database, worker_id)
        database.dispose()


T = TypeVar("T")


def _database_error(error: BaseException) -> bool:
    """Worth waiting out in the worker loop: the database was unreachable, or it refused a
    statement (a schema changed under running workers): the worker logs and tries again
    rather than exit. A schema that does not match at start is not: that exits with the fix."""
    return is_transient(error) or isinstance(error, SQLAlchemyError)


def _retrying(outage: Outage, shutdown: ShutdownFlag, call: Callable[[], T]) -> T | None:
    """`call()` until the database answers; None if the worker is told to stop first."""
    while not shutdown():
        try:
            result = call()
        except Exception as error:
            if not _database_error(error):
                raise
            shutdown.wait(outage.failed(error))
            continue
        outage.recovered()
        return result
    return None


def _check_database(database: Database) -> bool:
    database.check_connection()
    check_schema(database.engine)
    return True


def _register(database: Database, name: str, device: Device) -> int:
    with database.begin() as session:
        return workers.register_worker(
            session, name, socket.gethostname(), os.getpid(), device.describe()
        )


def _stop_worker(database: Database, worker_id: int) -> None:
    """Mark the worker stopped; if the database is away, its silence says the same later."""
    try:
        with database.begin() as session:
            workers.stop_worker(session, worker_id)
    except Exception as error:
        if not _database_error(error):
            raise
        log.warning("could not mark the worker stopped: database unreachable (%s)", error)


def _claim(
    database: Database, options: WorkerOptions, name: str, worker_id: int
) -> ClaimedRun | None:
    """Recover runs whose workers vanished, then claim the next queued run (or None)."""
    with database.begin() as session:
        requeued, failed = queue.requeue_lost(session, options.lease_grace)
    for run_id in requeued:
        log.warning("run %s lost its worker; requeued", run_id)
    for run_id in failed:
        log.warning("run %s lost its worker too often; marked failed", run_id)
    search_hook.runs_ended(database, failed)
    claimed = _claim_next(database, options, name, worker_id)
    # Nothing queued: a search with room left (its trials ended elsewhere) gets its next ones.
    if claimed is None and search_hook.top_up(database):
        claimed = _claim_next(database, options, name, worker_id)
    return claimed


def _claim_next(
    database: Database, options: WorkerOptions, name: str, worker_id: int
) -> ClaimedRun | None:
    with database.begin() as session:
        claimed = queue.claim_next(session, name)
        workers.beat_worker(session, worker_id, claimed.id if claimed else None)
        if claimed and options.slurm_job_id:  # the dispatcher and the pages follow the job
            job = options.slurm_job_id
            slurm.record_claim(session, job, claimed.id, claimed.attempt, worker_id)
    return claimed


def _work_loop(
    database: Database,
    options: WorkerOptions,
    shutdown: ShutdownFlag,
    device: Device,
    name: str,
    worker_id: int,
    *,
    store: ArtifactStore,
    spool: Path,
    settings: Settings | None = None,
) -> int:
    finished = claims = 0
    idle_wait = options.poll_min
    outage = Outage(log, f"worker {name}", most=options.retry_most)
    while not shutdown():
        try:
            claimed = _claim(database, options, name, worker_id)
        except Exception as error:
            if not _database_error(error):
                raise
            shutdown.wait(outage.failed(error))
            continue
        outage.recovered()
        if claimed is None:
            if options.until_idle:
                break
            # Back off while idle: an idle worker costs a query every few seconds at most.
            shutdown.wait(idle_wait)
            idle_wait = min(idle_wait * 2, options.poll_max)
            continue
        idle_wait = options.poll_min
        claims += 1
        if process_run(
            database,
            claimed,
            device,
            shutdown,
            worker_id,
            store=store,
            spool=spool,
            shutdown_grace=options.shutdown_grace,
            settings=settings,
        ):
            finished += 1
            if claimed.search_id is not None:  # its search queues its next trial (never raises)
                search_hook.runs_ended(database, [claimed.id])
        if options.max_runs is not None and claims >= options.max_runs:
            break
    return finished


def process_run(
    database: Database,
    claimed: ClaimedRun,
    device: Device,
    shutdown: ShutdownFlag,
    worker_id: int | None = None,
    *,
    store: ArtifactStore,
    spool: Path,
    shutdown_grace: float = 30.0,
    settings: Settings | None = None,
) -> bool:
    """Train one claimed run; any exception marks it failed. True if it reached a final state.

    The run's writes go through its link (trainer/link.py); the run is over once they are all
    in the database, which this waits for, however long the database is away (on shutdown,
    `shutdown_grace` seconds at most).
    """
    reporter = RunReporter(database, claimed.id, claimed.attempt, worker_id, store)
    log.info("run %s (%s) attempt %s started", claimed.id, claimed.name, claimed.attempt)
    started = time.monotonic()
    with RunLink.open(reporter, spool) as link:
        outcome = _train(link, claimed, device, shutdown, settings)
        settled = _settle(link, shutdown, shutdown_grace)
        unsent = len(link.outbox)
    seconds = time.monotonic() - started
    if not settled:
        if not link.lost:
            log.warning(
                "run %s: database unreachable at shutdown; %d write(s) not sent, its lease "
                "will requeue it from its last stored checkpoint",
                claimed.id,
                unsent,
            )
        return False
    if outcome.status is None:
        log.warning("run %s handed back or lost after %.1f s", claimed.id, seconds)
        return False
    log.info("run %s %s in %.1f s: %s", claimed.id, outcome.status.value, seconds, outcome.detail)
    return True


def _train(
    link: RunLink,
    claimed: ClaimedRun,
    device: Device,
    shutdown: ShutdownFlag,
    settings: Settings | None = None,
) -> Outcome:
    """Train, turning any exception into a failed run (a run's failure never ends the worker)."""
    import keras

    from trainer.train import Outcome, train

    try:
        config = parse_config(claimed.config, source=f"run {claimed.id}")
        return train(
            config,
            link,
            device,
            shutdown=shutdown,
            fresh_start=claimed.attempt == 1,
            settings=settings,
            judge=search_hook.judge_for(link.reporter.database, claimed),
        )
    except ConfigError as error:  # also a builder or weights file the worker could not use
        log.error("run %s: invalid config: %s", claimed.id, error)
        detail = f"invalid config: {error}"[:500]
        link.finish(RunStatus.FAILED, StopReason.FAILED, detail, str(error))
        return Outcome(RunStatus.FAILED, StopReason.FAILED, detail)
    except Exception as error:
        log.error("run %s failed: %s", claimed.id, error)
        detail = f"{type(error).__name__}: {error}"[:500]
        link.finish(RunStatus.FAILED, StopReason.FAILED, detail, traceback.format_exc())
        return Outcome(RunStatus.FAILED, StopReason.FAILED, detail)
    finally:
        keras.backend.clear_session()


def _settle(link: RunLink, shutdown: ShutdownFlag, grace: float) -> bool:
    """Wait for the run's writes; True once all landed, False if lost or out of grace."""
    deadline: float | None = None
    while not link.settle(timeout=1.0):
        if link.lost:
            return False
        if shutdown():
            deadline = deadline if deadline is not None else time.monotonic() + grace
            if time.monotonic() >= deadline:
                return False
    return True

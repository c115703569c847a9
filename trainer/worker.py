"""The worker loop: recover lost runs, claim the next one, train it, repeat."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import traceback
from dataclasses import dataclass
from datetime import timedelta
from types import FrameType
from typing import TYPE_CHECKING

from db import queue, workers
from db.entities import ClaimedRun
from db.migrate import check_schema
from db.models import RunStatus, StopReason
from db.session import Database
from experiment.config import ConfigError, parse_config
from settings import Settings
from trainer.reporting import RunReporter

if TYPE_CHECKING:
    from trainer.devices import Device

log = logging.getLogger("trainer.worker")


@dataclass(frozen=True)
class WorkerOptions:
    """How one worker behaves; defaults suit a workstation.

    `lease_grace` is how long a run may go without a heartbeat before another worker takes it
    over; it is far longer than the heartbeat interval (2 s) and SQLite's busy timeout (30 s).
    """

    name: str = ""
    until_idle: bool = False
    gpu: int | None = None
    poll_min: float = 0.5
    poll_max: float = 2.0
    lease_grace: timedelta = timedelta(seconds=90)
    max_runs: int | None = None


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class ShutdownFlag:
    """Set by SIGTERM/SIGINT: the current run is handed back; a second signal exits at once."""

    def __init__(self) -> None:
        self._event = threading.Event()

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
            log.warning("signal %s: finishing the current batch, then handing the run back", signum)
            self._event.set()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)


def run_worker(
    settings: Settings, options: WorkerOptions, shutdown: ShutdownFlag | None = None
) -> int:
    """Process queued runs until stopped (or, with `until_idle`, until the queue is empty).

    Returns the number of runs this worker finished (in any final state).
    """
    shutdown = shutdown or ShutdownFlag()
    database = Database(settings.database_url)
    database.check_connection()
    check_schema(database.engine)
    # Import TensorFlow only now: a bad URL or schema fails fast, without its start-up cost.
    from trainer.devices import setup_device

    device = setup_device(options.gpu)
    name = options.name or default_worker_name()
    with database.begin() as session:
        worker_id = workers.register_worker(
            session, name, socket.gethostname(), os.getpid(), device.describe()
        )
    log.info("worker %s ready on %s", name, device.describe())
    try:
        return _work_loop(database, options, shutdown, device, name, worker_id)
    finally:
        with database.begin() as session:
            workers.stop_worker(session, worker_id)
        database.dispose()


def _work_loop(
    database: Database,
    options: WorkerOptions,
    shutdown: ShutdownFlag,
    device: Device,
    name: str,
    worker_id: int,
) -> int:
    finished = 0
    idle_wait = options.poll_min
    while not shutdown():
        with database.begin() as session:
            requeued, failed = queue.requeue_lost(session, options.lease_grace)
        for run_id in requeued:
            log.warning("run %s lost its worker; requeued", run_id)
        for run_id in failed:
            log.warning("run %s lost its worker too often; marked failed", run_id)
        with database.begin() as session:
            claimed = queue.claim_next(session, name)
            workers.beat_worker(session, worker_id, claimed.id if claimed else None)
        if claimed is None:
            if options.until_idle:
                break
            # Back off while idle: an idle worker costs a query every few seconds at most.
            shutdown.wait(idle_wait)
            idle_wait = min(idle_wait * 2, options.poll_max)
            continue
        idle_wait = options.poll_min
        if process_run(database, claimed, device, shutdown, worker_id):
            finished += 1
        if options.max_runs is not None and finished >= options.max_runs:
            break
    return finished


def process_run(
    database: Database,
    claimed: ClaimedRun,
    device: Device,
    shutdown: ShutdownFlag,
    worker_id: int | None = None,
) -> bool:
    """Train one claimed run; any exception marks it failed. True if it reached a final state."""
    import keras

    from trainer.train import train

    reporter = RunReporter(database, claimed.id, claimed.attempt, worker_id)
    log.info("run %s (%s) attempt %s started", claimed.id, claimed.name, claimed.attempt)
    started = time.monotonic()
    try:
        config = parse_config(claimed.config, source=f"run {claimed.id}")
        outcome = train(
            config, reporter, device, shutdown=shutdown, fresh_start=claimed.attempt == 1
        )
    except ConfigError as error:  # also a builder or weights file the worker could not use
        log.error("run %s: invalid config: %s", claimed.id, error)
        detail = f"invalid config: {error}"[:500]
        reporter.finish(RunStatus.FAILED, StopReason.FAILED, detail, str(error))
        return True
    except Exception as error:  # a run's failure must never take the worker down
        log.error("run %s failed: %s", claimed.id, error)
        detail = f"{type(error).__name__}: {error}"[:500]
        reporter.finish(RunStatus.FAILED, StopReason.FAILED, detail, traceback.format_exc())
        return True
    finally:
        keras.backend.clear_session()
    seconds = time.monotonic() - started
    if outcome.status is None:
        log.warning("run %s handed back or lost after %.1f s", claimed.id, seconds)
        return False
    log.info("run %s %s in %.1f s: %s", claimed.id, outcome.status.value, seconds, outcome.detail)
    return True

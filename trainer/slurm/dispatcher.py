"""The Slurm dispatcher: keep up to N worker jobs pending or running for the queued runs.

One loop like the worker's: each pass reads what Slurm says of the jobs the database follows,
recovers the run of a job that ended while training it, cancels pending jobs no queued run
needs, submits the jobs that are missing, and then waits, longer while nothing changes. The
database stays the single source of truth: Slurm decides where and when a worker runs, the
queue decides what it trains. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from db import queue
from db import slurm as jobs_db
from db.entities import SlurmJobRecord
from db.session import Database, parse_url
from settings import PROJECT_ROOT, Settings
from trainer.slurm.commands import JobStatus, Slurm, SlurmError
from trainer.worker import ShutdownFlag

log = logging.getLogger("trainer.slurm")

DEFAULT_TEMPLATE = Path(__file__).resolve().with_name("worker.sbatch")
# The database errors a pass survives (server restarting, network gone, SQLite busy for long):
# the pass is dropped and tried again, as a worker would.
TRANSIENT_DATABASE_ERRORS = (OperationalError, InterfaceError)
# Ended before claiming a run because the worker itself failed (not cancelled, not idle).
_FAILED_STATES = frozenset({"FAILED", "OUT_OF_MEMORY"})


@dataclass(frozen=True)
class DispatchOptions:
    """How the dispatcher behaves; defaults suit a login node.

    `poll_min`..`poll_max` is the wait between passes: short after a change, doubling while
    nothing changes (each pass is one `squeue` call, which Slurm asks programs to keep rare).
    After a refused submission it waits `retry_min` (doubling to `retry_max`) before trying
    again, or less if the template file changes.
    """

    template: Path = DEFAULT_TEMPLATE
    max_jobs: int = 4
    partition: str | None = None
    once: bool = False
    name: str = ""
    log_dir: Path = Path("var/slurm")
    lease_grace: timedelta = timedelta(seconds=90)
    poll_min: float = 1.0
    poll_max: float = 30.0
    retry_min: float = 60.0
    retry_max: float = 600.0
    failed_jobs_limit: int = 3

    def sbatch_options(self) -> list[str]:
        return [f"--partition={self.partition}"] if self.partition else []


def job_environment(settings: Settings, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment sbatch hands to each job: ours, plus what the template needs.

    A relative SQLite path would be read from the job's folder, so the URL is made absolute.
    """
    url = parse_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        url = url.set(database=str(Path(url.database).expanduser().resolve()))
    return {
        **environ,
        "DATABASE_URL": url.render_as_string(hide_password=False),
        "LAB_ROOT": str(PROJECT_ROOT),
        "LAB_PYTHON": sys.executable,
        "LAB_VAR_DIR": str(settings.var_dir),
    }


def jobs_to_submit(demand: jobs_db.Demand, max_jobs: int) -> int:
    """One job per queued run that no waiting job will take, within `max_jobs` active jobs."""
    return max(0, min(demand.queued_runs - len(demand.waiting), max_jobs - demand.active_jobs))


def surplus_jobs(demand: jobs_db.Demand) -> list[SlurmJobRecord]:
    """Pending jobs beyond the queued runs (a run was cancelled, or another worker took it).

    Newest first, and only pending ones: a running job may be claiming a run this instant;
    with nothing to claim it exits by itself.
    """
    extra = len(demand.waiting) - demand.queued_runs
    pending = [job for job in demand.waiting if job.state == jobs_db.PENDING]
    return pending[: max(0, extra)]


class SubmitGate:
    """Holds submissions back after a failure until the template changes or a back-off passes.

    This is what keeps a bad template from becoming a loop of failing sbatch calls.
    """

    def __init__(
        self, retry_min: float, retry_max: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.retry_min, self.retry_max, self.clock = retry_min, retry_max, clock
        self.failures = 0
        self.retry_at = 0.0
        self.template_digest: str | None = None

    def allows(self, template_digest: str) -> bool:
        if self.failures == 0 or template_digest != self.template_digest:
            return True
        return self.clock() >= self.retry_at

    def failed(self, template_digest: str) -> float:
        """Note a failure; returns the seconds until the next try with the same template."""
        self.failures += 1
        delay = min(self.retry_min * 2 ** (self.failures - 1), self.retry_max)
        self.retry_at = self.clock() + delay
        self.template_digest = template_digest
        return delay

    def succeeded(self) -> None:
        self.failures = 0


class Dispatcher:
    """One dispatcher's state between passes: its row, its submission gate, its counters.

    `error` is what holds submissions back (sbatch refused the template, or jobs keep dying
    before they claim a run); `error_cause` says which success clears it.
    """

    def __init__(
        self,
        database: Database,
        slurm: Slurm,
        options: DispatchOptions,
        job_environ: Mapping[str, str],
        dispatcher_id: int,
    ) -> None:
        self.database = database
        self.slurm = slurm
        self.options = options
        self.job_environ = dict(job_environ)
        self.dispatcher_id = dispatcher_id
        self.gate = SubmitGate(options.retry_min, options.retry_max)
        self.error: str | None = None
        self.error_cause: str | None = None
        self.failed_in_a_row: list[SlurmJobRecord] = []
        self.unrecorded: list[str] = []  # submitted while the database was away

    def step(self) -> bool:
        """One pass: follow, recover, cancel, submit. True if anything changed."""
        self._record_unrecorded()
        changed = self._follow_jobs()
        changed |= self._recover_lost_runs()
        changed |= self._balance()
        with self.database.begin() as session:
            jobs_db.beat_dispatcher(session, self.dispatcher_id)
        return changed

    # --- following the jobs ---------------------------------------------------------------

    def _follow_jobs(self) -> bool:
        with self.database.read() as session:
            active = jobs_db.active_jobs(session)
        if not active:
            return False
        statuses = self.slurm.statuses([job.job_id for job in active])
        changes = []
        with self.database.begin() as session:
            for job in active:
                record = self._store_status(session, job.job_id, statuses)
                if record is None:
                    continue
                changes.append(record)
                log.info("Slurm job %s: %s", record.job_id, _describe(record))
                if not record.active:
                    self._job_ended(session, record)
        if any(job.run_id is not None for job in active):
            self.failed_in_a_row.clear()  # a worker got as far as claiming a run
            self._resolved("jobs")
        elif len(self.failed_in_a_row) >= self.options.failed_jobs_limit:
            self._hold_for_failed_jobs()
        return bool(changes)

    @staticmethod
    def _store_status(
        session: Session, job_id: str, statuses: Mapping[str, JobStatus]
    ) -> SlurmJobRecord | None:
        status = statuses.get(job_id)
        if status is None:
            note = "Slurm no longer lists it (it ended over MinJobAge ago)"
            return jobs_db.update_job(session, job_id, state="UNKNOWN", note=note)
        return jobs_db.update_job(
            session,
            job_id,
            state=status.state,
            reason=status.reason,
            node=status.node,
            log_path=status.log_path,
            exit_code=status.exit_code,
        )

    def _job_ended(self, session: Session, job: SlurmJobRecord) -> None:
        if job.run_id is not None and job.attempt is not None:
            # Its worker is gone for sure: requeue the run now instead of after the lease.
            detail = f"Slurm job {job.job_id} {job.ended_how}"
            status = queue.requeue_ended(session, job.run_id, job.attempt, detail)
            if status is not None:
                log.warning("run %s was still running in it: now %s", job.run_id, status.value)
                jobs_db.note_job(session, job.job_id, f"its run {job.run_id} was {status.value}")
        elif job.state in _FAILED_STATES:
            self.failed_in_a_row.append(job)

    def _hold_for_failed_jobs(self) -> None:
        """Jobs die before claiming a run (the worker cannot start there): stop feeding them."""
        last = self.failed_in_a_row[-1]
        folder = Path(last.log_path).parent if last.log_path else self.options.log_dir
        self._hold(
            "jobs",
            f"{len(self.failed_in_a_row)} jobs in a row failed before claiming a run "
            f"(exit {last.exit_code}); see their logs in {folder}",
        )
        self.failed_in_a_row.clear()

    def _recover_lost_runs(self) -> bool:
        """Requeue runs whose worker stopped heartbeating, Slurm or not: nobody else may be
        left to do it, and a lost run is not queued, so no job would be submitted for it."""
        with self.database.begin() as session:
            requeued, failed = queue.requeue_lost(session, self.options.lease_grace)
        for run_id in requeued:
            log.warning("run %s lost its worker; requeued", run_id)
        for run_id in failed:
            log.warning("run %s lost its worker too often; marked failed", run_id)
        return bool(requeued or failed)

    # --- cancelling and submitting --------------------------------------------------------

    def _balance(self) -> bool:
        with self.database.read() as session:
            demand = jobs_db.demand(session)
        surplus = surplus_jobs(demand)
        if surplus:
            self._cancel(surplus)
            return True
        count = jobs_to_submit(demand, self.options.max_jobs)
        if count == 0 or not self.gate.allows(self._template_digest()):
            return False
        for _ in range(count):
            try:
                job_id = self.slurm.submit(
                    self.options.template,
                    options=self.options.sbatch_options(),
                    cwd=self.options.log_dir,
                    environ=self.job_environ,
                )
            except SlurmError as error:
                self._hold("sbatch", str(error))
                return True
            log.info("submitted Slurm job %s", job_id)
            self.unrecorded.append(job_id)
            self._record_unrecorded()
        self._resolved("sbatch")
        return True

    def _cancel(self, surplus: list[SlurmJobRecord]) -> None:
        ids = [job.job_id for job in surplus]
        self.slurm.cancel(ids)
        log.info("cancelled pending Slurm job(s) %s: more jobs than queued runs", ", ".join(ids))
        with self.database.begin() as session:
            for job_id in ids:
                note = "cancelled by the dispatcher: more pending jobs than queued runs"
                jobs_db.note_job(session, job_id, note)

    def _record_unrecorded(self) -> None:
        if not self.unrecorded:
            return
        with self.database.begin() as session:
            for job_id in self.unrecorded:
                jobs_db.record_submitted(session, job_id, self.dispatcher_id)
        self.unrecorded.clear()

    def _template_digest(self) -> str:
        try:
            return hashlib.sha256(self.options.template.read_bytes()).hexdigest()
        except OSError:
            return ""  # sbatch itself will say what is wrong with the file

    # --- holding submissions back ---------------------------------------------------------

    def _hold(self, cause: str, message: str) -> None:
        """Report a failure once (log and database), then wait for a fix or the back-off."""
        delay = self.gate.failed(self._template_digest())
        with self.database.begin() as session:
            jobs_db.record_dispatch_error(session, self.dispatcher_id, message)
        if message != self.error:
            log.error(
                "%s; submitting again when %s changes, or in %.0f s",
                message,
                self.options.template,
                delay,
            )
        self.error, self.error_cause = message, cause

    def _resolved(self, cause: str) -> None:
        """What held submissions back works again: clear the stored error and the back-off."""
        if self.error_cause != cause:
            return
        log.info("resolved: %s", self.error)
        with self.database.begin() as session:
            jobs_db.clear_dispatch_error(session, self.dispatcher_id)
        self.error = self.error_cause = None
        self.gate.succeeded()


def _describe(job: SlurmJobRecord) -> str:
    if job.active:
        where = f" on {job.node}" if job.node and job.state != jobs_db.PENDING else ""
        why = f" ({job.reason})" if job.reason else ""
        return f"{job.state.lower()}{where}{why}"
    return f"ended: {job.ended_how}"


class Trouble:
    """Logs a failing dependency (the database, Slurm) once, and once more when it is back."""

    def __init__(self) -> None:
        self.since: dict[str, float] = {}

    def failed(self, what: str, error: Exception) -> None:
        if what not in self.since:
            self.since[what] = time.monotonic()
            first = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
            log.error("%s unavailable, retrying: %s", what, first[:300])

    def recovered(self) -> None:
        for what, since in self.since.items():
            log.warning("%s back after %.0f s", what, time.monotonic() - since)
        self.since.clear()


def register(database: Database, options: DispatchOptions) -> int:
    with database.begin() as session:
        return jobs_db.register_dispatcher(
            session,
            name=options.name or socket.gethostname(),
            host=socket.gethostname(),
            pid=os.getpid(),
            template=str(options.template),
            partition=options.partition,
            max_jobs=options.max_jobs,
        )


def run_dispatcher(
    database: Database,
    slurm: Slurm,
    options: DispatchOptions,
    job_environ: Mapping[str, str],
    shutdown: ShutdownFlag | None = None,
) -> int:
    """Dispatch until stopped (or one pass with `once`). Returns the exit status.

    Survives the database or Slurm going away: the pass is dropped, reported once, and
    retried with the idle back-off. `once` returns 1 if its pass failed or sbatch refused.
    """
    shutdown = shutdown or ShutdownFlag("stopping; the submitted jobs keep running")
    options.log_dir.mkdir(parents=True, exist_ok=True)
    dispatcher = Dispatcher(database, slurm, options, job_environ, register(database, options))
    trouble = Trouble()
    wait = options.poll_min
    try:
        while not shutdown():
            try:
                changed = dispatcher.step()
                trouble.recovered()
            except TRANSIENT_DATABASE_ERRORS as error:
                trouble.failed("database", error)
                changed = False
            except SlurmError as error:
                trouble.failed("Slurm", error)
                changed = False
            if options.once:
                return 1 if trouble.since or dispatcher.error else 0
            wait = options.poll_min if changed else min(wait * 2, options.poll_max)
            shutdown.wait(wait)
        return 0
    finally:
        _stop(database, dispatcher.dispatcher_id)


def _stop(database: Database, dispatcher_id: int) -> None:
    try:
        with database.begin() as session:
            jobs_db.stop_dispatcher(session, dispatcher_id)
    except TRANSIENT_DATABASE_ERRORS:
        log.warning("could not record this dispatcher's stop: the database is unavailable")
    database.dispose()

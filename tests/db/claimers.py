"""The exactly-once harness: claiming processes, and the audit of what they did.

`drain` runs in a spawned child process (this module is importable for spawn): it claims a run,
records its epochs and finishes it, each step in its own short transaction, until the queue is
empty, and reports what it did. `ClaimerPool` runs it in several processes at once; `audit`
checks their reports and the database against the exactly-once promise.
`racy_claim` is the SELECT-then-UPDATE claim the queue must never use; the tests run the same
harness with it to prove the audit catches a run executed twice.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue as stdlib_queue
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

from sqlalchemy import func, select, update

from db import queue
from db.clock import now_expr
from db.entities import ClaimedRun, EpochRecord
from db.metrics import record_epoch
from db.models import AttemptOutcome, EpochMetric, Run, RunAttempt, RunStatus, StopReason
from db.session import Database

Claim = Callable[[Database, str], ClaimedRun | None]

# The pause between the racy claim's read and its write: the window every two-step claim has,
# widened so the race shows up in a test-sized run.
RACE_WINDOW_SECONDS = 0.003
MAX_ERRORS = 5
START_TIMEOUT_SECONDS = 120


def guarded_claim(database: Database, worker: str) -> ClaimedRun | None:
    """The queue's own claim: one guarded UPDATE ... RETURNING in one short transaction."""
    with database.begin() as session:
        return queue.claim_next(session, worker)


def racy_claim(database: Database, worker: str) -> ClaimedRun | None:
    """A deliberately broken claim: read the next id, then take it unguarded in a second step."""
    with database.read() as session:
        run_id = session.scalar(
            select(Run.id)
            .where(Run.status == RunStatus.QUEUED)
            .order_by(*queue.CLAIM_ORDER)
            .limit(1)
        )
    if run_id is None:
        return None
    time.sleep(RACE_WINDOW_SECONDS)
    with database.begin() as session:
        now = now_expr(database.dialect)
        row = session.execute(
            update(Run)
            .where(Run.id == run_id)  # no `status = 'queued'` re-check: that is the bug
            .values(
                status=RunStatus.RUNNING,
                attempt=Run.attempt + 1,
                worker=worker,
                started_at=now,
                heartbeat_at=now,
            )
            .returning(Run.id, Run.attempt, Run.name, Run.config)
            .execution_options(synchronize_session=False)
        ).one()
        session.add(
            RunAttempt(
                run_id=row.id,
                attempt=row.attempt,
                worker=worker,
                started_at=now,
                outcome=AttemptOutcome.RUNNING,
            )
        )
    return ClaimedRun(id=row.id, attempt=row.attempt, name=row.name, config=dict(row.config))


@dataclass
class Report:
    """What one claiming process did; `fenced` lists runs whose fenced write was refused."""

    worker: str
    claimed: list[int] = field(default_factory=list)
    finished: list[int] = field(default_factory=list)
    fenced: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _execute(database: Database, claimed: ClaimedRun, epochs: int) -> bool:
    """Record the run's epochs and finish it, each in its own transaction; False if fenced."""
    for epoch in range(1, epochs + 1):
        record = EpochRecord(epoch=epoch, loss=1.0 / epoch, val_accuracy=0.1 * epoch)
        with database.begin() as session:
            if not record_epoch(session, claimed.id, claimed.attempt, record):
                return False
    with database.begin() as session:
        return queue.finish_run(
            session,
            claimed.id,
            claimed.attempt,
            status=RunStatus.SUCCEEDED,
            stop_reason=StopReason.COMPLETED,
        )


def drain(url: str, worker: str, claim: Claim, epochs: int, start: Barrier) -> Report:
    """Claim, execute and finish runs until the queue is empty; report what was done.

    All processes start claiming together at `start`, so they contend from the first claim.
    Exceptions are reported (the parent fails the test on any); the loop goes on after one so
    a racy claim keeps racing, and gives up after MAX_ERRORS.
    """
    report = Report(worker)
    database = Database(url)
    try:
        database.check_connection()
        start.wait(timeout=START_TIMEOUT_SECONDS)
        while len(report.errors) < MAX_ERRORS:
            try:
                claimed = claim(database, worker)
                if claimed is None:
                    break
                report.claimed.append(claimed.id)
                if _execute(database, claimed, epochs):
                    report.finished.append(claimed.id)
                else:
                    report.fenced.append(claimed.id)
            except Exception as error:  # reported to the parent, which fails the test
                report.errors.append(f"{type(error).__name__}: {error}"[:300])
    except Exception as error:
        report.errors.append(f"{type(error).__name__}: {error}"[:300])
    finally:
        database.dispose()
    return report


def serve(start: Barrier, tasks: Queue, results: Queue) -> None:
    """A claiming process: one `drain` per task from `tasks`, until it receives None."""
    while (task := tasks.get()) is not None:
        url, worker, claim, epochs = task
        results.put(drain(url, worker, claim, epochs, start))


class ClaimerPool:
    """Spawned claiming processes, started once and reused: an interpreter start costs ~1 s.

    Each `run` hands every process one task; a process blocks at the shared barrier until all
    have theirs, so no process can take two.
    """

    def __init__(self, size: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.size = size
        self.tasks = context.Queue()
        self.results = context.Queue()
        # Kept on self: a spawned child opens the barrier's semaphore after start() returns.
        self.start = context.Barrier(size)
        self.processes = [
            context.Process(target=serve, args=(self.start, self.tasks, self.results), daemon=True)
            for _ in range(size)
        ]
        for process in self.processes:
            process.start()

    def run(self, url: str, claim: Claim, epochs: int, timeout: float) -> list[Report]:
        """Drain the queue at `url` with every process at once; their reports, or an error."""
        for i in range(self.size):
            self.tasks.put((url, f"w{i}", claim, epochs))
        reports: list[Report] = []
        deadline = time.monotonic() + timeout
        while len(reports) < self.size:
            with contextlib.suppress(stdlib_queue.Empty):  # none this second: check liveness
                reports.append(self.results.get(timeout=1))
                continue
            dead = sum(not process.is_alive() for process in self.processes)
            if dead or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(
                    f"{len(reports)} of {self.size} claimers reported within {timeout} s; "
                    f"{dead} died"
                )
        return reports

    def close(self) -> None:
        """Stop the processes: politely, then by force after a bounded wait."""
        for process in self.processes:
            if process.is_alive():
                self.tasks.put(None)
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join(timeout=10)


@dataclass(frozen=True)
class Audit:
    """Every way a harness run broke the exactly-once promise (all empty when it kept it)."""

    errors: list[str]
    claimed_twice: dict[int, int]  # run id -> times claimed, for runs claimed more than once
    problems: list[str]  # everything else: lost runs, refused writes, wrong rows

    @property
    def ok(self) -> bool:
        return not (self.errors or self.claimed_twice or self.problems)


def audit(
    database: Database, reports: Sequence[Report], run_ids: Sequence[int], epochs: int
) -> Audit:
    """Check the processes' reports and the database: each run executed once, by one attempt."""
    errors = [f"{r.worker}: {e}" for r in reports for e in r.errors]
    claims = Counter(run_id for r in reports for run_id in r.claimed)
    finishes = Counter(run_id for r in reports for run_id in r.finished)
    problems = [f"run {i}: a fenced write was refused" for r in reports for i in r.fenced]
    with database.read() as session:
        runs = {row.id: row for row in session.execute(select(Run.id, Run.status, Run.attempt))}
        attempt_rows = dict(
            session.execute(select(RunAttempt.run_id, func.count()).group_by(RunAttempt.run_id))
            .tuples()
            .all()
        )
        epoch_rows: dict[int, list[int]] = {}
        for run_id, epoch in session.execute(
            select(EpochMetric.run_id, EpochMetric.epoch).order_by(EpochMetric.epoch)
        ):
            epoch_rows.setdefault(run_id, []).append(epoch)
    expected_epochs = list(range(1, epochs + 1))
    for run_id in run_ids:
        run = runs[run_id]
        if claims[run_id] == 0 or finishes[run_id] != 1:
            problems.append(
                f"run {run_id}: claimed {claims[run_id]}, finished {finishes[run_id]} times"
            )
        if run.status is not RunStatus.SUCCEEDED or run.attempt != 1:
            problems.append(f"run {run_id}: {run.status.value} after attempt {run.attempt}")
        if attempt_rows.get(run_id, 0) != 1:
            problems.append(f"run {run_id}: {attempt_rows.get(run_id, 0)} run_attempts rows")
        if epoch_rows.get(run_id, []) != expected_epochs:
            problems.append(f"run {run_id}: epoch rows {epoch_rows.get(run_id, [])}")
    claimed_twice = {run_id: n for run_id, n in sorted(claims.items()) if n > 1}
    return Audit(errors=errors, claimed_twice=claimed_twice, problems=problems)

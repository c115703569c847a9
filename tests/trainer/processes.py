"""Real `python -m trainer worker` processes for tests, and one read of a run's whole state."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from db.entities import RunRecord
from db.models import Artifact, AttemptOutcome, EpochMetric
from db.runs import get_run
from db.session import Database
from db.workers import list_attempts
from settings import PROJECT_ROOT

POLL_SECONDS = 0.05


@dataclasses.dataclass(frozen=True)
class RunState:
    """One consistent read of everything the tests check about a run."""

    run: RunRecord
    epochs: list[tuple[int, int]]  # (epoch, attempt that wrote it), by epoch
    attempts: list[tuple[int, str, AttemptOutcome]]  # (attempt, worker, outcome)
    artifacts: dict[str, str]  # kind -> sha256

    @property
    def committed(self) -> int:
        return len(self.epochs)


def run_state(database: Database, run_id: int) -> RunState:
    with database.read() as session:
        run = get_run(session, run_id)
        assert run is not None
        epochs = session.execute(
            select(EpochMetric.epoch, EpochMetric.attempt)
            .where(EpochMetric.run_id == run_id)
            .order_by(EpochMetric.epoch)
        ).all()
        attempts = list_attempts(session, [run_id])
        stored = session.execute(
            select(Artifact.kind, Artifact.sha256).where(Artifact.run_id == run_id)
        ).all()
    return RunState(
        run=run,
        epochs=[(e, a) for e, a in epochs],
        attempts=[(a.attempt, a.worker, a.outcome) for a in attempts],
        artifacts={kind.value: sha for kind, sha in stored},
    )


class WorkerProcesses:
    """Starts `python -m trainer worker` processes on one database; `kill_all` ends leftovers.

    `start` may give a worker another URL (e.g. through a fault proxy) and extra environment.
    """

    def __init__(self, url: str, folder: Path) -> None:
        self.url = url
        self.folder = folder
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(
        self, name: str, *options: str, url: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        environment = {
            **os.environ,
            "DATABASE_URL": url or self.url,
            "LAB_VAR_DIR": str(self.folder),
            "TF_CPP_MIN_LOG_LEVEL": "3",
            **(env or {}),
        }
        command = [sys.executable, "-m", "trainer", "worker", "--name", name, *options]
        with self.log_path(name).open("wb") as log:
            process = subprocess.Popen(
                command, cwd=PROJECT_ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT
            )
        self.started.append((name, process))
        return process

    def log_path(self, name: str) -> Path:
        return self.folder / f"worker-{name}.log"

    def log(self, name: str) -> str:
        return self.log_path(name).read_text(errors="replace")

    def logs(self) -> str:
        tails = []
        for name, _ in self.started:
            tails.append(f"--- worker {name} ---\n{self.log(name)[-2500:]}")
        return "\n".join(tails)

    def exit_code(self, process: subprocess.Popen[bytes], timeout: float) -> int:
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"worker still running after {timeout} s\n{self.logs()}")

    def kill_all(self) -> None:
        for _, process in self.started:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)


def wait_for(
    database: Database,
    run_id: int,
    condition: Callable[[RunState], bool],
    what: str,
    workers: WorkerProcesses,
    process: subprocess.Popen[bytes],
    timeout: float,
) -> RunState:
    """Poll the run until `condition` holds; fail if `process` exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        state = run_state(database, run_id)
        if condition(state):
            return state
        if process.poll() is not None:
            pytest.fail(f"worker exited ({process.returncode}) before {what}\n{workers.logs()}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} after {timeout} s: {state.run.status}\n{workers.logs()}")
        time.sleep(POLL_SECONDS)

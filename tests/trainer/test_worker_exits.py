"""The worker's contract with schedulers: --max-runs, and exit statuses they can act on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from db import queue
from db.runs import list_runs
from db.session import Database
from experiment.config import parse_config
from settings import PROJECT_ROOT
from trainer import exit_codes


def _worker(*args: str, url: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("SLURM_JOB_ID", None)
    return subprocess.run(
        [sys.executable, "-m", "trainer", "worker", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.slow
def test_max_runs_one_trains_one_run_and_exits_zero(
    sqlite_database_url: str, tiny_sample: Path
) -> None:
    """With two queued runs, `--max-runs 1` trains exactly one and exits 0; one stays queued."""
    database = Database(sqlite_database_url)
    config = {"name": "one", "dataset": str(tiny_sample), "image_size": 106, "epochs": 1}
    with database.begin() as session:
        queue.enqueue_many(session, [parse_config(config).to_new_run()] * 2)
    result = _worker("--max-runs", "1", url=sqlite_database_url)
    assert result.returncode == exit_codes.OK, result.stderr[-2000:]
    assert "1 run(s) finished" in result.stdout
    with database.read() as session:
        statuses = sorted(run.status.value for run in list_runs(session))
    database.dispose()
    assert statuses == ["queued", "succeeded"]


def test_a_command_exits_75_when_the_database_does_not_answer() -> None:
    """No database server: a one-line error and EX_TEMPFAIL (75), which a scheduler retries."""
    env = {**os.environ, "DATABASE_URL": "postgresql+psycopg://lab@127.0.0.1:1/lab"}
    result = subprocess.run(
        [sys.executable, "-m", "trainer", "runs"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == exit_codes.DATABASE_UNAVAILABLE
    assert result.stderr.startswith("error: cannot connect to") and result.stderr.count("\n") == 1


def test_a_worker_waits_for_the_database_and_stops_cleanly_on_sigterm() -> None:
    """A worker never exits for an unreachable database: it waits, says so, and SIGTERM
    still stops it with 0 (a Slurm job's time limit or `kubectl delete` can end it)."""
    env = {**os.environ, "DATABASE_URL": "postgresql+psycopg://lab@127.0.0.1:1/lab"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "trainer", "worker"],
        cwd=PROJECT_ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert worker.stderr is not None
    lines = []
    for line in worker.stderr:  # the first back-off line says the database is unreachable
        lines.append(line)
        if "unreachable" in line:
            break
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == exit_codes.OK, "".join(lines)


def test_a_stale_schema_exits_2(tmp_path: Path) -> None:
    """A database nobody migrated: exit 2, which a restart will not fix, naming the command."""
    result = _worker(url=f"sqlite:///{tmp_path / 'empty.db'}", timeout=60)
    assert result.returncode == exit_codes.CONFIG_ERROR
    assert "python -m db upgrade" in result.stderr


def test_max_runs_must_be_positive(sqlite_database_url: str) -> None:
    """--max-runs 0 is a usage error."""
    result = _worker("--max-runs", "0", url=sqlite_database_url, timeout=60)
    assert result.returncode == 2 and "--max-runs must be at least 1" in result.stderr

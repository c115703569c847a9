"""`python -m trainer slurm ...` refuses what cannot work, and lists the jobs the lab follows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from db import queue
from db import slurm as jobs_db
from db.session import Database
from settings import PROJECT_ROOT
from tests.db.factories import new_run


def _cli(*args: str, url: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, "-m", "trainer", "slurm", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_dispatch_without_slurm_says_where_to_run_it(sqlite_database_url: str) -> None:
    """On a machine without Slurm's commands the dispatcher exits 2 naming them."""
    result = _cli("dispatch", "--once", url=sqlite_database_url, path="/nonexistent")
    assert result.returncode == 2
    assert "sbatch, squeue, scancel not found" in result.stderr and "login node" in result.stderr


def test_dispatch_refuses_a_missing_template(sqlite_database_url: str, tmp_path: Path) -> None:
    """A --template that does not exist is one line naming it and the default to copy."""
    missing = tmp_path / "nope.sbatch"
    result = _cli("dispatch", "--template", str(missing), url=sqlite_database_url)
    assert result.returncode == 2
    assert str(missing) in result.stderr and "worker.sbatch" in result.stderr


def test_dispatch_refuses_zero_jobs(sqlite_database_url: str) -> None:
    """--max-jobs 0 is refused before anything is submitted."""
    result = _cli("dispatch", "--max-jobs", "0", url=sqlite_database_url)
    assert result.returncode == 2 and "--max-jobs must be at least 1" in result.stderr


def test_jobs_lists_state_run_and_log(sqlite_database_url: str) -> None:
    """`slurm jobs` shows each job's state, run, node or reason and log; --json the same."""
    database = Database(sqlite_database_url)
    with database.begin() as session:
        run_id = queue.enqueue(session, new_run("a"))
        claimed = queue.claim_next(session, "w")
        assert claimed is not None
        jobs_db.record_submitted(session, "41", None)
        jobs_db.update_job(session, "41", state="PENDING", reason="Resources")
        jobs_db.record_claim(session, "42", claimed.id, claimed.attempt, None)
        jobs_db.update_job(session, "42", state="RUNNING", node="gpu07", log_path="/l/42.out")
    database.dispose()
    listing = _cli("jobs", url=sqlite_database_url)
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[1].split() == ["42", "RUNNING", str(run_id), "gpu07", "/l/42.out"]
    assert lines[2].split() == ["41", "PENDING", "-", "(Resources)", "-"]
    rows = json.loads(_cli("jobs", "--json", url=sqlite_database_url).stdout)
    assert [(r["job_id"], r["state"], r["run_id"]) for r in rows] == [
        ("42", "RUNNING", run_id),
        ("41", "PENDING", None),
    ]

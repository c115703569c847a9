"""Slurm in the dashboard: each job's state in words, and the Run and Workers pages showing the
jobs a dispatcher and its workers recorded (db/slurm.py), on a seeded database."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pandas as pd
import pytest

from dashboard.slurm_jobs import job_colour, job_state_text, jobs_frame
from db.entities import SlurmJobRecord
from db.slurm import (
    record_claim,
    record_dispatch_error,
    record_submitted,
    register_dispatcher,
    update_job,
)
from db.workers import beat_worker, register_worker
from tests.dashboard.conftest import Lab, open_page

LOG = "/home/lab/var/slurm/slurm-{}.out"

JOB = SlurmJobRecord(
    id=1, job_id="1000", dispatcher_id=1, run_id=3, attempt=1, worker_id=None, state="PENDING",
    reason="Resources", node=None, log_path=None, exit_code=None, note=None,
    submitted_at=datetime(2026, 1, 1, tzinfo=UTC), started_at=None, ended_at=None,
    updated_at=None,
)  # fmt: skip
ENDED = datetime(2026, 1, 2, tzinfo=UTC)


def test_pending_job_says_slurms_reason() -> None:
    """A pending job reads `pending (Resources)`, grey."""
    assert job_state_text(JOB) == "pending (Resources)"
    assert job_colour(JOB) == "gray"


def test_running_job_names_its_node() -> None:
    """A running job reads `running on node7`, blue."""
    running = replace(JOB, state="RUNNING", reason=None, node="node7")
    assert job_state_text(running) == "running on node7"
    assert job_colour(running) == "blue"


def test_ended_job_says_how() -> None:
    """An ended job says how, with its exit code: time limit red, completed green."""
    timeout = replace(JOB, state="TIMEOUT", exit_code="0:15", ended_at=ENDED)
    assert job_state_text(timeout) == "ended: hit its time limit (exit 0:15)"
    assert job_colour(timeout) == "red"
    done = replace(JOB, state="COMPLETED", exit_code="0:0", ended_at=ENDED)
    assert (job_state_text(done), job_colour(done)) == ("ended: completed", "green")


def test_jobs_frame_has_a_row_per_job_with_utc_times() -> None:
    """One row per job; the run id is nullable (a job that has not claimed one yet)."""
    frame = jobs_frame([JOB, replace(JOB, id=2, job_id="1001", run_id=None)])
    assert list(frame["job"]) == ["1000", "1001"]
    assert frame["run"].isna().tolist() == [False, True]
    assert str(frame["submitted_at"].dt.tz) == "UTC"


@dataclass(frozen=True)
class SlurmLab:
    lab: Lab
    worker: int  # the worker inside job 1000, training lab.running


@pytest.fixture
def slurm_lab(lab: Lab) -> SlurmLab:
    """Job 1000 runs lab.running on node7, 1001 is pending, 999 (lab.failed) hit its time
    limit; the dispatcher's last submission failed."""
    with lab.database.begin() as session:
        dispatcher = register_dispatcher(
            session, name="login1", host="login1", pid=7, template="#!/bin/bash",
            partition="gpu", max_jobs=2,
        )  # fmt: skip
        for job_id in ("999", "1000", "1001"):
            record_submitted(session, job_id, dispatcher)
        update_job(session, "1001", state="PENDING", reason="Resources")
        worker = register_worker(session, "job-1000", "node7", 4242, "GPU:0")
        beat_worker(session, worker, lab.running)
        record_claim(session, "1000", lab.running, 1, worker)
        update_job(session, "1000", state="RUNNING", node="node7", log_path=LOG.format(1000))
        record_claim(session, "999", lab.failed, 1, None)
        update_job(
            session, "999", state="TIMEOUT", node="node3", exit_code="0:15",
            log_path=LOG.format(999),
        )  # fmt: skip
        record_dispatch_error(session, dispatcher, "sbatch: error: invalid partition: gpu")
    return SlurmLab(lab, worker)


def _frame(at, column: str) -> pd.DataFrame:
    return next(table.value for table in at.dataframe if column in table.value.columns)


def test_run_page_shows_its_job_state_node_and_log(slurm_lab: SlurmLab) -> None:
    """A running run's page: a badge with its job and node, and the job's log path."""
    lab = slurm_lab.lab
    at = open_page("run", id=str(lab.running))
    assert not at.exception
    badges = [m.value for m in at.markdown if "Slurm job" in m.value]
    assert len(badges) == 1 and "Slurm job 1000: running on node7" in badges[0]
    assert f"log `{LOG.format(1000)}`" in [c.value for c in at.caption]


def test_details_tab_lists_the_runs_jobs(slurm_lab: SlurmLab) -> None:
    """Details: each attempt's job, how it ended and where its log is."""
    lab = slurm_lab.lab
    at = open_page("run", id=str(lab.failed), tab="Details")
    assert not at.exception
    jobs = _frame(at, "exit_code")
    assert list(jobs["job"]) == ["999"]
    assert jobs["state"][0] == "ended: hit its time limit (exit 0:15)"
    assert jobs["log"][0] == LOG.format(999)


def test_run_outside_slurm_has_no_slurm_parts(lab: Lab) -> None:
    """A run no Slurm job trained shows no badge and no jobs table."""
    at = open_page("run", id=str(lab.adam), tab="Details")
    assert not at.exception
    assert not [m for m in at.markdown if "Slurm job" in m.value]
    assert "Slurm jobs" not in [h.value for h in at.subheader]


def test_workers_page_shows_jobs_dispatchers_and_the_sbatch_error(slurm_lab: SlurmLab) -> None:
    """Workers: each Slurm worker's job, the dispatcher with sbatch's error, the recent jobs."""
    lab = slurm_lab.lab
    at = open_page("workers")
    assert not at.exception
    workers = _frame(at, "slurm_job").set_index("name")
    assert workers.loc["job-1000", "slurm_job"] == "1000: running on node7"
    dispatchers = _frame(at, "max_jobs")
    assert list(dispatchers["name"]) == ["login1"]
    assert dispatchers["status"][0] == "alive"
    assert "invalid partition" in dispatchers["error"][0]
    assert any("login1 holds submissions" in e.value for e in at.error)
    jobs = _frame(at, "exit_code").set_index("job")
    assert jobs.loc["1001", "state"] == "pending (Resources)"
    assert jobs.loc["1000", "run"] == f"run?id={lab.running}"
    assert jobs.loc["999", "log"] == LOG.format(999)
    assert list(jobs.index) == ["1001", "1000", "999"]  # active first, newest first


def test_workers_page_without_slurm_has_no_slurm_section(lab: Lab) -> None:
    """A lab that never used Slurm sees no Slurm section and no job column."""
    at = open_page("workers")
    assert not at.exception
    assert "Slurm" not in [h.value for h in at.subheader]

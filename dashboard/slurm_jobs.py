"""Slurm jobs and dispatchers as the Run and Workers pages show them (no reads here).

A job's state is said the way a user asks about it: pending and why (Slurm's reason), running
on which node, or how it ended. Its log file is a path on the cluster's disk (the dashboard may
run elsewhere), shown for copying rather than served.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import pandas as pd
import streamlit as st

from dashboard.text import MISSING, RUN_LINK_TEXT
from db.entities import SlurmDispatcherRecord, SlurmJobRecord
from db.slurm import PENDING, RUNNING

JOB_COLUMNS = [
    "job", "state", "run", "attempt", "node", "exit_code", "log", "submitted_at", "started_at",
    "ended_at",
]  # fmt: skip
DISPATCHER_COLUMNS = [
    "name", "status", "host", "pid", "max_jobs", "partition", "heartbeat_at", "error",
]  # fmt: skip


def job_state_text(job: SlurmJobRecord) -> str:
    """`pending (Resources)`, `running on node7`, `ended: hit its time limit (exit 0:15)`."""
    if not job.active:
        return f"ended: {job.ended_how}"
    if job.state == PENDING:
        return f"pending ({job.reason})" if job.reason else "pending"
    words = job.state.lower().replace("_", " ")
    return f"{words} on {job.node}" if job.node else words


BadgeColour = Literal["gray", "blue", "green", "red"]


def job_colour(job: SlurmJobRecord) -> BadgeColour:
    """A badge colour: grey while pending, blue running, green completed, red otherwise."""
    if job.active:
        return "blue" if job.state == RUNNING else "gray"
    return "green" if job.state == "COMPLETED" and job.exit_code in (None, "0:0") else "red"


def jobs_frame(jobs: Sequence[SlurmJobRecord]) -> pd.DataFrame:
    """One row per job: id, state in words, its run and attempt, node, exit code, log, times."""
    rows = [
        {
            "job": job.job_id,
            "state": job_state_text(job),
            "run": job.run_id,
            "attempt": job.attempt,
            "node": job.node,
            "exit_code": job.exit_code,
            "log": job.log_path,
            "submitted_at": job.submitted_at,
            "started_at": job.started_at,
            "ended_at": job.ended_at,
        }
        for job in jobs
    ]
    frame = pd.DataFrame(rows, columns=JOB_COLUMNS)
    for column in ("submitted_at", "started_at", "ended_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame.astype({"run": "Int64", "attempt": "Int64"})


def dispatchers_frame(dispatchers: Sequence[SlurmDispatcherRecord]) -> pd.DataFrame:
    """One row per dispatcher: alive / stopped / lost, where, its limits, and sbatch's error."""
    rows = [
        {
            "name": d.name,
            "status": "alive" if d.alive else ("stopped" if d.stopped_at else "lost"),
            "host": d.host,
            "pid": d.pid,
            "max_jobs": d.max_jobs,
            "partition": d.partition,
            "heartbeat_at": d.heartbeat_at,
            "error": dispatch_error(d),
        }
        for d in dispatchers
    ]
    frame = pd.DataFrame(rows, columns=DISPATCHER_COLUMNS)
    frame["heartbeat_at"] = pd.to_datetime(frame["heartbeat_at"], utc=True)
    return frame


def dispatch_error(dispatcher: SlurmDispatcherRecord) -> str | None:
    """Why submissions are held, and how often it repeated; None while they work."""
    if not dispatcher.last_error:
        return None
    times = f" ({dispatcher.error_count} times)" if dispatcher.error_count > 1 else ""
    return f"{dispatcher.last_error}{times}"


def slurm_jobs_table(jobs: pd.DataFrame, *, key: str) -> None:
    """A `jobs_frame` (its `run` column may hold run links) with titles and formats."""
    when = st.column_config.DatetimeColumn
    st.dataframe(
        jobs,
        hide_index=True,
        placeholder=MISSING,
        column_config={
            "job": st.column_config.TextColumn("Slurm job", width="small"),
            "state": st.column_config.TextColumn("state", width="large"),
            "run": st.column_config.LinkColumn("run", display_text=RUN_LINK_TEXT, width="small"),
            "attempt": st.column_config.NumberColumn("attempt", format="%d", width="small"),
            "exit_code": st.column_config.TextColumn("exit", width="small"),
            "log": st.column_config.TextColumn("log file (on the cluster)", width="large"),
            "submitted_at": when("submitted", format="YYYY-MM-DD HH:mm:ss"),
            "started_at": when("started", format="YYYY-MM-DD HH:mm:ss"),
            "ended_at": when("ended", format="YYYY-MM-DD HH:mm:ss"),
        },
        key=key,
    )

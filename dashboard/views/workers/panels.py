"""The Workers page's panels: who is alive and doing what, the queue with estimated starts, the
attempts of runs that needed more than one worker (or are waiting for one), and under Slurm the
dispatchers and their jobs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.outage import live
from dashboard.queries import (
    fetch_active_runs,
    fetch_attempts,
    fetch_dispatchers,
    fetch_epoch_seconds,
    fetch_recent_jobs,
    fetch_recent_runs,
    fetch_run_timings,
    fetch_worker_jobs,
    fetch_workers,
)
from dashboard.slurm_jobs import (
    dispatch_error,
    dispatchers_frame,
    job_state_text,
    jobs_frame,
    slurm_jobs_table,
)
from dashboard.tables import attempts_table
from dashboard.text import MISSING, RUN_LINK_TEXT, run_link
from dashboard.views.workers.schedule import humanise_seconds, plan_queue
from db.entities import RunRecord, SlurmJobRecord
from db.models import RunStatus
from db.session import Database

RECENT_RUNS = 50
RECENT_JOBS = 50
LINK_COLUMN = st.column_config.LinkColumn


def workers_panel(database: Database, runs: dict[int, RunRecord]) -> int:
    """Every worker seen in the last day; returns how many are alive."""
    workers = fetch_workers(database)
    if workers.empty:
        st.info(
            "No worker has run in the last day. Start one with `python -m trainer worker`.",
            icon=":material/info:",
        )
        return 0
    now = datetime.now(UTC)
    jobs = fetch_worker_jobs(database, tuple(int(i) for i in workers["id"]))
    table = workers.assign(
        silent_s=(now - workers["heartbeat_at"]).dt.total_seconds().round(),
        run=workers["current_run_id"].map(run_link),
        run_name=workers["current_run_id"].map(lambda i: _run_name(runs, i)),
        epoch=workers["current_run_id"].map(lambda i: _epoch_text(runs, i)),
        slurm_job=workers["id"].map(lambda i: _job_text(jobs.get(int(i)))),
    ).drop(columns=["current_run_id"])
    order = ["name", "status", "run", "run_name", "epoch", "device", "host", "pid"]
    order += ["slurm_job"] if jobs else []
    table = table[[*order, "heartbeat_at", "silent_s", "started_at"]]
    st.dataframe(
        table,
        hide_index=True,
        placeholder=MISSING,
        column_config={
            "pid": st.column_config.NumberColumn(format="%d"),
            "started_at": st.column_config.DatetimeColumn("started", format="YYYY-MM-DD HH:mm"),
            "heartbeat_at": st.column_config.DatetimeColumn(
                "last heartbeat", format="YYYY-MM-DD HH:mm:ss"
            ),
            "silent_s": st.column_config.NumberColumn("silent for (s)", format="%d"),
            "run": LINK_COLUMN("current run", display_text=RUN_LINK_TEXT),
            "run_name": st.column_config.TextColumn("run name"),
            "epoch": st.column_config.TextColumn("epoch"),
            "slurm_job": st.column_config.TextColumn("Slurm job"),
        },
        key="workers.table",
    )
    return int((workers["status"] == "alive").sum())


def _job_text(job: SlurmJobRecord | None) -> str | None:
    return None if job is None else f"{job.job_id}: {job_state_text(job)}"


def slurm_panel(database: Database) -> None:
    """Dispatchers (and why submissions are held) and recent jobs; nothing outside Slurm."""
    dispatchers = fetch_dispatchers(database)
    jobs = fetch_recent_jobs(database, RECENT_JOBS)
    if not dispatchers and not jobs:
        return
    st.subheader("Slurm")
    for dispatcher in dispatchers:
        error = dispatch_error(dispatcher)
        if dispatcher.alive and error:
            st.error(
                f"Dispatcher {dispatcher.name} holds submissions: {error}",
                icon=":material/error:",
            )
    if dispatchers:
        st.dataframe(
            dispatchers_frame(dispatchers),
            hide_index=True,
            placeholder=MISSING,
            column_config={
                "pid": st.column_config.NumberColumn(format="%d"),
                "max_jobs": st.column_config.NumberColumn("max jobs", format="%d"),
                "heartbeat_at": st.column_config.DatetimeColumn(
                    "last heartbeat", format="YYYY-MM-DD HH:mm:ss"
                ),
                "error": st.column_config.TextColumn("sbatch error", width="large"),
            },
            key="workers.dispatchers",
        )
    else:
        st.caption("No dispatcher has run; these jobs were submitted by hand.")
    if jobs:
        table = jobs_frame(jobs)
        slurm_jobs_table(table.assign(run=table["run"].map(run_link)), key="workers.slurm_jobs")
        st.caption(
            f"Pending and running jobs, then the latest ended ones (at most {RECENT_JOBS}). Log "
            "files are on the cluster's disk."
        )


def _run_name(runs: dict[int, RunRecord], run_id: Any) -> str | None:
    return None if pd.isna(run_id) or int(run_id) not in runs else runs[int(run_id)].name


def _epoch_text(runs: dict[int, RunRecord], run_id: Any) -> str | None:
    if pd.isna(run_id) or int(run_id) not in runs:
        return None
    run = runs[int(run_id)]
    return f"{min(run.epochs_done + 1, run.epochs)} of {run.epochs}"


def queue_panel(database: Database, active: list[RunRecord], alive: int) -> None:
    """Queued runs in claim order with their position and estimated start."""
    running = [r for r in active if r.status is RunStatus.RUNNING]
    queued = [r for r in active if r.status is RunStatus.QUEUED]
    if not queued:
        st.caption("Nothing is queued.")
        return
    seconds = fetch_epoch_seconds(database, tuple(r.id for r in [*running, *queued]))
    plan = plan_queue(running, queued, seconds, fetch_run_timings(database), alive)
    now = datetime.now(UTC)
    rows = [
        {
            "position": position,
            "run": run_link(run.id),
            "name": run.name,
            "priority": run.priority,
            "attempts": run.attempt,
            "queued_at": run.created_at,
            "duration": humanise_seconds(duration),
            "starts_in": humanise_seconds(start) if alive else "when a worker starts",
            "starts_at": None if start is None else now + timedelta(seconds=start),
        }
        for position, (run, duration, start) in enumerate(
            zip(plan.queued, plan.durations, plan.starts, strict=True), start=1
        )
    ]
    table = pd.DataFrame(rows)
    for column in ("queued_at", "starts_at"):
        table[column] = pd.to_datetime(table[column], utc=True)
    st.dataframe(
        table,
        hide_index=True,
        placeholder=MISSING,
        column_config={
            "position": st.column_config.NumberColumn("#", format="%d", width="small"),
            "run": LINK_COLUMN("run", display_text=RUN_LINK_TEXT, width="small"),
            "queued_at": st.column_config.DatetimeColumn("queued", format="YYYY-MM-DD HH:mm"),
            "duration": st.column_config.TextColumn("est. duration"),
            "starts_in": st.column_config.TextColumn("est. start in"),
            "starts_at": st.column_config.DatetimeColumn("est. start", format="HH:mm:ss"),
        },
        key="workers.queue",
    )
    spread = (
        f"estimates spread the queue over {alive} alive worker{'s' if alive > 1 else ''} using "
        "past epoch times (early stopping makes real runs shorter)"
        if alive
        else "no worker is alive, so nothing starts until one does"
    )
    st.caption(f"Claim order: priority, then oldest; {spread}.")


def attempts_panel(database: Database, active: list[RunRecord]) -> None:
    """Attempts of active runs and of recent runs that took more than one attempt."""
    recent = fetch_recent_runs(database, RECENT_RUNS)
    wanted = {r.id for r in active if r.attempt > 0} | {r.id for r in recent if r.attempt > 1}
    attempts = fetch_attempts(database, tuple(sorted(wanted, reverse=True)))
    if attempts.empty:
        st.caption("No run has needed a second attempt, and no active run has been claimed yet.")
        return
    attempts = attempts.assign(run=attempts["run_id"].map(run_link)).drop(columns=["run_id"])
    attempts_table(attempts[["run", *attempts.columns[:-1]]], key="workers.attempts")


def workers_page(database: Database) -> None:
    """The whole page body; the Workers view runs it as a fragment refreshing every 3 s."""
    active = fetch_active_runs(database)
    running = {r.id: r for r in active if r.status is RunStatus.RUNNING}
    st.subheader("Workers")
    alive = workers_panel(database, running)
    st.subheader("Queue")
    queue_panel(database, active, alive)
    st.subheader("Attempts")
    st.caption("Each claim of a run by a worker, and why the earlier ones ended.")
    attempts_panel(database, active)
    slurm_panel(database)


live_workers_page = live(run_every=3)(workers_page)

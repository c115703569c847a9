"""The Run page's Details tab: config, environment, times, every attempt and its Slurm job."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.queries import fetch_attempts, fetch_run_jobs
from dashboard.slurm_jobs import jobs_frame, slurm_jobs_table
from dashboard.tables import attempts_table
from dashboard.text import MISSING
from db.entities import RunRecord
from db.models import RunSource
from db.session import Database

# What the run row's creation time means for each source.
CREATED = {RunSource.QUEUED: "queued", RunSource.SCRIPT: "logged", RunSource.IMPORT: "imported"}


def details_panel(database: Database, run: RunRecord) -> None:
    """Config, environment (for an import: where it came from), timestamps and, for the lab's
    own runs, every attempt with how it ended."""
    config, environment = st.columns(2)
    with config:
        st.subheader("Config")
        st.json(run.config, expanded=True)
    with environment:
        st.subheader("Environment")
        if run.environment:
            st.dataframe(
                pd.DataFrame(
                    [(k, "" if v is None else str(v)) for k, v in run.environment.items()],
                    columns=["item", "value"],
                ),
                hide_index=True,
                key="run.environment",
            )
        elif run.source is RunSource.QUEUED:
            st.caption("Recorded when a worker starts the run.")
        else:
            st.caption("None was recorded.")
        st.subheader("Times (UTC)")
        times = {
            CREATED[run.source]: run.created_at,
            "started": run.started_at,
            "finished": run.finished_at,
            "last heartbeat": run.heartbeat_at,
        }
        st.dataframe(
            pd.DataFrame(
                [(k, f"{v:%Y-%m-%d %H:%M:%S}" if v else MISSING) for k, v in times.items()],
                columns=["event", "time"],
            ),
            hide_index=True,
            key="run.times",
        )
    if run.source is RunSource.QUEUED:
        st.subheader("Attempts")
        attempts_table(fetch_attempts(database, (run.id,)), key="run.attempts")
    jobs = fetch_run_jobs(database, run.id)
    if jobs:
        st.subheader("Slurm jobs")
        st.caption("The job of each attempt; log files are on the cluster's disk.")
        slurm_jobs_table(jobs_frame(jobs).drop(columns=["run"]), key="run.slurm_jobs")

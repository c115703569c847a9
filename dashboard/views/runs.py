"""Runs: every run, filtered by status and study; select rows to inspect or compare them."""

from __future__ import annotations

import streamlit as st

from dashboard.nav import COMPARE_PAGE
from dashboard.queries import fetch_runs, fetch_studies
from dashboard.run_panels import run_details, selectable_runs
from dashboard.state import (
    encode,
    parse_choices,
    parse_ids,
    require_database,
    set_url_params,
    url_index,
    url_param,
)
from db.models import RunStatus

database = require_database()
STATUSES = [status.value for status in RunStatus]

st.title("Runs")
status_column, study_column = st.columns([3, 2])
statuses = status_column.multiselect(
    "Status",
    STATUSES,
    default=parse_choices(url_param("status"), STATUSES),
    key="runs.status",
    placeholder="All statuses",
)
studies: list[str] = ["", *fetch_studies(database)]
study = study_column.selectbox(
    "Study",
    studies,
    index=url_index("study", studies),
    format_func=lambda name: name or "All studies",
    key="runs.study",
)
runs = fetch_runs(database, tuple(statuses), study or None)
if runs.empty:
    st.info("No run matches these filters.", icon=":material/info:")
selected = selectable_runs(runs, parse_ids(url_param("runs"))) if not runs.empty else []
set_url_params(status=statuses, study=study, runs=selected)

if selected:
    label = f"Compare {len(selected)} selected run{'s' if len(selected) > 1 else ''}"
    if st.button(label, icon=":material/stacked_line_chart:", key="runs.compare"):
        st.switch_page(COMPARE_PAGE, query_params={"runs": encode(selected)})
    run_details(database, runs[runs["id"] == selected[-1]].iloc[0])
else:
    st.caption("Select rows to see a run's details, or several to compare their curves.")

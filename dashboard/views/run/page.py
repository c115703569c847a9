"""Run: everything about one run at `/run?id=N`; `&vs=M` compares it with other runs image by
image, `&tab=` opens a section, `&cm=row-normalised` shows the confusion matrix as shares.

A queued or running run's page redraws itself until the run ends (`view.live_run_view`)."""

from __future__ import annotations

import streamlit as st

from dashboard.nav import RUNS_PAGE
from dashboard.queries import fetch_run
from dashboard.state import parse_ids, require_database, url_param
from dashboard.views.run.view import live_run_view, run_view
from settings import Settings

settings = Settings.from_env()
database = require_database(settings)
ids = parse_ids(url_param("id"))
if not ids:
    st.title("Run")
    st.info("Open a run from the Runs page: this page shows the run in `?id=`.")
    st.page_link(RUNS_PAGE, label="All runs", icon=":material/table_rows:")
    st.stop()
run = fetch_run(database, ids[0])
if run is None:
    st.title(f"Run {ids[0]}")
    st.warning(f"There is no run {ids[0]}; it may have been deleted.", icon=":material/warning:")
    st.page_link(RUNS_PAGE, label="All runs", icon=":material/table_rows:")
    st.stop()
if run.status.is_final:
    run_view(database, run, settings.metric_directions)
else:
    live_run_view(database, run.id, settings.metric_directions)

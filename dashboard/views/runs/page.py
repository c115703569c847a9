"""Runs: every run, filtered by status, source, study, tag, hyper-parameters or name; select
to compare.

URL: the filter (`q`, `status`, `source`, `study`, `tag`, `optimizer=adam,sgd`, ... as on
Compare) and
`runs=3,5` for the selected rows.
"""

from __future__ import annotations

import streamlit as st

from dashboard.queries import fetch_runs
from dashboard.run_select import filter_bar
from dashboard.state import require_database, set_url_params
from dashboard.views.runs.table import live_runs_table, runs_table

database = require_database()
st.title("Runs")
runs = fetch_runs(database)
run_filter = filter_bar(runs, "runs.f")
set_url_params(**run_filter.to_params())
matching = run_filter.apply(runs)
live = bool(matching["status"].isin(["running", "queued"]).any())
(live_runs_table if live else runs_table)(database, run_filter)

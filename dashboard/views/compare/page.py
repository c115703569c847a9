"""Compare: overlay the curves of any runs, grouped by the hyper-parameters that differ."""

from __future__ import annotations

import streamlit as st

from dashboard import knobs
from dashboard.nav import QUEUE_PAGE
from dashboard.queries import fetch_runs
from dashboard.state import require_database, share_path
from dashboard.views.compare.controls import curve_controls, view_tabs
from dashboard.views.compare.panels import live_views, views
from dashboard.views.compare.selection import selection_panel

database = require_database()
st.title("Compare runs")
runs = fetch_runs(database)
if runs.empty:
    st.info("No runs yet.", icon=":material/info:")
    st.page_link(QUEUE_PAGE, label="Queue a run", icon=":material/playlist_add:")
    st.stop()

selection = selection_panel(runs)
chosen = set(selection.ids)
selected = runs[runs["id"].isin(chosen)]  # newest first, whatever order they were picked in
if selected.empty:
    st.info("Pick runs to compare, or a whole study.", icon=":material/info:")
    st.caption(f"Share this view: `{share_path('compare')}`")
    st.stop()

active = selected["status"].isin(["running", "queued"])
live = bool(active.any())
st.caption(
    f"{len(selected)} run{'s' * (len(selected) != 1)} selected"
    + (f" · {int(active.sum())} queued or running: refreshing every few seconds" if live else "")
)
params = knobs.hyperparameters(selected)
tab, container = view_tabs()
with container:
    options = curve_controls(params) if tab == "Curves" else None
    (live_views if live else views)(
        database, [int(i) for i in selected["id"]], params, tab, options
    )
st.caption(f"Share this view: `{share_path('compare')}`")

"""Compare: overlay the curves of any runs, grouped by the hyper-parameters that differ."""

from __future__ import annotations

import streamlit as st

from dashboard import knobs
from dashboard.nav import QUEUE_PAGE
from dashboard.queries import fetch_metric_names, fetch_runs
from dashboard.state import require_database, share_path
from dashboard.views.compare.controls import (
    TableOptions,
    curve_controls,
    table_controls,
    view_tabs,
)
from dashboard.views.compare.curve_data import SERIES
from dashboard.views.compare.figures import CurveOptions
from dashboard.views.compare.panels import MAX_DRAWN, live_views, views
from dashboard.views.compare.selection import selection_panel
from experiment.metrics import ordered, twin
from settings import Settings

settings = Settings.from_env()
database = require_database(settings)
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
ids = [int(i) for i in selected["id"]]
# Every metric the drawn runs logged, and the six the lab's workers record for every epoch
# when a run of theirs is chosen (so a run that has not logged yet can be watched live: the
# live part below reruns without this line). Names a live run logs later show on the next
# rerun of the page. The views read the chosen ones and their train/validation twins.
logged = set(fetch_metric_names(database, tuple(sorted(ids[:MAX_DRAWN]))))
if (selected["source"] == "queued").any():
    logged |= set(SERIES)
names = ordered(logged)
tab, container = view_tabs()
with container:
    options: CurveOptions | TableOptions | None = None
    wanted: list[str] = []
    if tab == "Curves":
        options = curve_controls(params, names, settings.metric_directions)
        wanted = [*options.metrics, *(twin(m) for m in options.metrics)]
    elif tab == "Table":
        options = table_controls(names, settings.metric_directions)
        wanted = [options.metric]
    extra = tuple(m for m in names if m in wanted)
    (live_views if live else views)(database, ids, params, tab, options, extra)
st.caption(f"Share this view: `{share_path('compare')}`")

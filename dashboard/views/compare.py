"""Compare: overlay the curves of any runs, coloured by the knob that differs between them."""

from __future__ import annotations

import streamlit as st

from dashboard.charts import COLOR_CHOICES, METRICS, default_color_by
from dashboard.nav import QUEUE_PAGE
from dashboard.queries import fetch_runs, fetch_studies
from dashboard.run_panels import compare_panel, live_compare_panel
from dashboard.state import (
    parse_ids,
    require_database,
    set_url_params,
    share_path,
    url_index,
    url_param,
)

database = require_database()
st.title("Compare runs")
runs = fetch_runs(database)
if runs.empty:
    st.info("No runs yet.", icon=":material/info:")
    st.page_link(QUEUE_PAGE, label="Queue a run", icon=":material/playlist_add:")
    st.stop()

labels: dict[int, str] = dict(zip(runs["id"].tolist(), runs["label"], strict=True))
studies: list[str] = ["", *fetch_studies(database)]
study_runs = {s: runs.loc[runs["study"] == s, "id"].tolist() for s in studies if s}
study_index = url_index("study", studies)
url_runs = [i for i in parse_ids(url_param("runs")) if i in labels]
# The URL seeds the picker once; after that its session state (which select_study sets) rules.
first_pick = url_runs or study_runs.get(studies[study_index], [])


def select_study() -> None:
    """Choosing a study replaces the picked runs with all of that study's runs."""
    study = st.session_state["compare.study"]
    if study:
        st.session_state["compare.runs"] = study_runs[study]


pick_column, study_column = st.columns([3, 1])
study = study_column.selectbox(
    "Whole study",
    studies,
    index=study_index,
    format_func=lambda name: name or "—",
    key="compare.study",
    on_change=select_study,
)
run_ids = pick_column.multiselect(
    "Runs",
    list(labels),
    default=None if "compare.runs" in st.session_state else first_pick,
    format_func=lambda run_id: labels[run_id],
    key="compare.runs",
    placeholder="Pick runs, or a whole study",
)
metric_column, color_column = st.columns(2)
metric = metric_column.radio(
    "Metric", METRICS, index=url_index("metric", METRICS), horizontal=True, key="compare.metric"
)
colors = ("auto", *COLOR_CHOICES)
color = color_column.selectbox(
    "Colour by",
    colors,
    index=url_index("color", colors),
    key="compare.color",
    help="auto: the first hyper-parameter that differs between the picked runs",
)
set_url_params(
    runs=run_ids,
    study=study,
    metric=None if metric == "accuracy" else metric,
    color=None if color == "auto" else color,
)
if not run_ids or metric is None:
    st.info("Pick runs to compare, or a whole study.", icon=":material/info:")
    st.stop()

selected = runs[runs["id"].isin(run_ids)]
color_by = default_color_by(selected) if color in (None, "auto") else color
live = bool((selected["status"] == "running").any())
(live_compare_panel if live else compare_panel)(database, run_ids, metric, color_by)
st.caption(f"Share this view: `{share_path('compare')}`")

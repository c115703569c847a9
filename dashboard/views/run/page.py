"""Run: everything about one run at `/run?id=N`; `&vs=M` compares it with other runs image by
image, `&tab=` opens a section, `&cm=row-normalised` shows the confusion matrix as shares."""

from __future__ import annotations

import streamlit as st

from dashboard.frames import runs_frame
from dashboard.nav import RUNS_PAGE
from dashboard.queries import fetch_run
from dashboard.report_button import save_report_button
from dashboard.state import parse_ids, require_database, share_path, url_param
from dashboard.views.run.augmentation import augmentation_panel
from dashboard.views.run.curves import curves_panel, live_curves_panel
from dashboard.views.run.details import details_panel
from dashboard.views.run.evaluation import evaluation_panel
from dashboard.views.run.figures import Figures
from dashboard.views.run.header import links_and_actions, run_header
from dashboard.views.run.model import model_panel
from dashboard.views.run.versus import versus_ids, versus_panel
from db.models import RunStatus

TABS = ("Curves", "Evaluation", "Versus", "Augmentation", "Model", "Details")

database = require_database()
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

run_header(run)
# Links now; "Save as report" joins this row at the end, once the figures are drawn.
actions = st.container(horizontal=True, vertical_alignment="center", gap="medium")
with actions:
    links_and_actions(database, run)

figures: Figures = {}
vs = versus_ids(database, run)
if vs and "tab" not in st.session_state and url_param("tab") is None:
    st.session_state["tab"] = "Versus"  # a shared `?vs=` link opens on the comparison
tabs = st.tabs(TABS, key="tab", bind="query-params")
curves, evaluation, versus, augmentation, model, details = tabs
cm = "counts"
if curves.open:
    with curves:
        if run.status is RunStatus.RUNNING:
            live_curves_panel(database, run.id, figures)
        else:
            curves_panel(database, run, figures)
if evaluation.open:
    with evaluation:
        cm = evaluation_panel(database, run, figures)
if versus.open:
    with versus:
        vs = versus_panel(database, run, figures)
if augmentation.open:
    with augmentation:
        augmentation_panel(database, run)
if model.open:
    with model:
        model_panel(database, run)
if details.open:
    with details:
        details_panel(database, run)

with actions:
    others = [other for i in vs if (other := fetch_run(database, i)) is not None]
    save_report_button(
        "run",
        {"id": run.id, "vs": vs, "tab": st.session_state.get("tab"), "cm": cm},
        runs_frame([run, *others]),
        figures,
        view=share_path("run"),
        key="run.report",
    )
st.caption(f"Share this view: `{share_path('run')}`")

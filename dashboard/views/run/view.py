"""The whole of one run's page below its id check: header, actions, tabs, report and share.

While the run is queued or running, all of it is one fragment that redraws every few seconds
(status, epochs done, best accuracy, stop reason, the cancel button and the open tab's content
all change as the worker writes); once the run ends, the page reruns once to show its final
state and stops refreshing. Finished runs are drawn once, as plain script.
"""

from __future__ import annotations

import streamlit as st

from dashboard.frames import runs_frame
from dashboard.outage import live
from dashboard.queries import fetch_model_meta, fetch_run, fetch_trial_link
from dashboard.report_button import save_report_button
from dashboard.state import share_path, url_param
from dashboard.views.run.augmentation import augmentation_panel
from dashboard.views.run.curves import curves_panel
from dashboard.views.run.details import details_panel
from dashboard.views.run.evaluation import evaluation_panel
from dashboard.views.run.figures import Figures
from dashboard.views.run.header import links_and_actions, run_badges, run_header
from dashboard.views.run.model import custom_layers_warning, model_panel
from dashboard.views.run.versus import versus_ids, versus_panel
from db.entities import RunRecord
from db.session import Database
from experiment.metrics import MetricDirections

TABS = ("Curves", "Evaluation", "Versus", "Augmentation", "Model", "Details")
LIVE_SECONDS = 2


def run_view(
    database: Database, run: RunRecord, directions: MetricDirections | None = None
) -> None:
    """Header, links and actions, the open tab, "Save as report" and the share link;
    `directions`: which way metrics improve (the server's settings)."""
    run_header(run, fetch_trial_link(database, run.id) if run.search_id is not None else None)
    run_badges(database, run)
    # Links now; "Save as report" joins this row at the end, once the figures are drawn.
    actions = st.container(horizontal=True, vertical_alignment="center", gap="medium")
    with actions:
        links_and_actions(database, run)
    if run.status.value == "succeeded":
        custom_layers_warning(run, fetch_model_meta(database, run.id))
    figures: Figures = {}
    vs = versus_ids(database, run)
    if vs and "tab" not in st.session_state and url_param("tab") is None:
        st.session_state["tab"] = "Versus"  # a shared `?vs=` link opens on the comparison
    tabs = st.tabs(TABS, key="tab", bind="query-params")
    curves, evaluation, versus, augmentation, model, details = tabs
    cm = "counts"
    if curves.open:
        with curves:
            curves_panel(database, run, figures, directions)
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


@live(run_every=LIVE_SECONDS)
def live_run_view(
    database: Database, run_id: int, directions: MetricDirections | None = None
) -> None:
    """`run_view` from fresh data every few seconds while the run is queued or running."""
    run = fetch_run(database, run_id)
    if run is None:
        st.warning(f"Run {run_id} was deleted.", icon=":material/warning:")
        return
    if run.status.is_final:
        st.rerun()  # the whole page, once: drawn as a finished run, no longer refreshing
    run_view(database, run, directions)

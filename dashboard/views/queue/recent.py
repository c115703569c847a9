"""Queue's live list of recent runs, with cancel."""

from __future__ import annotations

import streamlit as st

from dashboard.actions import cancel, cancel_message
from dashboard.auth import can_write
from dashboard.queries import fetch_runs
from dashboard.tables import column_config, pick
from db.session import Database

RECENT_COLUMNS = (
    "id", "name", "status", "progress", "epochs_text", "best_val_accuracy", "stop_reason",
)  # fmt: skip


RECENT_LIMIT = 25


@st.fragment(run_every=2)
def recent_runs(database: Database) -> None:
    """The newest runs, refreshed every 2 s without rerunning (or resetting) the form above."""
    st.subheader("Recent runs")
    _cancel_controls(database)
    runs = fetch_runs(database, limit=RECENT_LIMIT)
    if runs.empty:
        st.info("Nothing queued yet: fill in the form above.", icon=":material/info:")
        return
    st.dataframe(pick(runs, RECENT_COLUMNS), column_config=column_config(), hide_index=True)


def _cancel_controls(database: Database) -> None:
    active = fetch_runs(database, statuses=("queued", "running"))
    active = active[~active["cancel_requested"].astype(bool)]
    if active.empty:
        return
    labels = dict(zip(active["id"], active["label"], strict=True))
    pick_column, button_column = st.columns([4, 1], vertical_alignment="bottom")
    run_id = pick_column.selectbox(
        "Cancel a queued or running run",
        list(labels),
        format_func=lambda i: labels[i],
        key="cancel.run",
    )
    clicked = button_column.button("Cancel run", key="cancel.button", icon=":material/cancel:")
    if clicked and run_id is not None and can_write("cancel runs"):
        st.toast(cancel_message(run_id, cancel(database, run_id)))

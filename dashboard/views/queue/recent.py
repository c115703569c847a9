"""Queue's live list of recent runs, with cancel."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.actions import cancel, cancel_message
from dashboard.auth import can_write
from dashboard.outage import live
from dashboard.queries import fetch_runs
from dashboard.tables import column_config, pick
from dashboard.text import MISSING, run_links
from db.session import Database

RECENT_COLUMNS = (
    "open", "name", "status", "progress", "epochs_text", "best_val_accuracy", "stop_reason",
)  # fmt: skip
RECENT_LIMIT = 25
CANCELLED = "cancel.message"  # session_state: what the last cancel did, shown until replaced


@live(run_every=2)
def recent_runs(database: Database) -> None:
    """The newest runs, refreshed every 2 s without rerunning (or resetting) the form above."""
    st.subheader("Recent runs")
    _cancel_controls(database)
    runs = fetch_runs(database, limit=RECENT_LIMIT)
    if runs.empty:
        st.info("Nothing queued yet: fill in the form above.", icon=":material/info:")
        return
    shown = runs.assign(open=run_links(runs["id"]), status=status_text(runs))
    table = pick(shown, RECENT_COLUMNS)
    st.dataframe(
        table, column_config=column_config(), hide_index=True, placeholder=MISSING,
        height="content", key="queue.recent",
    )  # fmt: skip


def status_text(runs: pd.DataFrame) -> pd.Series:
    """The status, with "cancelling" while a running run's cancel waits for its worker."""
    waiting = runs["cancel_requested"].astype(bool) & (runs["status"] == "running")
    return runs["status"].where(~waiting, "running, cancelling")


def _cancel_controls(database: Database) -> None:
    """Pick a queued or running run and cancel it; what that did stays in view below."""
    active = fetch_runs(database, statuses=("queued", "running"))
    active = active[~active["cancel_requested"].astype(bool)]
    if not active.empty:
        _cancel_picker(database, active)
    message = st.session_state.get(CANCELLED)
    if message:
        st.info(message, icon=":material/cancel:")


def _cancel_picker(database: Database, active: pd.DataFrame) -> None:
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
        st.session_state[CANCELLED] = cancel_message(run_id, cancel(database, run_id))

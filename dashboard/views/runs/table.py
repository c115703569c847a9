"""The Runs page's live, filterable table and its "compare" actions.

One run's details live on its own page (`/run?id=N`, `views/run/`); the table links each row
there.
"""

from __future__ import annotations

import streamlit as st

from dashboard.nav import COMPARE_PAGE
from dashboard.outage import live
from dashboard.queries import fetch_runs
from dashboard.run_filter import RunFilter
from dashboard.run_select import selection_table
from dashboard.state import encode, parse_ids, set_url_params
from dashboard.tables import pick
from dashboard.text import plural, run_links
from db.session import Database

LIVE_SECONDS = 5
TABLE_HEIGHT = 560  # about 15 rows; the table scrolls and draws only the rows in view
ROW_PIXELS = 35  # st.dataframe's row height, and its header's


def runs_table(database: Database, run_filter: RunFilter) -> None:
    """The runs matching `run_filter`, selectable, with "compare" actions; writes `?runs=`."""
    runs = run_filter.apply(fetch_runs(database))
    picked = parse_ids(st.query_params.get("runs"))
    if runs.empty:
        st.info("No run matches these filters.", icon=":material/info:")
        return
    table = pick(runs.assign(open=run_links(runs["id"])), RUNS_COLUMNS)
    actions = st.container()
    # As tall as its rows up to TABLE_HEIGHT: no empty padding rows under a short list.
    height = min(TABLE_HEIGHT, ROW_PIXELS * (len(table) + 1) + 3)
    selected = selection_table(table, "runs.table", picked, height=height)
    set_url_params(runs=selected)
    hidden = len(set(selected) - set(table["id"]))
    with actions:
        _actions(selected, hidden, len(runs), run_filter)


def _actions(selected: list[int], hidden: int, matching: int, run_filter: RunFilter) -> None:
    left, middle, right = st.columns([2, 2, 3], vertical_alignment="center")
    if left.button(
        f"Compare {plural(len(selected))} selected" if selected else "Compare selected",
        icon=":material/stacked_line_chart:",
        disabled=not selected,
        key="runs.compare",
        type="primary",
    ):
        st.switch_page(COMPARE_PAGE, query_params={"runs": encode(selected)})
    if middle.button(
        f"Compare all {plural(matching)} matching",
        icon=":material/select_all:",
        key="runs.compare_all",
        help="Opens Compare on this filter, so runs that join it later show up too.",
    ):
        params = {k: v for k, v in run_filter.to_params().items() if v} or {"all": "1"}
        st.switch_page(COMPARE_PAGE, query_params=params)
    note = f"{plural(matching)} match" if matching != 1 else "1 run matches"
    if selected:
        note += f" · {len(selected)} selected" + (
            f" ({hidden} hidden by the filters)" if hidden else ""
        )
    right.caption(note + " · the run column opens a run's page")


# The same table, refreshing itself while a listed run is queued or training; only this
# fragment reruns, so the filters, the selection and the scroll position stay.
live_runs_table = live(run_every=LIVE_SECONDS)(runs_table)


# How each run did comes first, so a 1400 px window shows it without scrolling sideways.
RUNS_COLUMNS = (
    "id", "open", "status", "name", "best_val_accuracy", "last_val_accuracy", "stop_reason",
    "progress", "study", "source", "architecture", "optimizer", "learning_rate", "batch_size",
    "image_size", "augmented", "seed", "epochs_text", "best_epoch", "tags", "created_at",
)  # fmt: skip

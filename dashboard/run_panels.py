"""Panels that list runs: the Runs page's live, filterable table and its actions.

One run's details live on its own page (`/run?id=N`, dashboard/views/run.py); the table links
each row there.
"""

from __future__ import annotations

import re

import streamlit as st

from dashboard.nav import COMPARE_PAGE
from dashboard.queries import fetch_runs
from dashboard.run_filter import RunFilter
from dashboard.run_select import selection_table
from dashboard.state import encode, parse_ids, set_url_params
from dashboard.tables import RUNS_COLUMNS, pick, run_links
from db.session import Database

# Inline Markdown syntax; line-start syntax (#, -, 1.) cannot occur after our own prefixes.
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]<>|~$])")
LIVE_SECONDS = 5
TABLE_HEIGHT = 560  # about 15 rows; the table scrolls and draws only the rows in view


def md_escape(text: str) -> str:
    """User-typed text (run names, dataset warnings) shown literally inside Markdown."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text)


def _plural(count: int, word: str = "run") -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def runs_table(database: Database, run_filter: RunFilter) -> None:
    """The runs matching `run_filter`, selectable, with "compare" actions; writes `?runs=`."""
    runs = run_filter.apply(fetch_runs(database))
    picked = parse_ids(st.query_params.get("runs"))
    if runs.empty:
        st.info("No run matches these filters.", icon=":material/info:")
        return
    table = pick(runs.assign(open=run_links(runs["id"])), RUNS_COLUMNS)
    actions = st.container()
    selected = selection_table(table, "runs.table", picked, height=TABLE_HEIGHT)
    set_url_params(runs=selected)
    hidden = len(set(selected) - set(table["id"]))
    with actions:
        _actions(selected, hidden, len(runs), run_filter)


def _actions(selected: list[int], hidden: int, matching: int, run_filter: RunFilter) -> None:
    left, middle, right = st.columns([2, 2, 3], vertical_alignment="center")
    if left.button(
        f"Compare {_plural(len(selected))} selected" if selected else "Compare selected",
        icon=":material/stacked_line_chart:",
        disabled=not selected,
        key="runs.compare",
        type="primary",
    ):
        st.switch_page(COMPARE_PAGE, query_params={"runs": encode(selected)})
    if middle.button(
        f"Compare all {_plural(matching)} matching",
        icon=":material/select_all:",
        key="runs.compare_all",
        help="Opens Compare on this filter, so runs that join it later show up too.",
    ):
        params = {k: v for k, v in run_filter.to_params().items() if v} or {"all": "1"}
        st.switch_page(COMPARE_PAGE, query_params=params)
    note = f"{_plural(matching)} match" if matching != 1 else "1 run matches"
    if selected:
        note += f" · {len(selected)} selected" + (
            f" ({hidden} hidden by the filters)" if hidden else ""
        )
    right.caption(note + " · the run column opens a run's page")


# The same table, refreshing itself while a listed run is queued or training; only this
# fragment reruns, so the filters, the selection and the scroll position stay.
live_runs_table = st.fragment(run_every=LIVE_SECONDS)(runs_table)

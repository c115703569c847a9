"""Which runs Compare shows: a filter's every matching run, or runs picked from a table.

The mode is part of the URL, so a shared link opens the same selection: `runs=` picks runs; a
filter (or `all=1` without one) means every matching run; `mode=pick` marks picking when
neither says so (a filter with nothing picked yet).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from dashboard.run_filter import RunFilter
from dashboard.run_select import filter_bar, selection_table
from dashboard.state import encode, parse_ids, set_url_params
from dashboard.tables import pick
from dashboard.text import run_links

PICKER_COLUMNS = (
    "id", "open", "status", "name", "best_val_accuracy", "study", "source", "optimizer",
    "learning_rate", "batch_size", "epochs", "seed", "progress",
)  # fmt: skip


@dataclass(frozen=True)
class Selection:
    """The runs to compare, newest first, and how they were chosen."""

    ids: list[int]
    run_filter: RunFilter
    picked: bool  # explicit ids (`?runs=`) rather than every run matching the filter


def _to_all_matching() -> None:
    """Choosing a study opens the whole study: every run in it, including later ones."""
    st.session_state["compare.mode"] = "all"


def _mode_changed() -> None:
    """Switching to "pick" starts from the runs that matched, so one can drop a few."""
    if st.session_state.get("compare.mode") == "pick":
        st.query_params["runs"] = encode(st.session_state.get("compare.matching", []))


def selection_panel(runs: pd.DataFrame) -> Selection:
    """Filters, "all matching" or "pick", and the picker table; writes the URL."""
    url_ids = [i for i in parse_ids(st.query_params.get("runs")) if i in set(runs["id"])]
    start_mode = url_mode(st.query_params.to_dict(), bool(url_ids))
    run_filter = filter_bar(runs, "compare.f", on_study_change=_to_all_matching)
    matching = run_filter.apply(runs)
    st.session_state["compare.matching"] = [int(i) for i in matching["id"]]
    mode = st.segmented_control(
        "Runs to compare",
        ["all", "pick"],
        default=start_mode,
        required=True,
        format_func=lambda m: f"All {len(matching)} matching" if m == "all" else "Pick runs",
        key="compare.mode",
        on_change=_mode_changed,
    )
    if mode == "pick":
        ids = _picker(matching, url_ids)
        # `mode=pick` only where the rest of the URL would read as "all matching".
        marked = "pick" if not ids and run_filter.active else None
        set_url_params(runs=ids, all=None, mode=marked, **run_filter.to_params())
        return Selection(ids, run_filter, picked=True)
    ids = [int(i) for i in matching["id"]]
    set_url_params(
        runs=None, mode=None, all=None if run_filter.active else 1, **run_filter.to_params()
    )
    return Selection(ids, run_filter, picked=False)


def url_mode(params: dict[str, str], picked: bool) -> str:
    """ "pick" or "all" as a URL says: picked runs or `mode=pick` pick; a filter or `all=1`
    without them means every matching run; a bare `/compare` starts picking."""
    if picked or params.get("mode") == "pick":
        return "pick"
    if params.get("all") == "1" or RunFilter.from_params(params).active:
        return "all"
    return "pick"


def _picker(matching: pd.DataFrame, picked: list[int]) -> list[int]:
    """The matching runs with row selection (or only the picked ones); returns the picks."""
    only = st.toggle("Show picked runs only", key="compare.picked_only", disabled=not picked)
    shown = matching[matching["id"].isin(picked)] if only and picked else matching
    table = pick(shown.assign(open=run_links(shown["id"])), PICKER_COLUMNS)
    # As tall as its rows (no empty grid under two runs), scrolling past seven.
    height = min(260, 38 + 35 * max(len(table), 1))
    ids = selection_table(table, "compare.picker", picked, height=height)
    if ids:
        listed = ", ".join(f"#{i}" for i in ids[:12]) + (" …" if len(ids) > 12 else "")
        st.caption(f"Picked {len(ids)}: {listed}")
    return ids

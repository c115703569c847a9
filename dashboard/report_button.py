"""The "Save as report" button any page offers: title and note, then freeze the view.

What is frozen is built by `report_snapshot.py`; the write is `actions.store_report`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard.actions import store_report
from dashboard.auth import writes_allowed
from dashboard.nav import REPORT_PAGE
from dashboard.report_snapshot import build_report, default_title
from dashboard.state import require_database
from db.reports import TITLE_MAX

NOTE_MAX = 20_000


def save_report_button(
    kind: str,
    state: Mapping[str, Any],
    runs: pd.DataFrame,
    figures: Mapping[str, go.Figure],
    note: str = "",
    *,
    view: str | None = None,
    key: str = "report",
) -> str | None:
    """A "Save as report" popover: title and Markdown note, then freeze this view.

    Args:
        kind: what is saved, e.g. "run", "compare" (shown on the report and in the list).
        state: the view's settings (URL parameters, picked options); JSON-serialisable.
        runs: the runs shown, as rows with at least `id` (any columns of
            `queries.RUN_COLUMNS`; the ones in SNAPSHOT_COLUMNS are kept).
        figures: title -> figure, stored as Plotly JSON as they are at this moment.
        note: the note's initial text; the user edits it before saving.
        view: the live view's path (`state.share_path(...)`), linked from the report.
        key: widget key prefix, unique per page.

    Returns:
        The new report's id on the run where it was saved, else None.
    """
    run_ids = [int(i) for i in runs["id"]] if "id" in runs.columns else []
    if not writes_allowed():  # team mode, signed out: reports are writes like queueing
        st.button(
            "Save as report",
            icon=":material/bookmark_add:",
            disabled=True,
            help="Sign in (in the sidebar) to save reports.",
            key=f"{key}.locked",
        )
        return None
    with st.popover("Save as report", icon=":material/bookmark_add:"):
        with st.form(f"{key}.form", border=False, clear_on_submit=True):
            title = st.text_input(
                "Title",
                value=default_title(kind, run_ids),
                max_chars=TITLE_MAX,
                # The default follows the runs shown, so the key does too.
                key=f"{key}.title.{'-'.join(map(str, run_ids))}",
            )
            text = st.text_area(
                "Note (Markdown)",
                value=note,
                max_chars=NOTE_MAX,
                key=f"{key}.note",
                placeholder="What this shows, what to try next…",
            )
            st.caption(
                f"Freezes {len(figures)} figure(s) and {len(run_ids)} run(s) as they are now."
            )
            submitted = st.form_submit_button("Save", icon=":material/save:")
        if not submitted:
            return None
        if not title.strip():
            st.error("A report needs a title.", icon=":material/error:")
            return None
        frozen_state, frozen_figures = build_report(kind, state, runs, figures, view)
        report_id = store_report(
            require_database(),
            title=title,
            note=text,
            kind=kind,
            state=frozen_state,
            figures=frozen_figures,
        )
        st.success(f"Saved report `{report_id}`.", icon=":material/bookmark_added:")
        st.page_link(
            REPORT_PAGE,
            label="Open the report",
            icon=":material/bookmark:",
            query_params={"id": report_id},
        )
    return report_id

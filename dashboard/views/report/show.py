"""One saved report, read-only: title, note, the runs as they were, settings and figures.

Notes are Markdown with HTML disabled (Streamlit's default: no `unsafe_allow_html` anywhere);
titles and run names are escaped to plain text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import streamlit as st

from dashboard.nav import RUN_PAGE
from dashboard.text import MISSING, md_escape
from db.reports import ReportRecord


def show_report(report: ReportRecord) -> None:
    """A saved report, read-only: title, note, runs as they were, settings and figures."""
    st.title(md_escape(report.title))
    saved = f"{report.created_at:%Y-%m-%d %H:%M} UTC" if report.created_at else "unknown time"
    st.caption(f"{report.kind} report · saved {saved} · id {report.id}")
    if report.note.strip():
        st.markdown(report.note)  # Markdown; raw HTML is shown as text
    runs = pd.DataFrame(report.state.get("runs") or [])
    if not runs.empty:
        st.subheader("Runs, as they were")
        st.dataframe(runs, hide_index=True, placeholder=MISSING, key="report.runs")
    for position, (name, spec) in enumerate(report.figures.items()):
        figure = figure_from_json(spec)
        if not figure.layout.title.text:  # a titled figure names itself
            st.subheader(md_escape(name))
        st.plotly_chart(figure, width="stretch", key=f"report.figure.{position}")
    settings = report.state.get("settings")
    if settings:
        with st.expander("Settings of the view"):
            st.json(settings)
    _live_links(report)


def _live_links(report: ReportRecord) -> None:
    run_ids = [int(i) for i in report.state.get("run_ids") or []]
    if not run_ids:
        return
    st.caption("The runs today (they may have changed or been deleted since):")
    with st.container(horizontal=True, gap="medium"):
        for run_id in run_ids:
            st.page_link(
                RUN_PAGE,
                label=f"Run {run_id}",
                icon=":material/science:",
                query_params={"id": str(run_id)},
            )
    view = report.state.get("view")
    if view:
        st.caption(f"The live view: `{view}`")


def figure_from_json(spec: Mapping[str, Any]) -> go.Figure:
    """Redraw a stored figure; properties a newer Plotly no longer knows are skipped."""
    return pio.from_json(json.dumps(spec), skip_invalid=True)

"""Reports: every saved report, newest first; each opens read-only at `/report?id=...`."""

from __future__ import annotations

import streamlit as st

from dashboard.nav import COMPARE_PAGE, REPORT_PAGE
from dashboard.queries import fetch_reports
from dashboard.state import require_database
from dashboard.text import md_escape

database = require_database()
st.title("Reports")
st.caption(
    "A report freezes a view (its runs, settings, note and figures) at the moment it was "
    "saved; it reads the same after the runs change or are deleted."
)
reports = fetch_reports(database)
if reports.empty:
    st.info(
        "No report yet: use “Save as report” on a run's page or on Compare.",
        icon=":material/info:",
    )
    st.page_link(COMPARE_PAGE, label="Compare runs", icon=":material/stacked_line_chart:")
    st.stop()

for report in reports.itertuples():
    link, facts = st.columns([2, 3], vertical_alignment="center")
    link.page_link(
        REPORT_PAGE,
        label=md_escape(str(report.title)),
        icon=":material/bookmark:",
        query_params={"id": str(report.id)},
    )
    runs = f" · runs {report.runs}" if report.runs else ""
    facts.caption(f"{report.kind} · {report.created_at:%Y-%m-%d %H:%M} UTC{runs} · id {report.id}")

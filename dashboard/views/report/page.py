"""Report: one saved report at `/report?id=...`, read-only, as it was when saved."""

from __future__ import annotations

import streamlit as st

from dashboard.nav import REPORTS_PAGE
from dashboard.queries import fetch_report
from dashboard.state import require_database, share_path, url_param
from dashboard.views.report.show import show_report

database = require_database()
report_id = (url_param("id") or "").strip()
report = fetch_report(database, report_id) if report_id else None
if report is None:
    st.title("Report")
    if report_id:
        st.warning("There is no report with this id; check the link.", icon=":material/warning:")
    else:
        st.info("This page shows the report in `?id=`.", icon=":material/info:")
    st.page_link(REPORTS_PAGE, label="All reports", icon=":material/bookmarks:")
    st.stop()

show_report(report)
st.caption(f"Share this report: `{share_path('report')}`")

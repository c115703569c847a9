"""The pages, by file: the router builds `st.Page`s from these, views link and switch to them.

Each page is a room of its own, `views/<page>/`, whose `page.py` is the script Streamlit runs.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

VIEWS_DIR = Path(__file__).resolve().parent / "views"
QUEUE_PAGE = VIEWS_DIR / "queue" / "page.py"
RUNS_PAGE = VIEWS_DIR / "runs" / "page.py"
COMPARE_PAGE = VIEWS_DIR / "compare" / "page.py"
SEARCH_PAGE = VIEWS_DIR / "search" / "page.py"  # /search?name=lr-search; the list without it
PREDICT_PAGE = VIEWS_DIR / "predict" / "page.py"
RUN_PAGE = VIEWS_DIR / "run" / "page.py"  # /run?id=N, reached from links only
WORKERS_PAGE = VIEWS_DIR / "workers" / "page.py"
REPORTS_PAGE = VIEWS_DIR / "reports" / "page.py"
REPORT_PAGE = VIEWS_DIR / "report" / "page.py"  # /report?id=..., reached from links only


def _home() -> None:
    """`/` opens Queue at `/queue`.

    Streamlit serves its default page at `/` only, so a visible default Queue page would make
    `/queue` links "page not found"; this hidden default page forwards instead.
    """
    st.switch_page(QUEUE_PAGE)


def sections() -> dict[str, list[st.Page]]:
    """Navigation sections; `url_path` is the slug a shared link carries (`/compare?runs=...`).

    Run and Report pages are hidden from the sidebar (they need an `?id=`) but open by URL.
    """
    return {
        "Experiments": [
            st.Page(_home, title="Weather Lab", default=True, visibility="hidden"),
            st.Page(QUEUE_PAGE, title="Queue", icon=":material/playlist_add:", url_path="queue"),
            st.Page(RUNS_PAGE, title="Runs", icon=":material/table_rows:", url_path="runs"),
            st.Page(
                COMPARE_PAGE,
                title="Compare",
                icon=":material/stacked_line_chart:",
                url_path="compare",
            ),
            st.Page(
                SEARCH_PAGE, title="Search", icon=":material/travel_explore:", url_path="search"
            ),
            st.Page(
                RUN_PAGE,
                title="Run",
                icon=":material/science:",
                url_path="run",
                visibility="hidden",
            ),
            st.Page(WORKERS_PAGE, title="Workers", icon=":material/memory:", url_path="workers"),
        ],
        "Models": [
            st.Page(
                PREDICT_PAGE, title="Predict", icon=":material/image_search:", url_path="predict"
            ),
        ],
        "Share": [
            st.Page(REPORTS_PAGE, title="Reports", icon=":material/bookmarks:", url_path="reports"),
            st.Page(
                REPORT_PAGE,
                title="Report",
                icon=":material/bookmark:",
                url_path="report",
                visibility="hidden",
            ),
        ],
    }

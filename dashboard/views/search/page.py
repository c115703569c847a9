"""Search: one search at `/search?name=lr-search` (best so far, every run's curve, trials,
parameter importance, parallel coordinates, slices, and its actions); every search without
`?name=`."""

from __future__ import annotations

import streamlit as st

from dashboard.queries import fetch_search_view
from dashboard.state import require_database, url_param
from dashboard.text import md_escape
from dashboard.views.search.panels import search_list
from dashboard.views.search.view import is_live, live_search_view, search_view

database = require_database()
name = (url_param("name") or "").strip()
view = fetch_search_view(database, name) if name else None
if view is None:
    st.title("Searches")
    if name:
        st.warning(
            f"There is no search named {md_escape(name)}; pick one below.",
            icon=":material/warning:",
        )
    search_list(database)
elif is_live(view):
    live_search_view(database, view.search.name)
else:
    search_view(database, view)

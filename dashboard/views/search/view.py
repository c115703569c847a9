"""One search's view: header, actions, progress, trials and parameters.

While the search can still queue or run trials, all of it is a fragment that redraws every
few seconds (new trials, epochs and prunings show up as workers write them); a done or
cancelled search without active runs is drawn once.
"""

from __future__ import annotations

import streamlit as st

from dashboard.nav import COMPARE_PAGE
from dashboard.queries import fetch_search_view
from dashboard.state import share_path
from dashboard.views.search.controls import (
    best_seeds_button,
    cancel_button,
    extend_button,
    last_action,
)
from dashboard.views.search.panels import (
    parameters_panel,
    progress_panel,
    search_header,
    trials_table,
)
from db.models import SearchState
from db.session import Database
from experiment.search_views import SearchView

LIVE_SECONDS = 5


def is_live(view: SearchView) -> bool:
    """Whether the search may still change on its own (a worker queues or trains its runs)."""
    return view.search.state is SearchState.RUNNING or view.progress.active > 0


def search_view(database: Database, view: SearchView) -> None:
    """The whole view of one search, from one cached read."""
    search_header(view)
    last_action(view.search.name)
    with st.container(horizontal=True, vertical_alignment="center", gap="medium"):
        best_seeds_button(database, view)
        cancel_button(database, view)
        extend_button(database, view)
        st.page_link(
            COMPARE_PAGE,
            label="Open its runs in Compare",
            icon=":material/stacked_line_chart:",
            query_params={"study": view.search.name},
        )
    st.subheader("Progress")
    progress_panel(view)
    st.subheader("Trials")
    trials_table(view)
    st.subheader("Parameters")
    parameters_panel(view)
    st.caption(f"Share this view: `{share_path('search')}`")


@st.fragment(run_every=LIVE_SECONDS)
def live_search_view(database: Database, name: str) -> None:
    """`search_view` from fresh data every few seconds while the search is live."""
    view = fetch_search_view(database, name)
    if view is None:
        st.warning(f"Search {name} no longer exists.", icon=":material/warning:")
        return
    if not is_live(view):
        st.rerun()  # the whole page, once: drawn as a finished search, no longer refreshing
    search_view(database, view)

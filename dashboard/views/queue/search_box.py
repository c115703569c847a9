"""Queue's Search box: check a search over the form's config, preview it, then create it.

Like a grid, a search is never queued unseen: "Preview search" shows what it is, what it
warns about, its first suggestions and an upper bound on its training time; the preview's
"Queue search" creates it (its first `parallel` runs) and links to its view.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.actions import queue_search
from dashboard.auth import can_write
from dashboard.queries import fetch_run_timings
from dashboard.text import MISSING, id_span, md_escape, plural, search_anchor
from dashboard.views.queue.config_form import config_from_form, load_yaml, show_problems
from dashboard.views.queue.submit import PENDING as BATCH_PENDING
from dashboard.views.queue.submit import SEARCH_PENDING
from db.searches import SearchExists
from db.session import Database
from experiment.config import ConfigError
from experiment.estimate import duration_text
from experiment.search_space import SearchSpec, format_value, parse_search
from experiment.search_views import describe_search, estimate_search_seconds
from experiment.searches import Advance, PlannedTrial, preview, search_warnings

PENDING = SEARCH_PENDING  # session_state: the previewed search, until queued or replaced
QUEUED = "queue.search_queued"  # session_state: what "Queue search" did, shown once


def search_from_box(values: Mapping[str, Any], text: str) -> SearchSpec:
    """The box's search over the form's config, or ConfigError naming each bad field.

    The box holds a `search:` section and, optionally, config fields beside it, which
    replace the form's (a whole search file pasted in works as it is). A `name:` in the box
    without a `study:` names the search, whatever the form's Study says.
    """
    document = load_yaml(text, "search")
    if not isinstance(document, dict) or "search" not in document:
        raise ConfigError(
            [
                (
                    "search",
                    "start with a `search:` section (objective, budget, space; see the "
                    "box's placeholder), optionally beside config fields",
                )
            ]
        )
    merged = {**config_from_form(values), **{str(k): v for k, v in document.items()}}
    if "name" in document and "study" not in document:
        merged["study"] = None
    return parse_search(merged, source="search box")


def preview_search(values: Mapping[str, Any], text: str, note: str = "") -> None:
    """Check the box and keep the search for `search_panel`, or say what is wrong."""
    st.session_state.pop(PENDING, None)
    st.session_state.pop(BATCH_PENDING, None)
    try:
        spec = search_from_box(values, text)
    except ConfigError as error:
        show_problems(error)
        return
    st.session_state[PENDING] = {
        "spec": spec.to_json(),
        "warnings": list(spec.warnings),
        "note": note,
    }


def suggestions_table(spec: SearchSpec, planned: list[PlannedTrial]) -> pd.DataFrame:
    """One row per first suggestion: its trial number and searched values (as run names show
    them), and why its config is invalid when one is."""
    rows = [
        {
            "trial": trial.trial,
            **{p.name: format_value(trial.params.get(p.name)) for p in spec.params},
            "problem": trial.error,
        }
        for trial in planned
    ]
    columns = ["trial", *(p.name for p in spec.params)]
    if any(trial.error for trial in planned):
        columns.append("problem")
    return pd.DataFrame(rows, columns=columns)


def queued_message(spec: SearchSpec, result: Advance) -> str:
    """`Queued search NAME: N runs` (linked to its view), and what happens next."""
    runs = plural(len(result.queued))
    text = f"Queued search {search_anchor(spec.name)}: {runs}"
    if result.queued:
        text += f" ({id_span(list(result.queued))})"
    if result.reused:
        text += f"; {plural(len(result.reused), 'trial')} reused an earlier run's result"
    if result.invalid:
        text += f"; {plural(len(result.invalid), 'trial')} had an invalid config"
    return text + (
        f". Workers queue the next ones as runs finish, up to {plural(spec.budget)} in all."
    )


def search_panel(database: Database) -> None:
    """The previewed search: what it is, warnings, first suggestions, estimate, and the
    button that creates it."""
    done = st.session_state.pop(QUEUED, None)
    if done:
        st.success(done, icon=":material/check_circle:")
    pending = st.session_state.get(PENDING)
    if not pending:
        return
    spec = SearchSpec.from_json(pending["spec"])
    with st.container(border=True):
        st.markdown(f"#### Search preview: {md_escape(spec.name)}")
        if pending["note"]:
            st.info(pending["note"], icon=":material/info:")
        for line in describe_search(spec):
            st.markdown(md_escape(line))
        with database.read() as session:
            notes = [*pending["warnings"], *search_warnings(session, spec)]
        for note in dict.fromkeys(notes):
            st.warning(md_escape(note), icon=":material/warning:")
        planned = preview(spec)
        st.markdown(f"**First {plural(len(planned), 'suggestion')}** (queued at once)")
        st.dataframe(
            suggestions_table(spec, planned),
            hide_index=True,
            placeholder=MISSING,
            key="search.preview",
        )
        seconds = estimate_search_seconds(spec, planned, fetch_run_timings(database))
        st.caption(
            f"At most {duration_text(seconds)} of training for {plural(spec.budget)} on one "
            f"worker (every run at {spec.max_epochs} epochs; pruning ends runs sooner)."
            if seconds is not None
            else "No past run is like these, so there is no time estimate yet."
        )
        _buttons(database, spec)


def _buttons(database: Database, spec: SearchSpec) -> None:
    queue, discard = st.columns([1, 4], vertical_alignment="center")
    if queue.button("Queue search", type="primary", key="search.queue"):
        if not can_write("queue runs"):
            return
        try:
            result = queue_search(database, spec)
        except SearchExists as error:
            st.error(str(error), icon=":material/error:")
            return
        del st.session_state[PENDING]
        st.session_state[QUEUED] = queued_message(spec, result)
        st.rerun()
    if discard.button("Discard preview", key="search.discard"):
        del st.session_state[PENDING]
        st.rerun()

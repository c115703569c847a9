"""The search view's buttons: queue the best config with 3 seeds, cancel, extend the budget.

Each says what it did (kept in session state across the rerun that redraws the view), in
words a user can check on the Runs page: which runs were queued, cancelled or asked to stop.
"""

from __future__ import annotations

from urllib.parse import quote

import streamlit as st

from dashboard.actions import cancel_search, extend_search_budget, queue_configs
from dashboard.auth import can_write
from dashboard.text import id_span, md_escape, plural
from db.models import SearchState
from db.searches import StudyCancel
from db.session import Database
from experiment.search_views import SearchView, best_config_with_seeds, best_trial
from experiment.searches import Advance

MESSAGE = "search.message"  # session_state: (search name, what the last action did)
SEEDS = 3


def last_action(name: str) -> None:
    """What the user's last action on this search did, until the page shows another search."""
    message = st.session_state.get(MESSAGE)
    if message and message[0] == name:
        st.success(message[1], icon=":material/check_circle:")


def _tell(name: str, message: str) -> None:
    st.session_state[MESSAGE] = (name, message)


def cancel_message(name: str, done: StudyCancel) -> str:
    """What "Cancel search" did: the search stopped (or had ended), runs cancelled, stopping."""
    head = (
        f"Search {name} cancelled: no more runs will be queued"
        if done.search is not None
        else f"Search {name} had already ended"
    )
    parts = [f"{plural(len(done.cancelled), 'queued run')} cancelled"]
    if done.stopping:
        parts.append(
            f"{plural(len(done.stopping), 'running run')} asked to stop (at the worker's "
            "next heartbeat)"
        )
    return f"{md_escape(head)}; " + ", ".join(parts) + "."


def extend_message(name: str, budget: int, parallel: int, result: Advance) -> str:
    """What "Extend budget" did: the new budget and the runs it queued now, or why none."""
    text = f"Budget of {md_escape(name)} set to {plural(budget)}"
    if result.queued:
        text += f"; queued {id_span(list(result.queued))} now"
    if result.reused:
        text += f"; {plural(len(result.reused), 'trial')} reused an earlier run's result"
    if result.invalid:
        text += f"; {plural(len(result.invalid), 'trial')} had an invalid config"
    if not (result.queued or result.reused or result.invalid):
        if result.state is SearchState.DONE:
            text += "; the search is done: every trial it may have has finished"
        else:
            text += (
                f"; nothing more queued now: {plural(parallel)} at once are queued or "
                "running already, the next are queued as those finish"
            )
    return text + "."


def best_seeds_button(database: Database, view: SearchView) -> None:
    """Queue the best trial's config under 3 new seeds, as one study, for a fair comparison."""
    configs = best_config_with_seeds(view.spec, view.trials, SEEDS)
    best = best_trial(view.spec, view.trials)
    clicked = st.button(
        f"Queue the best config with {SEEDS} seeds",
        icon=":material/stars:",
        disabled=not configs,
        help=(
            f"Trial {best.trial}'s config with seeds {', '.join(str(c.seed) for c in configs)}, "
            f"as study `{configs[0].study}`: is its result more than luck of the seed?"
            if best is not None and configs
            else "No trial has succeeded yet."
        ),
        key="search.best_seeds",
    )
    if clicked and configs and best is not None and can_write("queue runs"):
        ids = queue_configs(database, configs)
        study = configs[0].study or ""
        _tell(
            view.search.name,
            f"Queued {id_span(ids)}: trial {best.trial}'s config with seeds "
            f"{', '.join(str(c.seed) for c in configs)}, as study "
            f"[{md_escape(study)}](compare?study={quote(study, safe='')}) (opens them in Compare).",
        )
        st.rerun()


def cancel_button(database: Database, view: SearchView) -> None:
    """Stop the search and its runs, after a confirmation."""
    if view.search.state is not SearchState.RUNNING and not view.progress.active:
        return
    with st.popover("Cancel search", icon=":material/cancel:"):
        st.write(
            f"Stop search {view.search.name}: no more runs are queued, its "
            f"{plural(view.progress.active, 'queued or running run')} are cancelled. "
            "Finished runs stay; Extend budget starts it again."
        )
        clicked = st.button("Cancel the search", type="primary", key="search.cancel")
    if clicked and can_write("cancel searches"):
        done = cancel_search(database, view.search.name)
        _tell(view.search.name, cancel_message(view.search.name, done))
        st.rerun()


def extend_button(database: Database, view: SearchView) -> None:
    """Set a new budget (never below the trials the search has) and queue what fits now."""
    with st.popover("Extend budget", icon=":material/add_circle:"):
        budget = st.number_input(
            "Runs in all",
            min_value=max(view.progress.total, 1),
            value=view.search.budget + view.search.parallel,
            step=1,
            help=f"Now {view.search.budget}; {view.progress.total} trials exist. A done or "
            "cancelled search given room runs again.",
            key="search.budget",
        )
        clicked = st.button("Set budget", type="primary", key="search.extend")
    if clicked and can_write("extend searches"):
        try:
            result = extend_search_budget(database, view.search.name, int(budget))
        except (LookupError, ValueError) as error:
            st.error(str(error), icon=":material/error:")
            return
        _tell(
            view.search.name,
            extend_message(view.search.name, int(budget), view.search.parallel, result),
        )
        st.rerun()

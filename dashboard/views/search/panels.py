"""The search view's parts: the list of searches, the header, progress, trials, parameters.

Each reads the `SearchView` (one cached read: the spec and every trial with its objective by
epoch) and draws from the rows `experiment.search_views` makes.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.nav import QUEUE_PAGE
from dashboard.queries import fetch_searches
from dashboard.text import (
    MISSING,
    RUN_LINK_TEXT,
    md_escape,
    plural,
    run_anchor,
    run_links,
    search_link,
)
from dashboard.text import stop_text as stop_words
from dashboard.views.search.figures import (
    best_so_far_figure,
    curves_figure,
    importance_figure,
    parallel_figure,
    slice_figure,
)
from db.session import Database
from experiment.search_views import (
    SearchView,
    best_so_far,
    best_trial,
    curve_rows,
    describe_search,
    importance_rows,
    objective_value,
    slice_rows,
    trial_rows,
)

SLICES_PER_ROW = 3


def search_list(database: Database) -> None:
    """Every search with its state and progress; each links to its view."""
    searches = fetch_searches(database)
    if searches.empty:
        st.info(
            "No search yet. Queue one from the Queue page's Search box, or with "
            '`python -m trainer queue search.yaml` (README, "Search").',
            icon=":material/info:",
        )
        st.page_link(QUEUE_PAGE, label="Queue a search", icon=":material/playlist_add:")
        return
    table = searches.assign(open=searches["name"].map(search_link))
    columns = ["open", "name", "state", "objective", "finished", "budget", "active", "created_at"]
    st.dataframe(
        table[columns],
        hide_index=True,
        placeholder=MISSING,
        column_config={
            "open": st.column_config.LinkColumn("search", display_text="open", width="small"),
            "finished": st.column_config.NumberColumn("runs finished", format="%d"),
            "budget": st.column_config.NumberColumn("budget", format="%d"),
            "active": st.column_config.NumberColumn("queued or running", format="%d"),
            "created_at": st.column_config.DatetimeColumn("created", format="YYYY-MM-DD HH:mm"),
        },
        key="search.list",
    )


def search_header(view: SearchView) -> None:
    """What the search is, how far it got and its best run so far."""
    spec, search, progress = view.spec, view.search, view.progress
    st.title(f"Search {md_escape(search.name)}")
    st.caption(md_escape(" · ".join(describe_search(spec))))
    state, runs, active, best = st.columns(4)
    state.metric("state", search.state.value)
    runs.metric("runs finished", f"{progress.finished} of {search.budget}")
    active.metric("queued or running", f"{progress.active} (at most {search.parallel})")
    top = best_trial(spec, view.trials)
    value = objective_value(spec, top) if top is not None else None
    best.metric(
        f"best {spec.objective.metric}",
        MISSING if value is None else f"{value:.4g}",
        help=f"The best epoch's value of a succeeded run ({spec.objective.direction}).",
    )
    if top is not None:
        link = run_anchor(top.run_id, f"trial {top.trial}")
        st.markdown(f"Best so far: {link} · {md_escape(top.name)}")


def progress_panel(view: SearchView) -> None:
    """Best so far against runs finished and wall time, and every run's curve."""
    spec = view.spec
    metric, direction = spec.objective.metric, spec.objective.direction
    best = pd.DataFrame(best_so_far(spec, view.trials))
    if best.empty:
        st.caption("No run of this search has finished yet; the charts fill in as they do.")
    elif best["value"].isna().all():
        st.caption(
            f"{plural(len(best), 'run')} of this search ended without a result (failed or "
            "cancelled before an epoch); the best-so-far charts start at the first result."
        )
    else:
        left, right = st.columns(2)
        left.plotly_chart(
            best_so_far_figure(best, metric, direction, "finished"),
            width="stretch",
            key="search.best.runs",
        )
        right.plotly_chart(
            best_so_far_figure(best, metric, direction, "finished_at"),
            width="stretch",
            key="search.best.time",
        )
    curves = pd.DataFrame(curve_rows(spec, view.trials))
    if not curves.empty:
        st.plotly_chart(curves_figure(curves, metric), width="stretch", key="search.curves")


def trials_table(view: SearchView) -> None:
    """One row per trial: its run, state, objective, epochs, why it stopped and its values."""
    rows = pd.DataFrame(trial_rows(view.spec, view.trials))
    if rows.empty:
        st.caption("No trial yet.")
        return
    rows["open"] = run_links(rows["run_id"])
    rows["stopped"] = [
        stop_words(reason, detail, epochs)
        for reason, detail, epochs in zip(
            rows["stop_reason"], rows["stop_detail"], rows["epochs"], strict=True
        )
    ]
    params = [p.name for p in view.spec.params]
    columns = ["trial", "open", "state", "objective", "epochs", *params, "stopped", "attempt"]
    st.dataframe(
        rows[columns],
        hide_index=True,
        placeholder=MISSING,
        column_config={
            "trial": st.column_config.NumberColumn("trial", format="%d", width="small"),
            "open": st.column_config.LinkColumn("run", display_text=RUN_LINK_TEXT, width="small"),
            "objective": st.column_config.NumberColumn(view.spec.objective.metric, format="%.4f"),
            "epochs": st.column_config.NumberColumn("epochs used", format="%d"),
            "stopped": st.column_config.TextColumn("stopped", width="large"),
        },
        key="search.trials",
    )


def parameters_panel(view: SearchView) -> None:
    """Which fields mattered (importance), how they combine (parallel coordinates), and each
    field against the objective (slices)."""
    spec, trials = view.spec, view.trials
    metric = spec.objective.metric
    table = pd.DataFrame(trial_rows(spec, trials))
    if table.empty or table["objective"].isna().all():
        st.caption("The parameter charts need a finished run with a result.")
        return
    importance = pd.DataFrame(importance_rows(spec, trials))
    if importance.empty:
        st.caption("Parameter importance needs at least two succeeded runs with different results.")
    else:
        st.plotly_chart(importance_figure(importance), width="stretch", key="search.importance")
    st.plotly_chart(
        parallel_figure(table, spec.params, metric, spec.objective.direction),
        width="stretch",
        key="search.parallel",
    )
    columns = st.columns(min(SLICES_PER_ROW, len(spec.params)))
    for index, param in enumerate(spec.params):
        rows = pd.DataFrame(slice_rows(spec, trials, param.name))
        columns[index % len(columns)].plotly_chart(
            slice_figure(rows, param, metric), width="stretch", key=f"search.slice.{param.name}"
        )

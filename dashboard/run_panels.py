"""Panels that show runs: one run's details (Runs page) and the curves of several (Compare)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import pandas as pd
import streamlit as st

from dashboard.charts import METRICS, Metric, curves_figure, differing_knobs
from dashboard.queries import fetch_curves, fetch_model_summary, fetch_runs, layers_frame
from dashboard.tables import RUNS_COLUMNS, column_config, pick
from db.artifacts import ArtifactIntegrityError
from db.session import Database

# Inline Markdown syntax; line-start syntax (#, -, 1.) cannot occur after our own prefixes.
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]<>|~$])")


def md_escape(text: str) -> str:
    """User-typed text (run names, dataset warnings) shown literally inside Markdown."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text)


def _fraction(value: float | None) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:.3f}"


def run_details(database: Database, run: pd.Series) -> None:
    """Everything about one run: outcome, error, curves, config and model summary."""
    st.subheader(f"Run {run['id']} · {md_escape(str(run['name']))}")
    status, epochs, best, last = st.columns(4)
    status.metric("status", run["status"])
    epochs.metric("epochs done", run["epochs_text"])
    at_epoch = "" if pd.isna(run["best_epoch"]) else f" (epoch {int(run['best_epoch'])})"
    best.metric(f"best val accuracy{at_epoch}", _fraction(run["best_val_accuracy"]))
    last.metric("last val accuracy", _fraction(run["last_val_accuracy"]))
    if run["stop_reason"]:
        detail = f": {run['stop_detail']}" if run["stop_detail"] else ""
        st.text(f"Stop reason {run['stop_reason']}{detail}")
    if run["cancel_requested"] and run["status"] == "running":
        st.info("Cancellation requested; the worker stops at its next heartbeat.")
    for warning in run["warnings"] or []:
        st.warning(md_escape(warning))
    if run["error"]:
        st.markdown("**Error**")
        st.code(run["error"], language=None, wrap_lines=True)  # text, never HTML
    curves_tab, config_tab, model_tab = st.tabs(["Curves", "Config", "Model"])
    with curves_tab:
        _run_curves(database, run)
    with config_tab:
        st.json(run["config"], expanded=True)
    with model_tab:
        _model_summary(database, run)


def _run_curves(database: Database, run: pd.Series) -> None:
    curves = fetch_curves(database, (int(run["id"]),))
    if curves.empty:
        st.caption("No epoch recorded yet.")
        return
    runs = run.to_frame().T
    for column, metric in zip(st.columns(2), METRICS, strict=True):
        figure = curves_figure(curves, runs, metric=metric, color_by="run")
        column.plotly_chart(figure, width="stretch", key=f"run_curves_{metric}")


def _model_summary(database: Database, run: pd.Series) -> None:
    if run["status"] != "succeeded":
        st.caption("Only succeeded runs store a model.")
        return
    try:
        summary = fetch_model_summary(database, int(run["id"]))
    except ArtifactIntegrityError as error:
        st.error(str(error))
        return
    if summary is None:
        st.caption("This run stored no model.")
        return
    st.caption(f"{summary.get('name', 'model')}: {summary.get('total_params', 0):,} parameters")
    st.dataframe(
        layers_frame(summary),
        hide_index=True,
        column_config={"params": st.column_config.NumberColumn(format="localized")},
    )


def compare_panel(
    database: Database, run_ids: Sequence[int], metric: Metric, color_by: str
) -> None:
    """The curves of the selected runs and a table of what differs between them."""
    runs = fetch_runs(database)
    runs = runs[runs["id"].isin(run_ids)]
    if runs.empty:
        st.info("None of these runs exists any more.")
        return
    curves = fetch_curves(database, tuple(sorted(run_ids)))
    figure = curves_figure(curves, runs, metric=metric, color_by=color_by)
    st.plotly_chart(figure, width="stretch", key="compare_chart")
    differing = differing_knobs(runs)
    columns = ["id", "name", "status", *differing, "best_val_accuracy", "best_epoch", "epochs_text"]
    st.dataframe(
        pick(runs, columns), column_config=column_config(), hide_index=True, key="compare_table"
    )
    if not differing:
        st.caption("These runs share every key hyper-parameter.")


def selectable_runs(runs: pd.DataFrame, selected: Sequence[int]) -> list[int]:
    """The runs table with row selection; returns the selected run ids, first selected first.

    A selection is a list of row positions, which only mean something for the rows it was made
    on, so the widget's key changes whenever the rows do; the new table then re-selects the
    URL's run ids by id.
    """
    table = pick(runs, RUNS_COLUMNS)
    ids = [int(i) for i in table["id"]]
    digest = hashlib.sha1(",".join(map(str, ids)).encode(), usedforsecurity=False).hexdigest()
    event = st.dataframe(
        table,
        column_config=column_config(),
        hide_index=True,
        on_select="rerun",
        selection_mode="multi-row",
        selection_default={"selection": {"rows": [ids.index(i) for i in selected if i in ids]}},
        placeholder="–",
        key=f"runs.table.{digest[:12]}",
    )
    return [ids[row] for row in event.selection.rows if row < len(ids)]


# The same panel, refreshing itself every 3 s while a selected run is still training.
live_compare_panel = st.fragment(run_every=3)(compare_panel)

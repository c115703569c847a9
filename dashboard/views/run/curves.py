"""The Run page's Curves tab: accuracy, loss, every other logged metric and the learning rate
by epoch, and per-batch values by step when the run logged them."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard.queries import RUN_CURVE_COLUMNS, fetch_run_curves, fetch_run_steps
from dashboard.text import MISSING
from dashboard.views.run.figures import (
    Figures,
    learning_rate_figure,
    phase_label,
    run_curves_figure,
    steps_figure,
)
from db.entities import RunRecord
from db.session import Database
from experiment.metrics import MetricDirections, is_validation, train_name


def curves_panel(
    database: Database,
    run: RunRecord,
    figures: Figures,
    directions: MetricDirections | None = None,
) -> None:
    """Accuracy and loss by epoch, the run's other metrics (train and validation together,
    each one's best epoch starred where its direction is known), the learning rate, mean
    epoch time, the numbers, and the per-batch chart."""
    if run.status.value == "running":
        st.caption(f"Training: {run.epochs_done} of {run.epochs} epochs done; live.")
    curves = fetch_run_curves(database, run.id)
    steps = fetch_run_steps(database, run.id)
    if curves.empty and steps.empty:
        st.caption(
            "No epoch recorded yet."
            if run.status.value in ("queued", "running")
            else "This run recorded no epoch."
        )
        return
    charts = _epoch_figures(curves, run, directions or MetricDirections())
    if not steps.empty:
        charts.append(("Per batch", steps_figure(steps)))
    left, right = st.columns(2)
    for index, (title, figure) in enumerate(charts):
        column = left if index % 2 == 0 else right
        column.plotly_chart(figure, width="stretch", key=f"run.curves.{title.lower()}")
        figures[title] = figure
    for phase in run.phases[1:]:
        label = phase_label(phase)
        st.caption(f"{label[0].upper()}{label[1:]} (the dotted line).")
    seconds = curves["epoch_seconds"].dropna()
    if not seconds.empty:
        st.metric("mean epoch time", f"{seconds.mean():.1f} s")
    if not curves.empty:
        with st.expander("Per-epoch numbers"):
            st.dataframe(curves, hide_index=True, placeholder=MISSING, key="run.curves.table")
    if not steps.empty:
        with st.expander(f"Per-batch numbers ({len(steps)} steps)"):
            st.dataframe(steps, hide_index=True, placeholder=MISSING, key="run.steps.table")


def other_metrics(curves: pd.DataFrame) -> list[str]:
    """The training names of the metrics beyond the lab's standard ones (`auc` for `auc` and
    `val_auc`), in the curves' (picker) order."""
    return list(dict.fromkeys(train_name(c) for c in curves.columns if c not in RUN_CURVE_COLUMNS))


def _epoch_figures(
    curves: pd.DataFrame, run: RunRecord, directions: MetricDirections
) -> list[tuple[str, go.Figure]]:
    """(title, figure) for accuracy and loss (when logged), every other metric, and the
    learning rate."""
    charts: list[tuple[str, go.Figure]] = []
    if curves.empty:
        return charts
    for metric in ("accuracy", "loss"):
        if curves[[metric, f"val_{metric}"]].notna().any().any():
            figure = run_curves_figure(curves, metric, run.best_epoch, phases=run.phases)
            charts.append((metric.capitalize(), figure))
    for metric in other_metrics(curves):
        judged = f"val_{metric}" if f"val_{metric}" in curves.columns else metric
        best = directions.best(judged, curves[judged].tolist())
        epoch = int(curves["epoch"].iloc[best[0]]) if best else None
        label = f"best {'val ' if is_validation(judged) else ''}{metric}"
        charts.append((metric, run_curves_figure(curves, metric, epoch, label, run.phases)))
    if curves["learning_rate"].notna().any():
        charts.append(("Learning rate", learning_rate_figure(curves, run.phases)))
    return charts

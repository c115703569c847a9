"""The Run page's Curves tab: accuracy, loss and learning rate by epoch."""

from __future__ import annotations

import streamlit as st

from dashboard.queries import fetch_run_curves
from dashboard.text import MISSING
from dashboard.views.run.figures import (
    Figures,
    learning_rate_figure,
    phase_label,
    run_curves_figure,
)
from db.entities import RunRecord
from db.session import Database


def curves_panel(database: Database, run: RunRecord, figures: Figures) -> None:
    """Accuracy and loss by epoch, the learning rate, mean epoch time and the numbers."""
    if run.status.value == "running":
        st.caption(f"Training: {run.epochs_done} of {run.epochs} epochs done; live.")
    curves = fetch_run_curves(database, run.id)
    if curves.empty:
        st.caption(
            "No epoch recorded yet."
            if run.status.value in ("queued", "running")
            else "This run recorded no epoch."
        )
        return
    accuracy = run_curves_figure(curves, "accuracy", run.best_epoch, run.phases)
    loss = run_curves_figure(curves, "loss", run.best_epoch, run.phases)
    left, right = st.columns(2)
    left.plotly_chart(accuracy, width="stretch", key="run.curves.accuracy")
    right.plotly_chart(loss, width="stretch", key="run.curves.loss")
    figures.update({"Accuracy": accuracy, "Loss": loss})
    if curves["learning_rate"].notna().any():
        rate = learning_rate_figure(curves, run.phases)
        left.plotly_chart(rate, width="stretch", key="run.curves.lr")
        figures["Learning rate"] = rate
    for phase in run.phases[1:]:
        label = phase_label(phase)
        st.caption(f"{label[0].upper()}{label[1:]} (the dotted line).")
    seconds = curves["epoch_seconds"].dropna()
    if not seconds.empty:
        right.metric("mean epoch time", f"{seconds.mean():.1f} s")
    with st.expander("Per-epoch numbers"):
        st.dataframe(curves, hide_index=True, placeholder=MISSING, key="run.curves.table")

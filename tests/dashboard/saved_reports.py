"""A saved report in the seeded lab, for the Reports and Report pages' tests."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.report_snapshot import build_report
from db.reports import save_report
from tests.dashboard.conftest import Lab

NOTE = "Adam **wins**.\n\n<script>alert('x')</script> <b>not bold</b>"


def saved_report(lab: Lab, run_ids: list[int], title: str = "Adam <i>vs</i> SGD") -> str:
    figure = go.Figure(go.Bar(x=["cloudy", "rain"], y=[0.9, 0.5], name="adam"))
    state, figures = build_report(
        "compare",
        {"metric": "accuracy", "color": "optimizer"},
        pd.DataFrame({"id": run_ids, "name": [f"run {i}" for i in run_ids]}),
        {"Accuracy per class": figure},
        view="/compare?runs=1,2",
    )
    with lab.database.begin() as session:
        return save_report(
            session, title=title, note=NOTE, kind="compare", state=state, figures=figures
        )

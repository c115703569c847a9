"""What a report freezes: figures round-trip as JSON; runs, ids and settings kept."""

from __future__ import annotations

import json

import pandas as pd
import plotly.graph_objects as go

from dashboard.report_snapshot import build_report, default_title, figure_json
from dashboard.views.report.show import figure_from_json


def test_figure_json_round_trips() -> None:
    """A figure frozen as JSON redraws with the same data and layout."""
    figure = go.Figure(go.Heatmap(z=[[1, -2], [0, 3]], x=["a", "b"], y=["a", "b"]))
    figure.update_layout(title="delta")
    again = figure_from_json(json.loads(json.dumps(figure_json(figure))))
    assert [list(row) for row in again.data[0].z] == [[1, -2], [0, 3]]
    assert again.layout.title.text == "delta"


def test_build_report_keeps_ids_runs_and_settings() -> None:
    """The frozen state names the runs, keeps their rows as JSON, and the view's settings."""
    runs = pd.DataFrame(
        {"id": [3, 5], "name": ["a", "b"], "best_val_accuracy": [0.9, float("nan")]}
    )
    state, figures = build_report("compare", {"metric": "loss"}, runs, {}, view="/compare")
    assert state["run_ids"] == [3, 5]
    assert state["runs"][1] == {"id": 5, "name": "b", "best_val_accuracy": None}
    assert state["settings"] == {"metric": "loss"} and figures == {}
    assert default_title("compare", [3, 5]) == "Compare: runs 3, 5"
    assert default_title("run", [3, 5]) == "Run 3 versus run 5"

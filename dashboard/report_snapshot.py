"""What a report freezes: the runs as rows, the view's settings and its figures as JSON.

Pure functions; `report_button.py` offers "Save as report", `actions.store_report` writes it and
the Report page (`views/report/`) draws it again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

# What a report keeps of each run: enough to read it after the run is gone.
SNAPSHOT_COLUMNS = (
    "id", "name", "study", "status", "architecture", "optimizer", "learning_rate", "batch_size",
    "epochs", "image_size", "augmented", "seed", "epochs_text", "best_val_accuracy",
    "best_epoch", "last_val_accuracy", "stop_reason", "stop_detail", "finished_at",
)  # fmt: skip


def figure_json(figure: go.Figure) -> dict[str, Any]:
    """A figure as plain JSON (what Plotly itself writes), to store and redraw identically."""
    return dict(json.loads(figure.to_json()))


def runs_snapshot(runs: pd.DataFrame) -> list[dict[str, Any]]:
    """The runs' rows as JSON records: NaN becomes null, times ISO text."""
    columns = [c for c in SNAPSHOT_COLUMNS if c in runs.columns]
    records = runs[columns].to_json(orient="records", date_format="iso")
    return list(json.loads(records))


def json_safe(value: Any) -> Any:
    """`value` after a JSON round trip (numbers, text, lists, dicts; anything else as text)."""
    return json.loads(json.dumps(value, default=str))


def default_title(kind: str, run_ids: Sequence[int]) -> str:
    """`Run 3 versus run 5` for a run page, `Compare: runs 3, 5, 8` for others."""
    if kind == "run" and run_ids:
        others = ", ".join(str(i) for i in run_ids[1:])
        return f"Run {run_ids[0]}" + (f" versus run {others}" if others else "")
    shown = ", ".join(str(i) for i in run_ids[:8]) + (" …" if len(run_ids) > 8 else "")
    noun = "run" if len(run_ids) == 1 else "runs"
    return f"{kind.capitalize()}: {noun} {shown}" if run_ids else kind.capitalize()


def build_report(
    kind: str,
    state: Mapping[str, Any],
    runs: pd.DataFrame,
    figures: Mapping[str, go.Figure],
    view: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (state, figures) JSON a report stores for this view."""
    run_ids = [int(i) for i in runs["id"]] if "id" in runs.columns else []
    frozen_state = {
        "run_ids": run_ids,
        "runs": runs_snapshot(runs),
        "settings": json_safe(dict(state)),
        "view": view,
    }
    return frozen_state, {name: figure_json(figure) for name, figure in figures.items()}

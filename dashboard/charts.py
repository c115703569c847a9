"""Figures as pure functions of DataFrames, so they are tested without Streamlit.

Curves use one trace per (group, train/validation) with NaN gaps between runs instead of one
trace per run: Plotly's cost grows with the number of traces far more than with points
(1,000 runs drew in ~20 ms this way against ~1 s with a trace each).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

Metric = Literal["accuracy", "loss"]
METRICS: tuple[Metric, ...] = ("accuracy", "loss")

# The knobs a study turns, in the order a default colouring prefers them.
KNOBS: tuple[str, ...] = (
    "optimizer",
    "batch_size",
    "epochs",
    "architecture",
    "learning_rate",
    "augmented",
    "image_size",
    "study",
)
COLOR_CHOICES: tuple[str, ...] = (*KNOBS, "run")
PALETTE: tuple[str, ...] = tuple(qualitative.Plotly) + tuple(qualitative.D3[1:])

_SPLITS = (("train", "", "solid"), ("val", "val_", "dash"))


def differing_knobs(runs: pd.DataFrame, knobs: Sequence[str] = KNOBS) -> list[str]:
    """The knobs that take more than one value among `runs` (None counts as a value)."""
    return [k for k in knobs if k in runs.columns and runs[k].nunique(dropna=False) > 1]


def default_color_by(runs: pd.DataFrame) -> str:
    """Colour by the first knob that differs, else one colour per run."""
    differing = differing_knobs(runs)
    return differing[0] if differing else "run"


def format_value(value: Any) -> str:
    """A knob's value as a legend shows it: `0.001`, `16`, `adam`, `none`."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "none"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        return f"{float(value):g}"
    return str(value)


def _sort_key(value: Any) -> tuple[int, float, str]:
    """Numbers in numeric order, then text, then missing values last."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return (2, 0.0, "")
    if isinstance(value, bool | int | float | np.number):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def _with_gaps(curves: pd.DataFrame) -> pd.DataFrame:
    """Append one all-NaN row after each run, so a single line breaks between runs."""
    ordered = curves.sort_values(["run_id", "epoch"], kind="stable").assign(_gap=0)
    gaps = ordered.drop_duplicates("run_id", keep="last").assign(_gap=1)
    value_columns = [c for c in ordered.columns if c not in ("run_id", "name", "_group", "_gap")]
    gaps[value_columns] = np.nan
    both = pd.concat([ordered, gaps], ignore_index=True)
    return both.sort_values(["run_id", "_gap", "epoch"], kind="stable")


def curves_figure(
    curves: pd.DataFrame,
    runs: pd.DataFrame,
    *,
    metric: Metric = "accuracy",
    color_by: str = "run",
) -> go.Figure:
    """Overlay train (solid) and validation (dashed) curves of `metric`, coloured by a knob.

    Args:
        curves: long format, one row per run and epoch (`queries.curves_frame`).
        runs: one row per run with `id`, `name` and the knobs (`queries.runs_frame`).
        metric: "accuracy" or "loss".
        color_by: a knob from KNOBS, or "run" for one colour per run.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    if color_by not in COLOR_CHOICES:
        raise ValueError(f"color_by must be one of {COLOR_CHOICES}, got {color_by!r}")
    figure = go.Figure()
    _curves_layout(figure, metric)
    info = runs.set_index("id")
    data = curves[curves["run_id"].isin(info.index)]
    if data.empty:
        figure.add_annotation(
            text="No epochs recorded yet", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper"
        )
        return figure
    group_of = info.index.to_series() if color_by == "run" else info[color_by]
    data = data.assign(
        name=data["run_id"].map(info["name"]).astype(str).map(html.escape),
        _group=data["run_id"].map(group_of),
    )
    framed = _with_gaps(data)
    for position, group in enumerate(sorted(data["_group"].drop_duplicates(), key=_sort_key)):
        members = framed[_same(framed["_group"], group)].iloc[:-1]  # no gap after the last run
        label = f"{color_by}={format_value(group)}"
        for split, prefix, dash in _SPLITS:
            figure.add_trace(
                _curve_trace(members, f"{prefix}{metric}", f"{label} · {split}", dash, position)
            )
    return figure


def _same(column: pd.Series, value: Any) -> pd.Series:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return column.isna()
    return column == value


def _curve_trace(
    members: pd.DataFrame, column: str, label: str, dash: str, position: int
) -> go.Scatter:
    color = PALETTE[position % len(PALETTE)]
    return go.Scatter(
        x=members["epoch"].to_numpy(dtype=float),
        y=members[column].to_numpy(dtype=float),
        customdata=members[["run_id", "name"]].to_numpy(dtype=object),
        name=label,
        legendgroup=label.rsplit(" · ", 1)[0],
        mode="lines+markers",
        marker={"size": 4, "color": color},
        line={"color": color, "dash": dash, "width": 2},
        connectgaps=False,
        hovertemplate=(
            "run %{customdata[0]} · %{customdata[1]}<br>epoch %{x}<br>"
            f"{column} " + "%{y:.4f}<extra>%{fullData.name}</extra>"
        ),
    )


def _curves_layout(figure: go.Figure, metric: Metric) -> None:
    figure.update_layout(
        xaxis_title="epoch",
        yaxis_title=metric,
        hovermode="closest",
        legend_title_text="solid: train · dashed: validation",
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        height=480,
    )
    if metric == "accuracy":
        figure.update_yaxes(tickformat=".0%")


def probabilities_figure(class_names: Sequence[str], probabilities: Sequence[float]) -> go.Figure:
    """A horizontal bar per class, most likely on top."""
    if len(class_names) != len(probabilities):
        raise ValueError(f"{len(class_names)} class names but {len(probabilities)} probabilities")
    order = np.argsort(-np.asarray(probabilities, dtype=float), kind="stable")
    names = [str(class_names[i]) for i in order]
    values = [float(probabilities[i]) for i in order]
    figure = go.Figure(
        go.Bar(
            x=values,
            y=names,
            orientation="h",
            text=[f"{v:.1%}" for v in values],
            textposition="auto",
            marker={"color": [PALETTE[0]] + [PALETTE[7]] * (len(values) - 1)},
            hovertemplate="%{y}: %{x:.2%}<extra></extra>",
        )
    )
    figure.update_layout(
        xaxis={"range": [0, 1.02], "tickformat": ".0%", "dtick": 0.2, "title": "probability"},
        yaxis={"autorange": "reversed"},
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        height=80 + 36 * len(values),
    )
    return figure

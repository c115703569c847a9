"""The search view's figures as pure functions of DataFrames, tested without Streamlit.

Each takes the rows `experiment.search_views` makes (as a DataFrame) and the searched fields
(`Param`s: a field's kind, log scale and choices come from the search's own spec, so a learning
rate searched on a log scale is drawn on one). Few traces: one per trial state with NaN gaps
between trials, never one per trial.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.axes import epoch_ticks
from experiment.search_space import Param, format_value

BestAxis = Literal["finished", "finished_at"]
# Trial states in drawing order: faded pruned runs first, so the others are drawn over them.
STATE_STYLE: dict[str, dict[str, Any]] = {
    "pruned": {"color": "rgba(120, 120, 120, 0.35)", "width": 1, "dash": "dot"},
    "failed": {"color": "rgba(214, 39, 40, 0.5)", "width": 1, "dash": "dash"},
    "cancelled": {"color": "rgba(150, 150, 150, 0.5)", "width": 1, "dash": "dash"},
    "succeeded": {"color": "#1f77b4", "width": 2, "dash": "solid"},
    "running": {"color": "#ff7f0e", "width": 2, "dash": "solid"},
    "queued": {"color": "#ff7f0e", "width": 2, "dash": "solid"},
}
HEIGHT = 360


def _title(metric: str) -> str:
    return metric.replace("_", " ")


def _layout(figure: go.Figure, height: int = HEIGHT, **layout: Any) -> go.Figure:
    figure.update_layout(height=height, margin={"l": 60, "r": 20, "t": 50, "b": 50}, **layout)
    return figure


def best_so_far_figure(
    rows: pd.DataFrame, metric: str, direction: str, x: BestAxis = "finished"
) -> go.Figure:
    """The best objective after each finished trial (a step line) over each trial's own result
    (dots), against runs finished or wall time. Trials without a result (failed, cancelled)
    count as finished but have no dot."""
    figure = go.Figure()
    title = "runs finished" if x == "finished" else "finished at"
    if rows.empty:
        return _layout(figure, title=f"Best {_title(metric)} so far", xaxis_title=title)
    xs = rows[x]
    figure.add_trace(
        go.Scatter(
            x=xs,
            y=rows["value"],
            mode="markers",
            name="each run",
            marker={"color": "rgba(120, 120, 120, 0.6)", "size": 7},
            customdata=rows[["trial"]].to_numpy(),
            hovertemplate="trial %{customdata[0]}: %{y:.4g}<extra></extra>",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=xs,
            y=rows["best"],
            mode="lines+markers",
            line={"shape": "hv", "color": "#1f77b4", "width": 2},
            marker={"size": 5},
            name=f"best so far ({'highest' if direction == 'maximize' else 'lowest'})",
            hovertemplate="best %{y:.4g}<extra></extra>",
        )
    )
    axis: dict[str, Any] = {"title": title}
    if x == "finished":
        axis.update(epoch_ticks(int(rows["finished"].max())))
    # Time ticks take two lines (time, then date): the legend goes lower to clear the title.
    legend_y = -0.25 if x == "finished" else -0.4
    figure = _layout(
        figure,
        title=f"Best {_title(metric)} so far",
        xaxis=axis,
        yaxis_title=_title(metric),
        legend={"orientation": "h", "y": legend_y},
    )
    if x == "finished_at":
        figure.update_layout(margin={"b": 90})
    return figure


def _gapped(group: pd.DataFrame, column: str) -> list[Any]:
    """A column's values trial after trial, with a None between trials (one trace, many lines)."""
    out: list[Any] = []
    for _, trial in group.groupby("trial", sort=True):
        out.extend(trial.sort_values("epoch")[column].tolist())
        out.append(None)
    return out


def curves_figure(rows: pd.DataFrame, metric: str) -> go.Figure:
    """Every trial's objective by epoch, one trace per state; pruned trials are faded and
    dotted, so the runs the search kept stand out."""
    figure = go.Figure()
    present = set(rows["state"]) if not rows.empty else set()
    for state in [s for s in STATE_STYLE if s in present] + sorted(present - set(STATE_STYLE)):
        group = rows[rows["state"] == state]
        style = STATE_STYLE.get(state, {"color": "#7f7f7f", "width": 1, "dash": "solid"})
        figure.add_trace(
            go.Scatter(
                x=_gapped(group, "epoch"),
                y=_gapped(group, "value"),
                customdata=_gapped(group, "trial"),
                mode="lines+markers",
                connectgaps=False,
                name=f"{state} ({group['trial'].nunique()})",
                line={"color": style["color"], "width": style["width"], "dash": style["dash"]},
                marker={"size": 4, "color": style["color"]},
                hovertemplate=f"trial %{{customdata}} ({state}), epoch %{{x}}: %{{y:.4g}}"
                "<extra></extra>",
            )
        )
    last = int(rows["epoch"].max()) if not rows.empty else 1
    return _layout(
        figure,
        title=f"Every run's {_title(metric)} by epoch (pruned runs faded)",
        xaxis={"title": "epoch", **epoch_ticks(last)},
        yaxis_title=_title(metric),
        legend={"orientation": "h", "y": -0.25},
    )


def importance_figure(rows: pd.DataFrame) -> go.Figure:
    """Each searched field's share of the objective's variation, largest on top."""
    ordered = rows.sort_values("importance") if not rows.empty else rows
    figure = go.Figure(
        go.Bar(
            x=ordered["importance"] if not rows.empty else [],
            y=ordered["param"] if not rows.empty else [],
            orientation="h",
            marker={"color": "#1f77b4"},
            hovertemplate="%{y}: %{x:.2f}<extra></extra>",
        )
    )
    height = max(200, 60 + 40 * len(rows))
    figure.update_layout(
        height=height,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        title="Parameter importance (Optuna, PED-ANOVA)",
        xaxis={"title": "share of the objective's variation", "range": [0, 1]},
        yaxis={"automargin": True},
    )
    return figure


def param_dimension(param: Param, values: pd.Series) -> dict[str, Any]:
    """One parallel-coordinates axis for a searched field: a list's choices in their written
    order, a log range as log10 with the real values as ticks, any other range as numbers."""
    if param.kind == "choice":
        texts = [format_value(choice) for choice in param.choices]
        codes = values.map(
            lambda v: texts.index(format_value(v)) if format_value(v) in texts else -1
        )
        return {
            "label": param.name,
            "values": codes.to_numpy(dtype=float),
            "tickvals": list(range(len(texts))),
            "ticktext": texts,
            "range": [-0.25, max(len(texts) - 0.75, 0.25)],
        }
    numbers = values.to_numpy(dtype=float)
    assert param.low is not None and param.high is not None
    if param.log:
        low, high = math.log10(param.low), math.log10(param.high)
        ticks = np.arange(math.floor(low), math.ceil(high) + 1, dtype=float)
        ticks = ticks[(ticks >= low - 1e-9) & (ticks <= high + 1e-9)]
        if len(ticks) < 2:  # a range within one decade: its two ends
            ticks = np.array([low, high])
        return {
            "label": f"{param.name} (log)",
            "values": np.log10(numbers),
            "range": [low, high],
            "tickvals": ticks.tolist(),
            "ticktext": [format_value(float(10.0**t)) for t in ticks],
        }
    return {"label": param.name, "values": numbers, "range": [param.low, param.high]}


def parallel_figure(
    trials: pd.DataFrame, params: Sequence[Param], metric: str, direction: str
) -> go.Figure:
    """Searched fields -> objective, one line per trial with a result, coloured by it (the
    best runs are always the brightest, whichever the direction)."""
    rows = trials[trials["objective"].notna()]
    dimensions = [param_dimension(param, rows[param.name]) for param in params]
    scores = rows["objective"].to_numpy(dtype=float)
    dimensions.append({"label": _title(metric), "values": scores})
    figure = go.Figure(
        go.Parcoords(
            dimensions=dimensions,
            line={
                "color": scores,
                "colorscale": "Viridis",
                "reversescale": direction == "minimize",
                "showscale": False,
            },
            labelangle=0 if len(dimensions) <= 6 else -20,
        )
    )
    figure.update_layout(
        height=420,
        margin={"l": 60, "r": 40, "t": 80, "b": 30},
        title=f"Searched fields and {_title(metric)} ({len(rows)} runs with a result)",
    )
    return figure


def slice_figure(rows: pd.DataFrame, param: Param, metric: str) -> go.Figure:
    """One searched field against the objective, a dot per trial with a result, coloured by
    trial number (early trials pale): where in the range the good runs sit and when they
    were found."""
    figure = go.Figure()
    xaxis: dict[str, Any] = {"title": param.name}
    if not rows.empty:
        xs: Any = rows["value"]
        if param.kind == "choice":
            xs = rows["value"].map(format_value)
            xaxis.update(
                type="category",
                categoryorder="array",
                categoryarray=[format_value(c) for c in param.choices],
            )
        figure.add_trace(
            go.Scatter(
                x=xs,
                y=rows["objective"],
                mode="markers",
                marker={
                    "size": 9,
                    "color": rows["trial"],
                    "colorscale": "Blues",
                    "cmin": 0,
                    "showscale": True,
                    "colorbar": {"title": "trial", "thickness": 12},
                    "line": {"width": 1, "color": "#333"},
                },
                customdata=rows[["trial", "state"]].to_numpy(),
                hovertemplate="trial %{customdata[0]} (%{customdata[1]}): %{x} -> %{y:.4g}"
                "<extra></extra>",
                showlegend=False,
            )
        )
    if param.log:
        xaxis.update(type="log", dtick=1)  # a tick per decade, never Plotly's 2 and 5 between
    return _layout(
        figure, title=f"{param.name}", xaxis=xaxis, yaxis_title=_title(metric), height=320
    )

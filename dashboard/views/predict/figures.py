"""Predict's chart: each model's top-k class probabilities as horizontal bars."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

PALETTE: tuple[str, ...] = tuple(qualitative.Plotly)


def top_k(
    class_names: Sequence[str], probabilities: Sequence[float], k: int
) -> list[tuple[str, float]]:
    """The k most likely classes with their probabilities, most likely first."""
    if len(class_names) != len(probabilities):
        raise ValueError(f"{len(class_names)} class names but {len(probabilities)} probabilities")
    values = np.asarray(probabilities, dtype=float)
    order = np.argsort(-values, kind="stable")[: max(1, k)]
    return [(str(class_names[i]), float(values[i])) for i in order]


def top_k_figure(class_names: Sequence[str], probabilities: Sequence[float], k: int) -> go.Figure:
    """Horizontal bars of the k most likely classes, most likely on top."""
    best = top_k(class_names, probabilities, k)
    names = [name for name, _ in best]
    values = [value for _, value in best]
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
        xaxis={"range": [0, 1.02], "tickformat": ".0%", "dtick": 0.25},
        yaxis={"autorange": "reversed", "type": "category"},
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        height=70 + 30 * len(values),
    )
    return figure

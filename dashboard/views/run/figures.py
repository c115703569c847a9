"""The Run page's figures as pure functions: curves, learning rate, confusion, per class.

Also the shaping behind them (confusion arrays, per-class tables, disagreements between two
runs' verdicts), tested without Streamlit.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from dashboard.axes import epoch_ticks
from dashboard.text import MISSING, count_text
from db.entities import TrainingPhase

PALETTE: tuple[str, ...] = tuple(qualitative.Plotly)
_MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}


def misclassified(predictions: pd.DataFrame, limit: int | None = None) -> pd.DataFrame:
    """The wrong verdicts, most confident first (the most telling mistakes)."""
    wrong = predictions[~predictions["correct"].astype(bool)]
    wrong = wrong.sort_values(["confidence", "position"], ascending=[False, True], kind="stable")
    return wrong.head(limit) if limit is not None else wrong


def same_validation(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Whether two runs judged exactly the same validation files with the same true labels."""
    if a.empty or len(a) != len(b):
        return False
    left = a.set_index("file")["true_label"].sort_index()
    right = b.set_index("file")["true_label"].sort_index()
    return bool(left.index.is_unique and left.index.equals(right.index) and left.equals(right))


def disagreements(a: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validation images one run got right and the other wrong: (A right B wrong, B right A wrong).

    Runs are matched by file, so the order each stored its verdicts in does not matter. Each
    side keeps both runs' predicted class and confidence (`_a`, `_b` suffixes), most confident
    mistake first; `position` is A's position (for A's thumbnails).
    """
    joined = a.merge(b, on="file", suffixes=("_a", "_b"), validate="one_to_one")
    joined = joined.rename(columns={"position_a": "position", "true_class_a": "true_class"})
    columns = [
        "file", "position", "position_b", "true_class", "predicted_class_a", "confidence_a",
        "predicted_class_b", "confidence_b",
    ]  # fmt: skip
    a_only = joined[joined["correct_a"] & ~joined["correct_b"]]
    b_only = joined[joined["correct_b"] & ~joined["correct_a"]]
    a_only = a_only.sort_values(["confidence_b", "position"], ascending=[False, True])
    b_only = b_only.sort_values(["confidence_a", "position"], ascending=[False, True])
    return a_only[columns].reset_index(drop=True), b_only[columns].reset_index(drop=True)


def confusion_array(evaluation: Mapping[str, Any]) -> np.ndarray:
    """The stored confusion matrix (rows = true class, columns = predicted) as integers."""
    return np.asarray(evaluation.get("confusion_matrix") or [], dtype=np.int64)


def row_normalised(matrix: np.ndarray) -> np.ndarray:
    """Each row divided by its total: the share of a true class predicted as each class.

    A class with no validation images gives a row of NaN rather than a division by zero.
    """
    matrix = np.asarray(matrix, dtype=float)
    totals = matrix.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, matrix / np.where(totals > 0, totals, 1), np.nan)


def per_class_accuracy(matrix: np.ndarray) -> np.ndarray:
    """Correct share of each true class (the diagonal of the row-normalised matrix)."""
    return np.diagonal(row_normalised(matrix)).copy()


def confusion_delta(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A minus B, cell by cell; both must be confusion matrices over the same classes."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(
            f"confusion matrices must be square and alike, got {a.shape} and {b.shape}"
        )
    return a.astype(np.int64) - b.astype(np.int64)


def per_class_side_by_side(evaluations: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Long table of each run's accuracy per class: run, class, accuracy, correct, support.

    Args:
        evaluations: run label -> that run's evaluation; all must name the same classes.
    """
    rows: list[dict[str, Any]] = []
    reference: list[str] | None = None
    for label, evaluation in evaluations.items():
        names = list(evaluation.get("class_names") or [])
        if reference is None:
            reference = names
        elif names != reference:
            raise ValueError(f"{label} has classes {names}, not {reference}")
        matrix = confusion_array(evaluation)
        accuracy = per_class_accuracy(matrix)
        for index, name in enumerate(names):
            rows.append(
                {
                    "run": label,
                    "class": name,
                    "accuracy": float(accuracy[index]),
                    "correct": int(matrix[index, index]),
                    "support": int(matrix[index].sum()),
                }
            )
    return pd.DataFrame(rows, columns=["run", "class", "accuracy", "correct", "support"])


def per_class_table(evaluation: Mapping[str, Any]) -> pd.DataFrame:
    """Precision, recall, F1 and support per class, as the run stored them."""
    frame = pd.DataFrame(
        list(evaluation.get("per_class") or []),
        columns=["class", "precision", "recall", "f1", "support"],
    )
    return frame.astype({"precision": float, "recall": float, "f1": float, "support": int})


def _annotated_heatmap(
    z: np.ndarray, class_names: Sequence[str], text: list[list[str]], **heatmap: Any
) -> go.Figure:
    names = [str(n) for n in class_names]
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=names,
            y=names,
            text=text,
            texttemplate="%{text}",
            hoverongaps=False,
            **heatmap,
        )
    )
    figure.update_layout(
        xaxis={"title": "predicted class", "side": "bottom", "type": "category"},
        yaxis={"title": "true class", "autorange": "reversed", "type": "category"},
        margin=_MARGIN,
        height=140 + 48 * len(names),
    )
    return figure


def confusion_figure(
    matrix: np.ndarray, class_names: Sequence[str], *, normalise: bool = False
) -> go.Figure:
    """The confusion matrix as a heatmap, in counts or as shares of each true class (rows)."""
    counts = np.asarray(matrix, dtype=np.int64)
    shares = row_normalised(counts)
    if normalise:
        z = shares
        text = [[MISSING if np.isnan(v) else f"{v:.0%}" for v in row] for row in shares]
        hover = "true %{y}<br>predicted %{x}<br>%{z:.1%} of the class<extra></extra>"
        colorbar = {"title": "share", "tickformat": ".0%"}
        zrange: dict[str, float] = {"zmin": 0.0, "zmax": 1.0}
    else:
        z = counts
        text = [[str(v) for v in row] for row in counts]
        hover = "true %{y}<br>predicted %{x}<br>%{z} images<extra></extra>"
        colorbar = {"title": "images"}
        zrange = {"zmin": 0.0}
    figure = _annotated_heatmap(
        z, class_names, text, colorscale="Blues", hovertemplate=hover, colorbar=colorbar, **zrange
    )
    figure.update_layout(title="Confusion matrix" + (" (share of each true class)" * normalise))
    return figure


def confusion_delta_figure(
    delta: np.ndarray, class_names: Sequence[str], a_label: str, b_label: str
) -> go.Figure:
    """A − B as a diverging heatmap centred on zero (blue: A has more, red: B has more).

    On the diagonal a positive cell means A got more of that class right; off the diagonal it
    means A made that mistake more often.
    """
    delta = np.asarray(delta, dtype=np.int64)
    limit = max(1, int(np.abs(delta).max()) if delta.size else 1)
    text = [[f"{v:+d}" if v else "0" for v in row] for row in delta]
    a, b = html.escape(a_label), html.escape(b_label)
    figure = _annotated_heatmap(
        delta,
        class_names,
        text,
        colorscale="RdBu",
        zmid=0,
        zmin=-limit,
        zmax=limit,
        colorbar={"title": "A − B"},
        hovertemplate=(
            "true %{y}<br>predicted %{x}<br>" + f"{a} − {b}: " + "%{z:+d} images<extra></extra>"
        ),
    )
    figure.update_layout(title=f"Confusion difference: {a} − {b}")
    return figure


def per_class_figure(frame: pd.DataFrame) -> go.Figure:
    """Grouped bars: each class's accuracy, one bar per run (`per_class_side_by_side`)."""
    figure = go.Figure()
    for position, (label, rows) in enumerate(frame.groupby("run", sort=False)):
        figure.add_trace(
            go.Bar(
                x=rows["class"],
                y=rows["accuracy"],
                name=html.escape(str(label)),
                marker={"color": PALETTE[position % len(PALETTE)]},
                customdata=rows[["correct", "support"]].to_numpy(),
                text=[f"{v:.0%}" for v in rows["accuracy"]],
                textposition="outside",
                hovertemplate=(
                    "%{x}: %{y:.1%} (%{customdata[0]} of %{customdata[1]})"
                    "<extra>%{fullData.name}</extra>"
                ),
            )
        )
    figure.update_layout(
        title="Accuracy per class",
        barmode="group",
        yaxis={"title": "correct share of the class", "tickformat": ".0%", "range": [0, 1.1]},
        xaxis={"title": "true class", "type": "category"},
        legend={"orientation": "h", "y": -0.2},
        margin=_MARGIN,
        height=420,
    )
    return figure


PHASE_NAMES = {"train": "whole model", "frozen": "frozen backbone", "fine_tune": "fine-tuning"}


def phase_label(phase: TrainingPhase) -> str:
    """`fine-tuning from epoch 6: 2.26M of 2.26M trainable`."""
    name = PHASE_NAMES.get(phase.kind, phase.kind)
    return (
        f"{name} from epoch {phase.epoch}: {count_text(phase.trainable_params)} of "
        f"{count_text(phase.total_params)} trainable"
    )


def mark_phases(figure: go.Figure, phases: Sequence[TrainingPhase]) -> go.Figure:
    """A dotted line where each later phase (fine-tuning) begins, between its first epoch and
    the one before, labelled with its trainable parameters."""
    for phase in phases:
        if phase.epoch > 1:
            figure.add_vline(
                x=phase.epoch - 0.5,
                line={"dash": "dot", "color": PALETTE[3]},
                annotation_text=phase_label(phase),
                annotation_position="bottom right",
                annotation_font={"size": 11, "color": PALETTE[3]},
            )
    return figure


def run_curves_figure(
    curves: pd.DataFrame,
    metric: str = "accuracy",
    best_epoch: int | None = None,
    best_label: str = "best val acc",
    phases: Sequence[TrainingPhase] = (),
) -> go.Figure:
    """One run's train (solid) and validation (dashed) curve of `metric` (either may be
    missing: a run logs what it logs), `best_epoch` marked as `best_label`, and the start of
    fine-tuning marked."""
    figure = go.Figure()
    for column, name, dash in ((metric, "train", "solid"), (f"val_{metric}", "validation", "dash")):
        if column not in curves.columns:
            continue
        figure.add_trace(
            go.Scatter(
                x=curves["epoch"],
                y=curves[column],
                name=name,
                mode="lines+markers",
                line={"dash": dash, "color": PALETTE[0 if name == "train" else 1]},
                connectgaps=False,
                hovertemplate=f"epoch %{{x}}<br>{name} {metric} " + "%{y:.4f}<extra></extra>",
            )
        )
    if best_epoch is not None:
        figure.add_vline(
            x=best_epoch,
            line={"dash": "dot", "color": "grey"},
            annotation_text=best_label,
            annotation_position="top",
        )
    mark_phases(figure, phases)
    figure.update_layout(
        title=metric.capitalize() if metric in ("accuracy", "loss") else metric,
        xaxis=_epoch_axis(curves),
        yaxis={"title": metric, "tickformat": ".0%" if metric == "accuracy" else None},
        legend={"orientation": "h", "y": -0.25},
        margin=_MARGIN,
        height=360,
    )
    return figure


def _epoch_axis(curves: pd.DataFrame) -> dict[str, Any]:
    """Whole epochs only: at most about ten ticks, never 1.5."""
    epochs = int(curves["epoch"].max()) if not curves.empty else 1
    return {"title": "epoch", **epoch_ticks(epochs)}


def learning_rate_figure(curves: pd.DataFrame, phases: Sequence[TrainingPhase] = ()) -> go.Figure:
    """The learning rate each epoch trained with, on a log axis (ReduceLROnPlateau steps, the
    switch to fine-tuning's rate)."""
    figure = go.Figure(
        go.Scatter(
            x=curves["epoch"],
            y=curves["learning_rate"],
            mode="lines+markers",
            line={"shape": "hv", "color": PALETTE[2]},
            name="learning rate",
            hovertemplate="epoch %{x}<br>learning rate %{y:.3g}<extra></extra>",
        )
    )
    mark_phases(figure, phases)
    figure.update_layout(
        title="Learning rate",
        xaxis=_epoch_axis(curves),
        yaxis={"title": "learning rate", "type": "log", "exponentformat": "power"},
        margin=_MARGIN,
        height=300,
    )
    return figure


WEBGL_POINTS = 5_000


def steps_figure(steps: pd.DataFrame) -> go.Figure:
    """Per-batch values by global step (batches since training began), one line per name."""
    figure = go.Figure()
    names = [c for c in steps.columns if c != "step"]
    for index, name in enumerate(names):
        present = steps[["step", name]].dropna()
        # WebGL past a few thousand points: a long run logs a value every few batches.
        kind = go.Scattergl if len(present) > WEBGL_POINTS else go.Scatter
        figure.add_trace(
            kind(
                x=present["step"],
                y=present[name],
                name=name,
                mode="lines",
                line={"color": PALETTE[index % len(PALETTE)], "width": 1.5},
                hovertemplate=f"step %{{x}}<br>{html.escape(name)} %{{y:.4g}}<extra></extra>",
            )
        )
    figure.update_layout(
        title="Per batch",
        xaxis={"title": "step (batches since training began)"},
        yaxis={"title": names[0] if len(names) == 1 else "value"},
        legend={"orientation": "h", "y": -0.25},
        margin=_MARGIN,
        height=360,
    )
    return figure


Figures = dict[str, go.Figure]

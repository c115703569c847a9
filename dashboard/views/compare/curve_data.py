"""Curve maths on plain arrays: runs x epochs matrices, smoothing, wall time, bands, best epochs.

A series of many runs is held as a matrix (one row per run, one column per epoch, NaN where a
run has no value): smoothing and bands become a few vectorised passes over columns, and a row-
major flatten with a NaN column between rows is exactly one Plotly line broken between runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from experiment.metrics import WORKER_METRICS, Direction

# What the lab's workers record for every epoch; runs may log any other name besides.
SERIES: tuple[str, ...] = WORKER_METRICS
XAxis = Literal["epoch", "wall"]
Band = Literal["none", "minmax", "std"]


@dataclass(frozen=True)
class Matrix:
    """One series of several runs: `x[i, j]`, `y[i, j]` is run `run_ids[i]`'s epoch `j + 1`."""

    run_ids: np.ndarray
    x: np.ndarray
    y: np.ndarray

    def rows(self, positions: np.ndarray) -> Matrix:
        return Matrix(self.run_ids[positions], self.x[positions], self.y[positions])


def with_wall_time(curves: pd.DataFrame) -> pd.DataFrame:
    """Add `wall_seconds`: seconds since the run's first epoch started.

    From `recorded_at` when every epoch of the run has it (real elapsed time, pauses and
    requeues included), else the running sum of `epoch_seconds` (time spent training).
    """
    frame = curves.sort_values(["run_id", "epoch"], kind="stable")
    seconds = frame["epoch_seconds"].fillna(0.0)
    wall = seconds.groupby(frame["run_id"], sort=False).cumsum()
    if "recorded_at" in frame.columns:
        stamps = pd.to_datetime(frame["recorded_at"], utc=True)
        complete = stamps.notna().groupby(frame["run_id"], sort=False).transform("all")
        first = stamps.groupby(frame["run_id"], sort=False).transform("first")
        first_seconds = seconds.groupby(frame["run_id"], sort=False).transform("first")
        elapsed = (stamps - first).dt.total_seconds() + first_seconds
        wall = wall.where(~complete, elapsed)
    return frame.assign(wall_seconds=wall.astype(float))


def pivot(curves: pd.DataFrame, run_ids: Sequence[int], column: str, x: XAxis) -> Matrix:
    """`column` of the given runs as a runs x epochs matrix; x is the epoch or wall seconds."""
    ids = np.asarray(list(run_ids), dtype=np.int64)
    rows = pd.Index(ids).get_indexer(curves["run_id"].to_numpy())
    data = curves[rows >= 0]
    rows = rows[rows >= 0]
    epochs = data["epoch"].to_numpy(dtype=np.int64)
    width = int(epochs.max()) if len(epochs) else 0
    shape = (len(ids), max(width, 1))
    y = np.full(shape, np.nan)
    xs = np.full(shape, np.nan)
    columns = np.clip(epochs - 1, 0, None)
    y[rows, columns] = data[column].to_numpy(dtype=float)
    x_values = data["wall_seconds"] if x == "wall" else data["epoch"]
    xs[rows, columns] = x_values.to_numpy(dtype=float)
    return Matrix(ids, xs, y)


def ema(y: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's debiased exponential moving average, row by row.

    `last = weight * last + (1 - weight) * value`, divided by `1 - weight ** n` after n values
    so the first points are not pulled towards 0. Missing values stay missing and do not
    advance the average, so a gap neither breaks nor drags a curve.
    """
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing weight must be in [0, 1), got {weight}")
    if weight == 0.0:
        return y.copy()
    out = np.full_like(y, np.nan, dtype=float)
    last = np.zeros(y.shape[0])
    count = np.zeros(y.shape[0])
    for j in range(y.shape[1]):
        value = y[:, j]
        present = np.isfinite(value)
        last = np.where(present, weight * last + (1.0 - weight) * value, last)
        count = count + present
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:, j] = np.where(present, last / (1.0 - weight**count), np.nan)
    return out


@dataclass(frozen=True)
class Summary:
    """Per group of runs and epoch: the mean and a band around it, over the runs present."""

    x: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    count: np.ndarray


def summarise(matrix: Matrix, band: Band) -> Summary:
    """Mean over the rows, with min-max or mean ± sample standard deviation as the band."""
    present = np.isfinite(matrix.y)
    count = present.sum(axis=0)
    filled = np.where(present, matrix.y, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(count > 0, filled.sum(axis=0) / count, np.nan)
        x_present = np.isfinite(matrix.x)
        x_mean = np.where(x_present, matrix.x, 0.0).sum(axis=0) / x_present.sum(axis=0)
        if band == "std":
            squares = np.where(present, (matrix.y - mean) ** 2, 0.0).sum(axis=0)
            spread = np.where(count > 1, np.sqrt(squares / (count - 1)), 0.0)
            low, high = mean - spread, mean + spread
        else:
            low = np.where(count > 0, np.where(present, matrix.y, np.inf).min(axis=0), np.nan)
            high = np.where(count > 0, np.where(present, matrix.y, -np.inf).max(axis=0), np.nan)
    return Summary(x_mean, mean, low, high, count)


def flatten_with_gaps(
    x: np.ndarray, y: np.ndarray, labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Rows laid end to end with one NaN point between them: one line, broken between rows.

    Columns where a row has no x (epochs it never reached) are dropped; a missing y with an x
    stays, so a run missing one epoch's value shows a gap there.
    """
    if x.size == 0:
        empty = np.array([], dtype=float)
        return empty, empty, (np.array([], dtype=str) if labels is not None else None)
    n, width = x.shape
    gap = np.full((n, 1), np.nan)
    xs = np.hstack([x, gap]).ravel()
    ys = np.hstack([y, gap]).ravel()
    separator = np.zeros((n, width + 1), dtype=bool)
    separator[:, -1] = True
    keep = np.isfinite(xs) | separator.ravel()
    keep[-1] = False  # no gap after the last row
    flat_labels = None
    if labels is not None:
        # Fixed-width text, not objects: Plotly deep-copies trace data, and copying an object
        # array copies every string (~15x slower for 10,000 labels here).
        flat_labels = np.repeat(np.asarray(labels, dtype=str), width + 1)[keep]
    return xs[keep], ys[keep], flat_labels


def polygon(summary: Summary) -> tuple[np.ndarray, np.ndarray]:
    """The band as a closed outline (high forwards, low backwards) for `fill="toself"`."""
    present = np.isfinite(summary.x) & np.isfinite(summary.low) & np.isfinite(summary.high)
    x = summary.x[present]
    return np.concatenate([x, x[::-1]]), np.concatenate(
        [summary.high[present], summary.low[present][::-1]]
    )


def best_columns(y: np.ndarray, *, highest: bool) -> np.ndarray:
    """Per row, the column of the first best value (highest or lowest); -1 for a row with none.

    "First" matches how a run's summary records its best epoch (only strict improvements).
    """
    present = np.isfinite(y)
    filled = np.where(present, y, -np.inf if highest else np.inf)
    columns = filled.argmax(axis=1) if highest else filled.argmin(axis=1)
    return np.where(present.any(axis=1), columns, -1)


def best_points(curves: pd.DataFrame, column: str, *, highest: bool) -> pd.DataFrame:
    """Per run, the first epoch at which `column` reached its best: run_id, epoch, value.

    "First" matches how a run's summary records its best epoch (only strict improvements).
    """
    data = curves.dropna(subset=[column])
    ordered = data.sort_values([column, "epoch"], ascending=[not highest, True], kind="stable")
    best = ordered.drop_duplicates("run_id")
    return best.rename(columns={column: "value"}).set_index("run_id").sort_index()


def run_metrics(
    curves: pd.DataFrame, metric: str = "val_accuracy", direction: Direction | None = Direction.MAX
) -> pd.DataFrame:
    """Per run: the best and last value of `metric`, each with its epoch, the lowest
    validation loss (unless `metric` is it) and the seconds spent training (sum of epoch times).

    Args:
        curves: long format with a `metric` column (runs that never logged it get blanks).
        metric: any logged name.
        direction: which way `metric` improves; None (unknown) leaves out the best columns.
    """
    index = pd.Index(sorted(curves["run_id"].unique()), name="run_id")
    columns: dict[str, pd.Series] = {}
    if metric not in curves.columns:
        curves = curves.assign(**{metric: np.nan})
    if direction is not None:
        best = best_points(curves, metric, highest=direction is Direction.MAX)
        columns[f"best_{metric}"] = best["value"]
        columns[f"best_{metric}_epoch"] = best["epoch"]
    last = curves.dropna(subset=[metric]).sort_values("epoch").groupby("run_id").last()
    columns[f"last_{metric}"] = last[metric]
    columns[f"last_{metric}_epoch"] = last["epoch"]
    if metric != "val_loss" and "val_loss" in curves.columns:
        lowest = best_points(curves, "val_loss", highest=False)
        columns["min_val_loss"] = lowest["value"]
        columns["min_val_loss_epoch"] = lowest["epoch"]
    if "epoch_seconds" in curves.columns:
        columns["train_seconds"] = curves.groupby("run_id")["epoch_seconds"].sum(min_count=1)
    frame = pd.DataFrame(columns, index=index)
    epochs = [c for c in frame.columns if c.endswith("_epoch")]
    return frame.astype(dict.fromkeys(epochs, "Int64")).astype(
        {c: float for c in frame.columns if c not in epochs}
    )

"""Curve maths: matrices, smoothing, wall time, bands and best epochs."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from dashboard.views.compare.curve_data import (
    Matrix,
    best_columns,
    best_points,
    ema,
    flatten_with_gaps,
    pivot,
    polygon,
    run_metrics,
    summarise,
    with_wall_time,
)
from experiment.metrics import Direction

NAN = float("nan")


def _curves(rows: list[tuple[int, int, float]], column: str = "val_accuracy") -> pd.DataFrame:
    """(run_id, epoch, value) rows with 10 s epochs."""
    frame = pd.DataFrame(rows, columns=["run_id", "epoch", column])
    return frame.assign(epoch_seconds=10.0)


def test_pivot_puts_each_run_on_a_row_and_each_epoch_in_a_column() -> None:
    """Runs are rows in the order asked for; epochs a run lacks are NaN."""
    curves = _curves([(5, 1, 0.5), (5, 2, 0.6), (7, 1, 0.4)])
    matrix = pivot(curves, [7, 5], "val_accuracy", "epoch")
    assert list(matrix.run_ids) == [7, 5]
    np.testing.assert_array_equal(matrix.y, [[0.4, NAN], [0.5, 0.6]])
    np.testing.assert_array_equal(matrix.x, [[1.0, NAN], [1.0, 2.0]])


def test_ema_of_a_constant_is_that_constant_from_the_first_point() -> None:
    """Debiasing removes the pull towards zero: a flat curve stays flat."""
    np.testing.assert_allclose(ema(np.array([[0.8, 0.8, 0.8]]), 0.9), [[0.8, 0.8, 0.8]])


def test_ema_matches_tensorboard_step_by_step() -> None:
    """last = w*last + (1-w)*v, divided by 1 - w**n."""
    w = 0.6
    values = [1.0, 0.0, 0.5]
    last, expected = 0.0, []
    for n, value in enumerate(values, start=1):
        last = w * last + (1 - w) * value
        expected.append(last / (1 - w**n))
    np.testing.assert_allclose(ema(np.array([values]), w), [expected])


def test_ema_skips_missing_values_without_advancing() -> None:
    """A NaN stays NaN, and the next value is smoothed as if the gap were not there."""
    with_gap = ema(np.array([[1.0, NAN, 0.0]]), 0.5)
    without = ema(np.array([[1.0, 0.0]]), 0.5)
    assert math.isnan(with_gap[0, 1])
    assert with_gap[0, 2] == pytest.approx(without[0, 1])


def test_ema_of_weight_zero_is_the_raw_values() -> None:
    """No smoothing returns the values unchanged."""
    values = np.array([[0.1, 0.9, NAN]])
    np.testing.assert_array_equal(ema(values, 0.0), values)


def test_ema_refuses_a_weight_of_one() -> None:
    """A weight of 1 would never move: ValueError."""
    with pytest.raises(ValueError):
        ema(np.zeros((1, 2)), 1.0)


def test_wall_time_sums_epoch_seconds_per_run() -> None:
    """Without recorded times, x is the running sum of each run's epoch seconds."""
    curves = _curves([(1, 1, 0.1), (1, 2, 0.2), (2, 1, 0.3)])
    assert list(with_wall_time(curves)["wall_seconds"]) == [10.0, 20.0, 10.0]


def test_wall_time_uses_recorded_times_when_every_epoch_has_one() -> None:
    """With recorded_at, x is real elapsed time, a pause between epochs included."""
    start = datetime(2026, 11, 28, tzinfo=UTC)
    curves = _curves([(1, 1, 0.1), (1, 2, 0.2)])
    curves["recorded_at"] = [start, start + timedelta(seconds=100)]
    assert list(with_wall_time(curves)["wall_seconds"]) == [10.0, 110.0]


def test_wall_time_falls_back_when_a_recorded_time_is_missing() -> None:
    """A run with any missing recorded_at uses epoch seconds for all its epochs."""
    curves = _curves([(1, 1, 0.1), (1, 2, 0.2)])
    curves["recorded_at"] = [datetime(2026, 11, 28, tzinfo=UTC), None]
    assert list(with_wall_time(curves)["wall_seconds"]) == [10.0, 20.0]


def test_flatten_with_gaps_joins_rows_with_one_nan_between() -> None:
    """Two runs become one line: run 1's points, a NaN, run 2's points; padding is dropped."""
    x = np.array([[1.0, 2.0, NAN], [1.0, 2.0, 3.0]])
    y = np.array([[0.1, 0.2, NAN], [0.3, 0.4, 0.5]])
    xs, ys, labels = flatten_with_gaps(x, y, np.array(["a", "b"]))
    np.testing.assert_array_equal(xs, [1, 2, NAN, 1, 2, 3])
    np.testing.assert_array_equal(ys, [0.1, 0.2, NAN, 0.3, 0.4, 0.5])
    assert labels is not None and list(labels) == ["a", "a", "a", "b", "b", "b"]


def test_flatten_with_gaps_keeps_a_missing_value_as_a_gap() -> None:
    """An epoch with an x but no y stays, so the line breaks there."""
    xs, ys, _ = flatten_with_gaps(np.array([[1.0, 2.0, 3.0]]), np.array([[0.1, NAN, 0.3]]))
    assert list(xs) == [1.0, 2.0, 3.0] and math.isnan(ys[1])


def _matrix(y: list[list[float]]) -> Matrix:
    values = np.array(y)
    x = np.tile(np.arange(1, values.shape[1] + 1, dtype=float), (values.shape[0], 1))
    return Matrix(np.arange(values.shape[0]), np.where(np.isnan(values), NAN, x), values)


def test_summarise_minmax_band_over_seeds() -> None:
    """Mean and min-max per epoch, over the runs that reached it."""
    summary = summarise(_matrix([[0.2, 0.4, 0.6], [0.4, 0.8, NAN]]), "minmax")
    np.testing.assert_allclose(summary.mean, [0.3, 0.6, 0.6])
    np.testing.assert_allclose(summary.low, [0.2, 0.4, 0.6])
    np.testing.assert_allclose(summary.high, [0.4, 0.8, 0.6])
    assert list(summary.count) == [2, 2, 1]


def test_summarise_std_band_is_mean_plus_minus_sample_std() -> None:
    """The std band is mean ± the sample standard deviation; one run has no spread."""
    summary = summarise(_matrix([[0.2, 0.5], [0.4, NAN]]), "std")
    spread = np.std([0.2, 0.4], ddof=1)
    np.testing.assert_allclose(summary.high - summary.mean, [spread, 0.0])
    np.testing.assert_allclose(summary.low, [0.3 - spread, 0.5])


def test_polygon_outlines_the_band_forwards_then_back() -> None:
    """High values left to right, then low values right to left: a closed outline."""
    x, y = polygon(summarise(_matrix([[0.2, 0.4], [0.4, 0.8]]), "minmax"))
    assert list(x) == [1.0, 2.0, 2.0, 1.0]
    assert list(y) == pytest.approx([0.4, 0.8, 0.4, 0.2])


def test_best_points_take_the_first_epoch_reaching_the_best() -> None:
    """A tie keeps the earlier epoch, as the run's own best_epoch does."""
    curves = _curves([(1, 1, 0.5), (1, 2, 0.9), (1, 3, 0.9), (2, 1, NAN)])
    best = best_points(curves, "val_accuracy", highest=True)
    assert best.to_dict("index") == {1: {"epoch": 2, "value": 0.9, "epoch_seconds": 10.0}}


def test_best_columns_find_first_best_per_row_and_minus_one_for_none() -> None:
    """Highest (or lowest) value's first column per run; a run without values gets -1."""
    y = np.array([[0.5, 0.9, 0.9], [NAN, NAN, NAN], [0.3, 0.1, NAN]])
    assert best_columns(y, highest=True).tolist() == [1, -1, 0]
    assert best_columns(y, highest=False).tolist() == [0, -1, 1]


def test_run_metrics_give_best_last_and_lowest_loss_with_epochs() -> None:
    """Best and last validation accuracy and the lowest validation loss, each with its epoch."""
    curves = _curves([(1, 1, 0.5), (1, 2, 0.9), (1, 3, 0.8)])
    curves["val_loss"] = [0.9, 0.5, 0.6]
    row = run_metrics(curves).loc[1]
    assert (row["best_val_accuracy"], row["best_val_accuracy_epoch"]) == (0.9, 2)
    assert (row["last_val_accuracy"], row["last_val_accuracy_epoch"]) == (0.8, 3)
    assert (row["min_val_loss"], row["min_val_loss_epoch"]) == (0.5, 2)
    assert row["train_seconds"] == 30.0


def test_run_metrics_leave_blanks_for_a_run_without_validation() -> None:
    """A run whose epochs have no validation values gets NaN/NA, not an error."""
    curves = _curves([(1, 1, NAN)])
    curves["val_loss"] = NAN
    row = run_metrics(curves).loc[1]
    assert pd.isna(row["best_val_accuracy"]) and pd.isna(row["min_val_loss_epoch"])


def test_run_metrics_of_any_metric_follow_its_direction() -> None:
    """val_my_score, lower better: best is the lowest; unknown direction: last values only."""
    curves = _curves([(1, 1, 3.0), (1, 2, 1.0), (1, 3, 2.0)], column="val_my_score")
    row = run_metrics(curves, "val_my_score", Direction.MIN).loc[1]
    assert (row["best_val_my_score"], row["best_val_my_score_epoch"]) == (1.0, 2)
    assert (row["last_val_my_score"], row["last_val_my_score_epoch"]) == (2.0, 3)
    unknown = run_metrics(curves, "val_my_score", None)
    assert "best_val_my_score" not in unknown.columns and "last_val_my_score" in unknown.columns

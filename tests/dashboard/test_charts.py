"""Figures built from plain DataFrames, without Streamlit."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from dashboard.charts import (
    curves_figure,
    default_color_by,
    differing_knobs,
    probabilities_figure,
)
from dashboard.queries import curves_frame


def _runs(**knobs: list) -> pd.DataFrame:
    count = len(next(iter(knobs.values())))
    base = {
        "id": list(range(1, count + 1)),
        "name": [f"run{i}" for i in range(1, count + 1)],
        "optimizer": ["adam"] * count,
        "batch_size": [16] * count,
        "epochs": [3] * count,
        "architecture": ["report_cnn"] * count,
        "learning_rate": [0.001] * count,
        "augmented": [True] * count,
        "image_size": [112] * count,
        "study": [None] * count,
    }
    return pd.DataFrame({**base, **knobs})


def _curves(run_ids: list[int], epochs: int = 3) -> pd.DataFrame:
    rows = [
        {
            "run_id": run_id,
            "epoch": epoch,
            "loss": 1.0 / epoch,
            "accuracy": 0.1 * epoch,
            "val_loss": 1.1 / epoch,
            "val_accuracy": 0.1 * epoch - 0.05,
        }
        for run_id in run_ids
        for epoch in range(1, epochs + 1)
    ]
    return pd.DataFrame(rows)


def test_two_groups_make_four_traces() -> None:
    """Five runs in two optimizer groups draw one train and one val trace per group."""
    runs = _runs(optimizer=["adam", "sgd", "adam", "sgd", "adam"])
    figure = curves_figure(_curves([1, 2, 3, 4, 5]), runs, metric="accuracy", color_by="optimizer")
    assert [trace.name for trace in figure.data] == [
        "optimizer=adam · train",
        "optimizer=adam · val",
        "optimizer=sgd · train",
        "optimizer=sgd · val",
    ]


def test_runs_in_a_group_are_separated_by_nan_gaps() -> None:
    """Three runs in one trace are three segments split by two NaN points."""
    runs = _runs(optimizer=["adam", "adam", "adam"])
    figure = curves_figure(_curves([1, 2, 3]), runs, metric="loss", color_by="optimizer")
    x = list(figure.data[0].x)
    assert len(x) == 3 * 3 + 2
    assert [i for i, value in enumerate(x) if math.isnan(value)] == [3, 7]


def test_validation_traces_are_dashed_and_train_solid() -> None:
    """Train and validation of one group share a colour; only validation is dashed."""
    figure = curves_figure(_curves([1]), _runs(optimizer=["adam"]), color_by="run")
    train, val = figure.data
    assert (train.line.dash, val.line.dash) == ("solid", "dash")
    assert train.line.color == val.line.color


def test_hover_names_the_run() -> None:
    """Every point carries its run id and name for the hover label."""
    figure = curves_figure(_curves([2]), _runs(optimizer=["a", "b"]), color_by="optimizer")
    assert list(figure.data[0].customdata[0]) == [2, "run2"]


def test_loss_metric_plots_loss_columns() -> None:
    """metric="loss" draws loss and val_loss values."""
    figure = curves_figure(_curves([1]), _runs(optimizer=["adam"]), metric="loss")
    assert list(figure.data[0].y) == pytest.approx([1.0, 0.5, 1 / 3])
    assert list(figure.data[1].y) == pytest.approx([1.1, 0.55, 1.1 / 3])


def test_missing_study_is_a_group_of_its_own() -> None:
    """Runs without a study are grouped as study=none, not dropped."""
    runs = _runs(study=["s1", None])
    figure = curves_figure(_curves([1, 2]), runs, color_by="study")
    assert {trace.name for trace in figure.data} == {
        "study=s1 · train",
        "study=s1 · val",
        "study=none · train",
        "study=none · val",
    }


def test_empty_curves_draw_an_empty_figure() -> None:
    """Runs without epochs yet give a figure with no traces rather than an error."""
    figure = curves_figure(curves_frame([]), _runs(optimizer=["adam"]), color_by="run")
    assert len(figure.data) == 0


def test_unknown_color_by_is_refused() -> None:
    """A color_by outside the known knobs raises ValueError."""
    with pytest.raises(ValueError, match="color_by"):
        curves_figure(_curves([1]), _runs(optimizer=["adam"]), color_by="dataset")


def test_default_color_by_picks_the_differing_knob() -> None:
    """With only the batch size differing, the default colouring is batch_size."""
    assert default_color_by(_runs(batch_size=[16, 32, 16])) == "batch_size"


def test_default_color_by_prefers_the_first_knob_in_order() -> None:
    """When optimizer and learning rate both differ, optimizer wins."""
    runs = _runs(learning_rate=[0.1, 0.01], optimizer=["sgd", "adam"])
    assert differing_knobs(runs) == ["optimizer", "learning_rate"]
    assert default_color_by(runs) == "optimizer"


def test_default_color_by_is_run_when_nothing_differs() -> None:
    """Identical settings fall back to one colour per run."""
    assert default_color_by(_runs(optimizer=["adam", "adam"])) == "run"


def test_probabilities_sorted_most_likely_first() -> None:
    """Bars are ordered by probability, highest first and drawn on top."""
    figure = probabilities_figure(["cloudy", "rain", "shine", "sunrise"], [0.1, 0.6, 0.05, 0.25])
    bar = figure.data[0]
    assert list(bar.y) == ["rain", "sunrise", "cloudy", "shine"]
    assert list(bar.x) == pytest.approx([0.6, 0.25, 0.1, 0.05])
    assert figure.layout.yaxis.autorange == "reversed"


def test_probabilities_need_one_per_class() -> None:
    """Mismatched class names and probabilities raise ValueError."""
    with pytest.raises(ValueError):
        probabilities_figure(["a", "b"], [1.0])

"""The search view's figures, built from the rows experiment.search_views makes."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pandas as pd

from dashboard.views.search.figures import (
    best_so_far_figure,
    curves_figure,
    importance_figure,
    parallel_figure,
    param_dimension,
    slice_figure,
)
from db.models import RunStatus
from db.objective import ObjectiveSeries
from db.searches import TrialRecord
from experiment.search_space import SearchSpec, parse_search
from experiment.search_views import best_so_far, curve_rows, slice_rows, trial_rows

START = datetime(2026, 1, 1, tzinfo=UTC)


def _spec() -> SearchSpec:
    section = {
        "budget": 6,
        "parallel": 2,
        "space": {
            "learning_rate": {"low": 1e-4, "high": 1e-1, "log": True},
            "optimizer": ["sgd", "adam"],
        },
    }
    return parse_search({"name": "lr", "image_size": 112, "epochs": 3, "search": section})


def _trial(number: int, status: RunStatus, values: list[float], lr: float, opt: str):
    finished = START + timedelta(minutes=number) if status.is_final else None
    return TrialRecord(
        run_id=10 + number,
        trial=number,
        name=f"lr #{number}",
        status=status,
        stop_reason=None,
        stop_detail=None,
        params={"learning_rate": lr, "optimizer": opt},
        attrs={},
        series=ObjectiveSeries(10 + number, tuple(range(1, len(values) + 1)), tuple(values)),
        reused_from=None,
        config_hash=None,
        attempt=1,
        epochs_done=len(values),
        created_at=START,
        started_at=START,
        finished_at=finished,
    )


def _trials() -> list[TrialRecord]:
    return [
        _trial(1, RunStatus.SUCCEEDED, [0.5, 0.6, 0.7], 1e-3, "adam"),
        _trial(2, RunStatus.PRUNED, [0.3, 0.31], 1e-1, "sgd"),
        _trial(3, RunStatus.SUCCEEDED, [0.6, 0.8, 0.75], 3e-3, "adam"),
        _trial(4, RunStatus.FAILED, [], 1e-2, "sgd"),
        _trial(5, RunStatus.RUNNING, [0.4], 2e-4, "sgd"),
    ]


def test_best_so_far_steps_up_to_the_best_result() -> None:
    """The best line holds the best result so far; failed trials count but have no dot."""
    spec = _spec()
    rows = pd.DataFrame(best_so_far(spec, _trials()))
    figure = best_so_far_figure(rows, "val_accuracy", "maximize")
    dots, best = figure.data
    assert list(dots.x) == [1, 2, 3, 4]
    assert list(best.y) == [0.7, 0.7, 0.8, 0.8]
    assert math.isnan(dots.y[3]) or dots.y[3] is None
    assert best.line.shape == "hv"


def test_best_so_far_against_wall_time_uses_finish_times() -> None:
    """Against wall time the x values are the trials' finish times."""
    rows = pd.DataFrame(best_so_far(_spec(), _trials()))
    figure = best_so_far_figure(rows, "val_accuracy", "maximize", x="finished_at")
    assert pd.Timestamp(figure.data[1].x[0]) == pd.Timestamp("2026-01-01 00:01:00")  # UTC
    assert figure.layout.xaxis.title.text == "finished at"


def test_best_so_far_of_no_finished_run_is_an_empty_figure() -> None:
    """Before any trial ends the figure has no trace and still a title."""
    figure = best_so_far_figure(pd.DataFrame(), "val_loss", "minimize")
    assert not figure.data and "val loss" in figure.layout.title.text


def test_curves_fade_pruned_runs_in_one_trace_per_state() -> None:
    """One trace per state; the pruned one is faint and dotted, trials split by gaps."""
    rows = pd.DataFrame(curve_rows(_spec(), _trials()))
    figure = curves_figure(rows, "val_accuracy")
    names = [trace.name for trace in figure.data]
    assert names == ["pruned (1)", "succeeded (2)", "running (1)"]
    pruned, succeeded, _ = figure.data
    assert "0.35" in pruned.line.color and pruned.line.dash == "dot"
    assert list(succeeded.y) == [0.5, 0.6, 0.7, None, 0.6, 0.8, 0.75, None]


def test_importance_puts_the_largest_on_top() -> None:
    """Bars are sorted so the most important field is drawn last (on top)."""
    rows = pd.DataFrame([{"param": "lr", "importance": 0.8}, {"param": "opt", "importance": 0.2}])
    figure = importance_figure(rows)
    assert list(figure.data[0].y) == ["opt", "lr"]


def test_parallel_coordinates_use_the_spec_scales() -> None:
    """A log range is drawn as log10 with real-value ticks; choices keep their written order;
    only trials with a result are drawn, coloured by the objective."""
    spec = _spec()
    trials = pd.DataFrame(trial_rows(spec, _trials()))
    figure = parallel_figure(trials, spec.params, "val_accuracy", "maximize")
    lr, optimizer, objective = figure.data[0].dimensions
    assert list(lr.values) == [-3.0, -1.0, math.log10(3e-3)]
    assert list(lr.ticktext) == ["0.0001", "0.001", "0.01", "0.1"]
    assert list(optimizer.ticktext) == ["sgd", "adam"]
    assert list(optimizer.values) == [1.0, 0.0, 1.0]
    assert list(objective.values) == [0.7, 0.31, 0.8]
    assert list(figure.data[0].line.color) == [0.7, 0.31, 0.8]


def test_parallel_coordinates_reverse_colours_when_minimizing() -> None:
    """The best runs stay the brightest whether the objective is maximised or minimised."""
    spec = _spec()
    trials = pd.DataFrame(trial_rows(spec, _trials()))
    figure = parallel_figure(trials, spec.params, "val_loss", "minimize")
    assert figure.data[0].line.reversescale is True


def test_a_plain_range_axis_spans_the_searched_range() -> None:
    """An int range without log keeps its numbers and spans low..high."""
    spec = parse_search(
        {
            "name": "r",
            "image_size": 112,
            "search": {
                "budget": 2,
                "space": {"augmentation.rotation_range": {"low": 0, "high": 30}},
            },
        }
    )
    dimension = param_dimension(spec.params[0], pd.Series([5, 20]))
    assert dimension["range"] == [0, 30] and list(dimension["values"]) == [5.0, 20.0]


def test_slice_of_a_choice_is_categorical_in_the_written_order() -> None:
    """A list's slice has a category axis in the list's order, a dot per result."""
    spec = _spec()
    rows = pd.DataFrame(slice_rows(spec, _trials(), "optimizer"))
    figure = slice_figure(rows, spec.param("optimizer"), "val_accuracy")
    assert figure.layout.xaxis.type == "category"
    assert list(figure.layout.xaxis.categoryarray) == ["sgd", "adam"]
    assert list(figure.data[0].y) == [0.7, 0.31, 0.8]


def test_slice_of_a_log_range_has_a_log_axis() -> None:
    """A log-scaled range is sliced on a log axis."""
    spec = _spec()
    rows = pd.DataFrame(slice_rows(spec, _trials(), "learning_rate"))
    figure = slice_figure(rows, spec.param("learning_rate"), "val_accuracy")
    assert figure.layout.xaxis.type == "log"
    assert list(figure.data[0].x) == [1e-3, 1e-1, 3e-3]

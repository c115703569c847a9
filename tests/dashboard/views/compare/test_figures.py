"""Figures built from plain DataFrames, without Streamlit."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard.frames import curves_frame
from dashboard.views.compare.figures import (
    CurveOptions,
    compare_figure,
    default_color_by,
    encode_dimension,
    figure_html,
    hover_format,
    hover_labels,
    line_groups,
    panels,
    parcoords_figure,
    starred,
)
from experiment.metrics import Direction, MetricDirections


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
        "seed": [0] * count,
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
            "learning_rate": 0.001,
            "epoch_seconds": 2.0,
        }
        for run_id in run_ids
        for epoch in range(1, epochs + 1)
    ]
    return pd.DataFrame(rows)


def _lines(figure: go.Figure) -> list:
    """The traces that draw runs (not the best-epoch stars or fine-tuning triangles)."""
    return [t for t in figure.data if t.name not in ("best epoch", "fine-tuning starts")]


def test_one_trace_per_colour_group_and_series() -> None:
    """Five runs in two optimizer groups, two series, draw four lines in all."""
    runs = _runs(optimizer=["adam", "sgd", "adam", "sgd", "adam"])
    options = CurveOptions(metrics=("accuracy", "val_accuracy"), color_by="optimizer")
    figure = compare_figure(_curves([1, 2, 3, 4, 5]), runs, options)
    assert [(t.name, t.line.dash) for t in _lines(figure)] == [
        ("optimizer=adam", "solid"),
        ("optimizer=sgd", "solid"),
        ("optimizer=adam", "dash"),
        ("optimizer=sgd", "dash"),
    ]


def test_each_group_appears_once_in_the_legend() -> None:
    """Train and validation lines of a group share one legend entry across panels."""
    runs = _runs(optimizer=["adam", "sgd"])
    figure = compare_figure(_curves([1, 2]), runs, CurveOptions(color_by="optimizer"))
    shown = [t.name for t in figure.data if t.showlegend]
    assert shown == ["optimizer=adam", "optimizer=sgd"]


def test_colour_and_dash_split_runs_into_their_combinations() -> None:
    """Colour by optimizer and dash by batch size: one line per combination present."""
    runs = _runs(optimizer=["adam", "adam", "sgd"], batch_size=[16, 32, 16])
    groups = line_groups(runs, "optimizer", "batch_size")
    assert [(g.label, g.dash, list(g.positions)) for g in groups] == [
        ("optimizer=adam · batch_size=16", "solid", [0]),
        ("optimizer=adam · batch_size=32", "dash", [1]),
        ("optimizer=sgd · batch_size=16", "solid", [2]),
    ]
    assert groups[0].color == groups[1].color != groups[2].color


def test_dash_by_a_knob_gives_each_series_its_own_panel() -> None:
    """With dash taken by a knob, train and validation accuracy are two panels."""
    assert panels(("accuracy", "val_accuracy", "loss"), one_per_series=False) == [
        ("accuracy", ("accuracy", "val_accuracy")),
        ("loss", ("loss",)),
    ]
    assert [title for title, _ in panels(("accuracy", "val_accuracy"), one_per_series=True)] == [
        "train accuracy",
        "validation accuracy",
    ]


def test_panels_get_their_own_axes_side_by_side() -> None:
    """Accuracy and loss panels sit side by side, their x axes zoom together."""
    figure = compare_figure(_curves([1]), _runs(optimizer=["adam"]), CurveOptions())
    assert {t.xaxis for t in _lines(figure)} == {"x", "x2"}
    assert figure.layout.xaxis.domain[1] < figure.layout.xaxis2.domain[0]
    assert figure.layout.xaxis2.matches == "x"


def test_runs_in_a_group_are_separated_by_nan_gaps() -> None:
    """Three runs in one trace are three segments split by two NaN points."""
    runs = _runs(optimizer=["adam", "adam", "adam"])
    options = CurveOptions(metrics=("loss",), color_by="optimizer")
    figure = compare_figure(_curves([1, 2, 3]), runs, options)
    x = list(figure.data[0].x)
    assert len(x) == 3 * 3 + 2
    assert [i for i, value in enumerate(x) if math.isnan(value)] == [3, 7]


def test_hover_names_each_point_run_and_differing_values() -> None:
    """Every point carries its run's id, name and the values that set it apart."""
    runs = _runs(optimizer=["adam", "sgd"], seed=[0, 1])
    options = CurveOptions(metrics=("loss",), color_by="optimizer")
    figure = compare_figure(_curves([1, 2]), runs, options, describe=["optimizer", "seed"])
    labels = list(figure.data[0].customdata)
    assert labels[0] == "#1 run1 (seed=0)"  # optimizer is the line's group, named by the trace
    assert "%{fullData.name}" in figure.data[0].hovertemplate


def test_hover_labels_escape_names_and_cut_long_ones() -> None:
    """Run names are HTML-escaped and shortened to keep the per-point labels small."""
    runs = _runs(optimizer=["adam", "adam"])
    runs["name"] = ["<b>x</b>", "n" * 80]
    labels = hover_labels(runs)
    assert labels[0] == "#1 &lt;b&gt;x&lt;/b&gt;"
    assert len(labels[1]) < 50 and labels[1].endswith("...") and labels[1].isascii()


def test_hover_labels_leave_out_values_the_name_states() -> None:
    """Grid runs are named `base [field=value, ...]`: the hover does not repeat those values,
    and only a whole `key=value` counts (lr=0.015 does not state lr=0.01)."""
    runs = _runs(optimizer=["sgd", "adam"], learning_rate=[0.01, 0.01], seed=[0, 1])
    runs["name"] = ["report [optimizer=sgd, lr=0.015]", "report [optimizer=adam, seed=1]"]
    labels = hover_labels(runs, ["optimizer", "learning_rate", "seed"])
    assert labels[0] == "#1 report [optimizer=sgd, lr=0.015] (lr=0.01, seed=0)"
    assert labels[1] == "#2 report [optimizer=adam, seed=1] (lr=0.01)"


def test_hover_labels_name_at_most_four_values() -> None:
    """Past HOVER_FIELDS values, the label says how many more differ."""
    runs = _runs(optimizer=["adam"], batch_size=[8], epochs=[2], image_size=[64], seed=[3])
    label = hover_labels(runs, ["optimizer", "batch_size", "epochs", "image_size", "seed"])[0]
    assert label == "#1 run1 (opt=adam, batch=8, epochs=2, px=64, +1)"


def test_smoothing_draws_smoothed_lines_over_faint_raw_ones() -> None:
    """With smoothing, each line has a faint raw twin without hover."""
    options = CurveOptions(metrics=("loss",), color_by="optimizer", smoothing=0.5)
    figure = compare_figure(_curves([1]), _runs(optimizer=["adam"]), options)
    raw, smooth = figure.data
    assert raw.hoverinfo == "skip" and raw.opacity < 1
    assert list(raw.y) == pytest.approx([1.0, 0.5, 1 / 3])
    # Debiased EMA: (0.5 * 0.5 + 0.5 * 0.5) / (1 - 0.5**2) after 1.0 / (1 - 0.5) = 1.0.
    assert list(smooth.y[:2]) == pytest.approx([1.0, 0.5 / 0.75], rel=1e-6)


def test_wall_time_axis_uses_seconds_since_the_run_started() -> None:
    """x="wall" puts each epoch at the running sum of its run's epoch times."""
    options = CurveOptions(metrics=("loss",), color_by="optimizer", x="wall")
    figure = compare_figure(_curves([1]), _runs(optimizer=["adam"]), options)
    assert list(figure.data[0].x) == pytest.approx([2.0, 4.0, 6.0])
    assert figure.layout.xaxis.title.text == "seconds since the run started"


def test_band_summarises_runs_that_differ_only_in_seed() -> None:
    """Two seeds of one setting get a filled min-max band and a mean line; a lone run does not."""
    runs = _runs(optimizer=["adam", "adam", "adam"], seed=[0, 1, 0])
    runs["repeat"] = [0, 0, 1]
    curves = _curves([1, 2, 3])
    curves.loc[curves["run_id"] == 2, "loss"] += 1.0
    options = CurveOptions(metrics=("loss",), color_by="optimizer", band="minmax")
    single, faint, fill, mean = compare_figure(curves, runs, options).data
    assert fill.fill == "toself"
    assert list(mean.y) == pytest.approx([1.5, 1.0, 1 / 3 + 0.5])
    assert list(fill.y) == pytest.approx([2.0, 1.5, 4 / 3, 1 / 3, 0.5, 1.0])
    assert len(single.x) == 3 and faint.opacity < 1
    assert [t.showlegend for t in (single, faint, fill, mean)] == [True, False, False, False]


def test_band_legend_entry_is_the_mean_line_not_a_faint_run() -> None:
    """When every run of a group has a seed sibling, the legend shows its solid mean line."""
    runs = _runs(optimizer=["adam", "adam"], seed=[0, 1])
    runs["repeat"] = [0, 0]
    options = CurveOptions(metrics=("loss",), color_by="optimizer", band="std")
    faint, fill, mean = compare_figure(_curves([1, 2]), runs, options).data
    assert (faint.showlegend, fill.showlegend, mean.showlegend) == (False, False, True)


def test_best_epoch_markers_sit_on_best_accuracy_and_lowest_loss() -> None:
    """Stars mark each run's best validation accuracy and lowest validation loss."""
    curves = _curves([1])
    curves.loc[2, "val_accuracy"] = 0.0  # epoch 3 gets worse: the best is epoch 2
    figure = compare_figure(curves, _runs(optimizer=["adam"]), CurveOptions(color_by="optimizer"))
    stars = [t for t in figure.data if t.name == "best epoch"]
    assert [(list(t.x), t.yaxis) for t in stars] == [([2.0], "y"), ([3.0], "y2")]


def test_fine_tuning_is_marked_where_each_run_began_it() -> None:
    """A triangle sits on each series of a run that fine-tuned, at its first fine-tuning
    epoch; runs that did not (or have not reached it yet) get none; the legend explains it."""
    runs = _runs(**{"fine_tune.at_epoch": [2, None, 5]})
    figure = compare_figure(_curves([1, 2, 3]), runs, CurveOptions(color_by="fine_tune.at_epoch"))
    marks = [t for t in figure.data if t.name == "fine-tuning starts"]
    assert len(marks) == 4  # one per series of the two panels
    assert all(list(t.x) == [2.0] for t in marks)
    assert list(marks[0].y) == [0.2]  # train accuracy of run 1 at epoch 2
    assert "run1, fine-tuning from epoch 2" in marks[0].customdata[0]
    assert "▲ fine-tuning starts" in figure.layout.legend.title.text
    assert len(go.Figure(figure.to_dict()).data) == len(figure.data)


def test_runs_that_never_fine_tune_get_no_triangles() -> None:
    """Without the fine-tuning knob there are no triangles and no legend line for them."""
    figure = compare_figure(_curves([1]), _runs(optimizer=["adam"]), CurveOptions())
    assert not [t for t in figure.data if t.name == "fine-tuning starts"]
    assert "fine-tuning" not in figure.layout.legend.title.text


def test_log_y_makes_every_panel_logarithmic() -> None:
    """log_y sets both panels' y axes to log."""
    figure = compare_figure(_curves([1]), _runs(optimizer=["a"]), CurveOptions(log_y=True))
    assert figure.layout.yaxis.type == figure.layout.yaxis2.type == "log"


def test_compare_figure_passes_plotly_validation() -> None:
    """The figure (built without re-validation, for speed) is valid Plotly."""
    runs = _runs(optimizer=["adam", "adam", "sgd"], seed=[0, 1, 0])
    runs["repeat"] = [0, 0, 1]
    options = CurveOptions(dash_by="seed", smoothing=0.3, band="std", x="wall", log_y=True)
    figure = compare_figure(_curves([1, 2, 3]), runs, options, describe=["seed"])
    assert len(go.Figure(figure.to_dict()).data) == len(figure.data)


def test_empty_curves_draw_an_empty_figure() -> None:
    """Runs without epochs yet give a figure with no traces rather than an error."""
    figure = compare_figure(curves_frame([]), _runs(optimizer=["adam"]), CurveOptions())
    assert len(figure.data) == 0
    assert figure.layout.annotations[-1].text == "No epochs recorded yet"


def test_unknown_group_column_is_refused() -> None:
    """Colouring by a column the runs do not have raises ValueError."""
    with pytest.raises(ValueError, match="dataset"):
        compare_figure(_curves([1]), _runs(optimizer=["adam"]), CurveOptions(color_by="dataset"))


def test_colour_by_run_shares_lines_past_the_palette() -> None:
    """With more runs than colours, runs of the same colour share one line per series."""
    runs = _runs(optimizer=["adam"] * 25)
    groups = line_groups(runs, "run", None)
    assert len(groups) == 19 and groups[0].label == "runs 1, 20"


def test_default_color_by_picks_the_differing_knob() -> None:
    """With only the batch size differing, the default colouring is batch_size."""
    assert default_color_by(_runs(batch_size=[16, 32, 16])) == "batch_size"


def test_default_color_by_ignores_seed_and_falls_back_to_run() -> None:
    """Runs differing only in seed are coloured one per run."""
    assert default_color_by(_runs(seed=[0, 1])) == "run"


def test_parcoords_maps_categories_to_ticks() -> None:
    """Text knobs become evenly spaced codes labelled with their values."""
    spec = encode_dimension("optimizer", pd.Series(["sgd", "adam", "sgd"]))
    assert list(spec["values"]) == [1.0, 0.0, 1.0]
    assert spec["ticktext"] == ["adam", "sgd"]


def test_parcoords_puts_learning_rates_on_a_log_axis() -> None:
    """Numbers spanning over 100x are log10-spaced with their own values as tick labels."""
    spec = encode_dimension("learning_rate", pd.Series([0.1, 0.001, 0.0001]))
    assert list(spec["values"]) == pytest.approx([-1.0, -3.0, -4.0])
    assert spec["ticktext"] == ["0.0001", "0.001", "0.1"]


def test_parcoords_treats_missing_numbers_as_a_category() -> None:
    """A numeric knob some runs lack (None) is categorical, "none" last."""
    spec = encode_dimension("early_stopping.patience", pd.Series([4, None, 3]))
    assert spec["ticktext"] == ["3", "4", "none"]


def test_parcoords_ends_with_the_score_and_skips_runs_without_one() -> None:
    """The last axis is best val accuracy; runs without one are left out."""
    table = pd.DataFrame(
        {"optimizer": ["adam", "sgd", "sgd"], "best_val_accuracy": [0.9, np.nan, 0.7]}
    )
    [trace] = parcoords_figure(table, ["optimizer"]).data
    assert [d.label for d in trace.dimensions] == ["optimizer", "best val accuracy"]
    assert list(trace.dimensions[1].values) == [0.9, 0.7]


def test_figure_html_embeds_plotly_js() -> None:
    """The HTML download works offline: plotly.js is inside, not fetched from a CDN."""
    page = figure_html(compare_figure(_curves([1]), _runs(optimizer=["a"]), CurveOptions()))
    assert "<script src=" not in page and "Plotly.newPlot" in page and len(page) > 1_000_000


def test_hover_labels_do_not_read_nested_values_as_the_run_s_own() -> None:
    """A grid over a dict field names `data={seed=1}`: that is not the run's seed."""
    runs = _runs(seed=[1])
    runs["name"] = ["q [data={seed=1}]"]
    assert hover_labels(runs, ["seed"])[0] == "#1 q [data={seed=1}] (seed=1)"


def test_epoch_axes_tick_at_whole_epochs() -> None:
    """Every panel's epoch axis steps by whole epochs (a 3-epoch run has no 1.5)."""
    figure = compare_figure(_curves([1, 2]), _runs(optimizer=["a", "b"]), CurveOptions())
    axes = [figure.layout[name] for name in figure.layout if name.startswith("xaxis")]
    assert axes and all(axis.dtick == 1 and axis.tickformat == "d" for axis in axes)


def test_panels_pair_any_metric_with_its_validation_twin() -> None:
    """auc/val_auc share a panel after accuracy and loss; my_score stands alone; lr last."""
    chosen = ("learning_rate", "my_score", "val_auc", "loss", "auc", "accuracy")
    assert panels(chosen, one_per_series=False) == [
        ("accuracy", ("accuracy",)),
        ("loss", ("loss",)),
        ("auc", ("auc", "val_auc")),
        ("my_score", ("my_score",)),
        ("learning rate", ("learning_rate",)),
    ]
    assert [t for t, _ in panels(("val_auc", "auc"), one_per_series=True)] == [
        "auc",
        "validation auc",
    ]


def test_hover_formats_accuracies_as_percentages_and_others_in_four_digits() -> None:
    """top_3_accuracy reads as a share; a custom score as a plain number."""
    assert hover_format("val_top_3_accuracy") == ".2%"
    assert hover_format("my_score") == ".4g"
    assert hover_format("loss") == ".4f"


def test_stars_need_a_direction_and_go_on_validation_when_logged() -> None:
    """A known name gets stars on its validation series; training only when logged alone;
    an unknown name only once a direction is given."""
    options = CurveOptions(metrics=("auc", "val_auc", "my_score"))
    logged = ["auc", "val_auc", "my_score"]
    assert starred("val_auc", options, logged) is Direction.MAX
    assert starred("auc", options, logged) is None
    assert starred("my_score", options, logged) is None
    given = CurveOptions(directions=MetricDirections((("my_score", Direction.MIN),)))
    assert starred("my_score", given, logged) is Direction.MIN
    assert starred("val_auc", CurveOptions(best_markers=False), logged) is None


def test_stars_on_a_custom_metric_sit_on_the_lowest_value_when_lower_is_better() -> None:
    """my_score with MIN: the star of each run is at its smallest value's first epoch."""
    curves = _curves([1]).assign(my_score=[3.0, 1.0, 1.0])
    directions = MetricDirections((("my_score", Direction.MIN),))
    options = CurveOptions(metrics=("my_score",), directions=directions)
    [star] = [t for t in compare_figure(curves, _runs(optimizer=["a"]), options).data
              if t.name == "best epoch"]  # fmt: skip
    assert (list(star.x), list(star.y)) == ([2.0], [1.0])

"""Diff tables: which columns, what they hold, and which cells are highlighted."""

from __future__ import annotations

import pandas as pd

from dashboard.views.compare.diff_table import (
    HIGHLIGHT,
    baseline,
    diff_table,
    display_column,
    highlight_css,
    styled,
)


def _table(**columns: list) -> pd.DataFrame:
    return pd.DataFrame(columns)


def test_baseline_is_the_most_common_value() -> None:
    """Three adams and one sgd: adam is the baseline."""
    assert baseline(pd.Series(["adam", "sgd", "adam", "adam"])) == "adam"


def test_baseline_tie_goes_to_the_smallest_value() -> None:
    """Two 32s and two 16s: 16 is the baseline, whatever the row order."""
    assert baseline(pd.Series([32, 16, 32, 16])) == "16"


def test_cells_off_the_baseline_are_highlighted_in_every_row() -> None:
    """Only the sgd cell of the optimizer column is highlighted; other columns are plain."""
    table = _table(id=[1, 2, 3], optimizer=["adam", "sgd", "adam"], seed=[0, 0, 0])
    css = highlight_css(table, ["optimizer"])
    assert css["optimizer"].tolist() == ["", HIGHLIGHT, ""]
    assert set(css["seed"]) == {""} and set(css["id"]) == {""}


def test_colour_by_column_takes_its_line_colours() -> None:
    """Given colours per value, every cell of that column gets its value's colour."""
    table = _table(optimizer=["adam", "sgd"])
    css = highlight_css(table, ["optimizer"], {"optimizer": {"adam": "red", "sgd": "blue"}})
    assert css["optimizer"].tolist() == ["background-color: red", "background-color: blue"]


def test_missing_values_count_as_a_value_of_their_own() -> None:
    """A None among 4s is highlighted as different."""
    table = _table(patience=[4.0, None, 4.0])
    assert highlight_css(table, ["patience"])["patience"].tolist() == ["", HIGHLIGHT, ""]


def test_styled_table_carries_the_css() -> None:
    """The Styler applies the CSS frame cell by cell."""
    table = _table(optimizer=["adam", "sgd", "adam"])
    html = styled(table, highlight_css(table, ["optimizer"])).to_html()
    assert html.count("rgba(255, 196, 0") == 1


def test_display_column_keeps_numbers_numeric_for_sorting() -> None:
    """Numbers stay numbers (None -> NaN), flags stay booleans, mixtures become text."""
    assert display_column(pd.Series([0.1, None, 0.01], dtype=object)).dtype == float
    assert display_column(pd.Series([True, False], dtype=object)).dtype == bool
    assert display_column(pd.Series([(0.2, 0.5), None], dtype=object)).tolist() == [
        "[0.2, 0.5]",
        "none",
    ]


def test_diff_table_lists_differing_knobs_then_outcomes_with_epochs() -> None:
    """id, link, name, status, the knobs asked for, then metrics with their epochs."""
    runs = pd.DataFrame(
        {
            "id": [2, 1],
            "name": ["b", "a"],
            "status": ["running", "succeeded"],
            "epochs_text": ["1/3", "3/3"],
            "stop_reason": [None, "completed"],
            "best_val_accuracy": [0.5, 0.9],
        }
    )
    params = pd.DataFrame({"optimizer": ["adam", "sgd"]}, index=pd.Index([1, 2], name="id"))
    metrics = pd.DataFrame(
        {"best_val_accuracy": [0.91], "best_val_accuracy_epoch": [2], "min_val_loss": [0.3]},
        index=pd.Index([1], name="run_id"),
    )
    table = diff_table(runs, params, metrics, ["optimizer"])
    assert list(table.columns[:5]) == ["id", "open", "name", "status", "optimizer"]
    assert table["optimizer"].tolist() == ["sgd", "adam"]
    assert table["best_val_accuracy"].tolist()[1] == 0.91
    assert table["open"].tolist() == ["run?id=2", "run?id=1"]
    assert table["stop_reason"].tolist() == [None, "completed"]


def test_parameter_counts_follow_the_knobs_when_a_run_has_them() -> None:
    """Total and trainable parameters sit after the knobs; absent when no run has them."""
    runs = pd.DataFrame(
        {
            "id": [2, 1],
            "name": ["b", "a"],
            "status": ["succeeded", "succeeded"],
            "total_params": pd.array([2_260_000, None], dtype="Int64"),
            "trainable_params": pd.array([5_124, None], dtype="Int64"),
        }
    )
    params = pd.DataFrame(
        {"architecture": ["report_cnn", "mobilenet_v2"]}, index=pd.Index([1, 2], name="id")
    )
    table = diff_table(runs, params, pd.DataFrame(), ["architecture"])
    assert list(table.columns) == [
        "id", "open", "name", "status", "architecture", "total_params", "trainable_params",
    ]  # fmt: skip
    assert table["trainable_params"].tolist()[0] == 5_124
    assert pd.isna(table["total_params"].tolist()[1])
    bare = runs.assign(total_params=pd.NA, trainable_params=pd.NA)
    assert "total_params" not in diff_table(bare, params, pd.DataFrame(), ["architecture"])

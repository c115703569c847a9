"""How run tables look: which columns, in what order, formatted and highlighted how.

The Compare diff table highlights, in every differing column, the cells whose value is not the
column's most common one (ties: the smallest value is the baseline), so with 40 runs the odd
ones out stand out; the colour-by column instead takes each value's line colour from the chart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
from pandas.io.formats.style import Styler

from dashboard.knobs import format_value, is_missing, sort_key

RECENT_COLUMNS = (
    "id", "name", "status", "progress", "epochs_text", "best_val_accuracy", "stop_reason",
)  # fmt: skip
RUNS_COLUMNS = (
    "id", "open", "status", "study", "name", "architecture", "optimizer", "learning_rate",
    "batch_size", "image_size", "augmented", "seed", "progress", "epochs_text",
    "best_val_accuracy", "best_epoch", "last_val_accuracy", "stop_reason", "tags", "created_at",
)  # fmt: skip
METRIC_COLUMNS = (
    "best_val_accuracy", "best_val_accuracy_epoch", "last_val_accuracy",
    "last_val_accuracy_epoch", "min_val_loss", "min_val_loss_epoch", "epochs_text",
    "train_seconds", "stop_reason",
)  # fmt: skip
HIGHLIGHT = "background-color: rgba(255, 196, 0, 0.28)"
RUN_PAGE = "/run"  # the one-run page's url_path (dashboard/views/run.py)


def run_links(ids: pd.Series) -> pd.Series:
    """`/run?id=12` per run, for a LinkColumn to the one-run page."""
    return RUN_PAGE + "?id=" + ids.astype(int).astype(str)


def column_config() -> dict[str, Any]:
    """Column titles and formats for any subset of `queries.RUN_COLUMNS` and the diff table."""
    number = st.column_config.NumberColumn
    return {
        "id": number("id", format="%d", width="small"),
        "open": st.column_config.LinkColumn(
            "run", display_text=r"id=(\d+)", width="small", help="Open the run's page"
        ),
        "name": st.column_config.TextColumn("name", width="medium"),
        "status": st.column_config.TextColumn("status", width="small"),
        "learning_rate": number("lr", format="%g"),
        "batch_size": number("batch", format="%d"),
        "image_size": number("px", format="%d"),
        "augmented": st.column_config.CheckboxColumn("aug"),
        "seed": number("seed", format="%d", width="small"),
        "progress": st.column_config.ProgressColumn(
            "progress", min_value=0.0, max_value=1.0, format="percent", width="small"
        ),
        "epochs_text": st.column_config.TextColumn("epochs", width="small"),
        "best_val_accuracy": number("best val acc", format="%.3f"),
        "best_epoch": number("best epoch", format="%d"),
        "best_val_accuracy_epoch": number("@ epoch", format="%d", width="small"),
        "last_val_accuracy": number("last val acc", format="%.3f"),
        "last_val_accuracy_epoch": number("@ epoch", format="%d", width="small"),
        "min_val_loss": number("min val loss", format="%.4f"),
        "min_val_loss_epoch": number("@ epoch", format="%d", width="small"),
        "train_seconds": number("train s", format="%.0f"),
        "stop_reason": st.column_config.TextColumn("stopped by"),
        "stop_detail": st.column_config.TextColumn("stop detail", width="large"),
        "tags": st.column_config.TextColumn("tags"),
        "created_at": st.column_config.DatetimeColumn("created", format="YYYY-MM-DD HH:mm"),
        "finished_at": st.column_config.DatetimeColumn("finished", format="YYYY-MM-DD HH:mm"),
    }


def pick(runs: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The listed columns that exist, in order, with a fresh positional index."""
    return runs[[c for c in columns if c in runs.columns]].reset_index(drop=True)


def display_column(values: pd.Series) -> pd.Series:
    """A hyper-parameter column a table can hold and sort: numbers as floats (missing as NaN),
    yes/no flags as booleans, anything else (text, lists, mixtures) as its shown text."""
    present = [v for v in values if not is_missing(v)]
    if len(present) == len(values) and all(isinstance(v, bool | np.bool_) for v in present):
        return values.astype(bool)
    if present and all(
        isinstance(v, int | float | np.number) and not isinstance(v, bool | np.bool_)
        for v in present
    ):
        return pd.to_numeric(values, errors="coerce").astype(float)
    return values.map(format_value)


def diff_table(
    runs: pd.DataFrame, params: pd.DataFrame, metrics: pd.DataFrame, columns: Sequence[str]
) -> pd.DataFrame:
    """One row per run: id, link, name, status, the differing `columns`, then the outcome.

    Args:
        runs: `queries.runs_frame` rows of the selected runs.
        params: `knobs.hyperparameters` of the same runs (index: run id).
        metrics: `curve_data.run_metrics` (index: run id); runs without epochs get blanks.
        columns: the hyper-parameters to show, usually `knobs.differing(params)`.
    """
    ids = runs["id"].astype(int)
    table = pd.DataFrame(
        {"id": ids.to_numpy(), "open": run_links(ids).to_numpy(), "name": runs["name"].to_numpy()}
    )
    table["status"] = runs["status"].to_numpy()
    for column in columns:
        table[column] = display_column(params[column].reindex(ids).reset_index(drop=True))
    outcome = metrics.reindex(ids).reset_index(drop=True)
    for column in METRIC_COLUMNS:
        if column in outcome.columns:
            table[column] = outcome[column]
        elif column in runs.columns:
            table[column] = runs[column].to_numpy()
    return table


def baseline(values: pd.Series) -> str:
    """The shown text of a column's most common value; ties go to the smallest value."""
    counts = Counter(values.map(format_value))
    value_of = {format_value(v): v for v in values}
    return min(counts, key=lambda text: (-counts[text], sort_key(value_of[text])))


def highlight_css(
    table: pd.DataFrame,
    columns: Sequence[str],
    colors: Mapping[str, Mapping[str, str]] | None = None,
) -> pd.DataFrame:
    """CSS per cell: `colors[column][shown value]` where given (the colour-by column), else
    HIGHLIGHT on cells of `columns` that differ from their column's baseline value."""
    css = pd.DataFrame("", index=table.index, columns=table.columns)
    for column in columns:
        shown = table[column].map(format_value)
        palette = (colors or {}).get(column)
        if palette:
            css[column] = shown.map(
                lambda v, p=palette: f"background-color: {p[v]}" if v in p else ""
            )
        else:
            css[column] = np.where(shown != baseline(table[column]), HIGHLIGHT, "")
    return css


def styled(table: pd.DataFrame, css: pd.DataFrame) -> Styler:
    """The table with per-cell CSS, for `st.dataframe` (which keeps sorting and formats)."""
    return table.style.apply(lambda _: css, axis=None)

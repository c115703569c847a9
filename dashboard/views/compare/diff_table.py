"""Compare's table: one row per run, only the knobs that differ (highlighted), then outcomes.

In every differing column, the cells whose value is not the column's most common one (ties:
the smallest value is the baseline) are highlighted, so with 40 runs the odd ones out stand
out; the colour-by column instead takes each value's line colour from the chart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from dashboard.knobs import format_value, is_missing, sort_key
from dashboard.text import run_links

# After the chosen metric's best and last (`curve_data.run_metrics`): how far each run got.
RUN_OUTCOMES = ("epochs_text", "train_seconds", "stop_reason")


# The built model's size: total parameters and those trained in the run's latest phase.
MODEL_COLUMNS = ("total_params", "trainable_params")


HIGHLIGHT = "background-color: rgba(255, 196, 0, 0.28)"


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
    """One row per run: id, link, name, status, the differing `columns`, the parameter
    counts (when a run has them), then the outcome: the metric columns in `metrics`' order,
    epochs, training time and stop reason.

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
    for column in MODEL_COLUMNS:
        if column in runs.columns and runs[column].notna().any():
            table[column] = runs[column].to_numpy()
    outcome = metrics.reindex(ids).reset_index(drop=True)
    for column in outcome.columns:
        if column not in RUN_OUTCOMES:
            table[column] = outcome[column]
    for column in RUN_OUTCOMES:
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

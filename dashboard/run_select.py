"""Choosing runs, shared by the Runs page and the Compare picker: filters and a selectable table.

Filters start from the URL (`run_filter.RunFilter`) and the page writes them back. The table's
selection follows run ids rather than row positions, so runs stay picked while a filter hides
them and come back selected when it shows them again; 2,000 rows stay quick because
`st.dataframe` draws only the rows in view.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.knobs import FILTER_KNOBS, format_value, sorted_values
from dashboard.run_filter import RunFilter
from dashboard.tables import column_config
from dashboard.text import MISSING
from db.models import RunSource, RunStatus

STATUSES: tuple[str, ...] = tuple(status.value for status in RunStatus)
SOURCES: tuple[str, ...] = tuple(source.value for source in RunSource)
SOURCE_HELP = (
    "queued: trained by the lab's workers; script: logged by your own training script "
    "(LabCallback); import: read from TensorBoard or CSVLogger files. None picked: every source."
)
SEARCH_HELP = (
    "Words must all appear in the run's name. `field=value` matches any config field, "
    "e.g. `early_stopping.patience=4` or `augmentation.horizontal_flip=yes`."
)


def _tags(runs: pd.DataFrame) -> list[str]:
    found = {t.strip() for text in runs["tags"].dropna() for t in str(text).split(",")}
    return sorted(t for t in found if t)


def filter_bar(
    runs: pd.DataFrame, prefix: str, on_study_change: Callable[[], None] | None = None
) -> RunFilter:
    """Search, status, study, tags and a popover of hyper-parameters; returns the filter.

    Widgets take their first value from the URL; `prefix` keeps two pages' widgets apart.
    """
    start = RunFilter.from_params(st.query_params.to_dict())
    text_col, study_col, tag_col, knob_col = st.columns(
        [3.4, 2.2, 1.8, 2.6], vertical_alignment="bottom"
    )
    text = text_col.text_input(
        "Search", value=start.text, key=f"{prefix}.q", placeholder="name words or field=value",
        help=SEARCH_HELP,
    )  # fmt: skip
    studies = ["", *sorted(runs["study"].dropna().unique())]
    study = study_col.selectbox(
        "Study", studies, index=studies.index(start.study) if start.study in studies else 0,
        format_func=lambda name: name or "any study", key=f"{prefix}.study",
        on_change=on_study_change,
    )  # fmt: skip
    tags = _tags(runs)
    chosen_tags = tag_col.multiselect(
        "Tags", tags, default=[t for t in start.tags if t in tags], key=f"{prefix}.tag",
        placeholder="any tag",
    )  # fmt: skip
    knobs = _knob_filters(runs, prefix, dict(start.knobs), knob_col)
    # Pills, not a multiselect: every status stays readable whatever is picked.
    status_col, source_col = st.columns([3, 1.3], vertical_alignment="bottom")
    statuses = status_col.pills(
        "Status", STATUSES, selection_mode="multi",
        default=[s for s in start.statuses if s in STATUSES], key=f"{prefix}.status",
        help="Runs in any of the picked statuses; none picked: every status.",
    )  # fmt: skip
    sources = source_col.pills(
        "Source", SOURCES, selection_mode="multi",
        default=[s for s in start.sources if s in SOURCES], key=f"{prefix}.source",
        help=SOURCE_HELP,
    )  # fmt: skip
    return RunFilter(
        text.strip(), tuple(statuses), study, tuple(chosen_tags), knobs, tuple(sources)
    )


def _knob_filters(
    runs: pd.DataFrame, prefix: str, start: dict[str, tuple[str, ...]], column: Any
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """One multiselect per key hyper-parameter with more than one value, in a popover.

    The popover's label stays the same: a new label would be a new popover, closing it after
    each value ticked inside.
    """
    chosen: list[tuple[str, tuple[str, ...]]] = []
    with column.popover("Hyper-parameters", icon=":material/tune:", width="stretch"):
        for knob in FILTER_KNOBS:
            values = [format_value(v) for v in sorted_values(runs[knob])]
            if len(values) < 2 and not start.get(knob):
                continue
            picked = st.multiselect(
                knob, values, default=[v for v in start.get(knob, ()) if v in values],
                key=f"{prefix}.k.{knob}", placeholder="any",
            )  # fmt: skip
            if picked:
                chosen.append((knob, tuple(picked)))
    return tuple(chosen)


def _reconciled(key: str, picked: list[int]) -> list[int]:
    """Apply the user's latest clicks, made on the rows the table showed last run."""
    previous: list[int] | None = st.session_state.get(f"{key}.rows")
    state = st.session_state.get(key)
    if previous is None or state is None:
        return picked
    chosen = [previous[r] for r in state["selection"]["rows"] if r < len(previous)]
    shown, kept = set(previous), set(chosen)
    still = [i for i in picked if i not in shown or i in kept]
    return still + [i for i in chosen if i not in still]


def selection_table(
    table: pd.DataFrame, key: str, picked: Sequence[int], **dataframe_args: Any
) -> list[int]:
    """`table` (with an `id` column) as a multi-row selectable dataframe.

    Args:
        table: the rows to show.
        key: the widget key.
        picked: the run ids picked so far, from the URL (which the page rewrites every run,
            so it is the store that survives page switches and shared links).

    Returns:
        The picked run ids after the user's latest clicks, including picked runs that the
        current rows do not show.
    """
    picked = _reconciled(key, [int(i) for i in picked])
    ids = [int(i) for i in table["id"]]
    position = {run_id: row for row, run_id in enumerate(ids)}
    rows = sorted(position[i] for i in picked if i in position)
    state = st.session_state.get(key)
    # Re-select only when that changes something, so the browser keeps its scroll position.
    if state is None or sorted(state["selection"]["rows"]) != rows:
        st.session_state[key] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    st.session_state[f"{key}.rows"] = ids
    st.dataframe(
        table,
        column_config=column_config(),
        hide_index=True,
        on_select="rerun",
        selection_mode="multi-row",
        placeholder=MISSING,
        key=key,
        column_order=[c for c in table.columns if c != "id"],  # the `open` link shows the id
        **dataframe_args,
    )
    return picked

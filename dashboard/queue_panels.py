"""The Queue page's parts: submitting the form, the grid preview, the report preset, live list."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from dashboard.actions import cancel, cancel_message, queue_configs
from dashboard.auth import can_write
from dashboard.config_form import (
    config_from_form,
    expand_grid,
    grid_table,
    show_problems,
)
from dashboard.queries import fetch_runs
from dashboard.tables import RECENT_COLUMNS, column_config, pick
from db.metrics import epoch_times
from db.runs import runs_by_config_hash
from db.session import Database
from experiment.config import ConfigError, ExperimentConfig, parse_config
from experiment.estimate import PlannedRun, plan
from experiment.presets import report_study

GRID_PREVIEW = "grid.preview"  # session_state: the last previewed grid, until queued
RECENT_LIMIT = 25


def _span(ids: list[int]) -> str:
    return f"run {ids[0]}" if len(ids) == 1 else f"runs {ids[0]}–{ids[-1]}"


def submit_run(database: Database, values: Mapping[str, Any]) -> None:
    """Validate the form and queue one run, or list what is wrong and queue nothing."""
    try:
        config = parse_config(config_from_form(values))
    except ConfigError as error:
        show_problems(error)
        return
    if not can_write("queue runs"):
        return
    [run_id] = queue_configs(database, [config])
    st.success(f"Queued run {run_id}", icon=":material/check_circle:")


def preview_grid(values: Mapping[str, Any], text: str) -> None:
    """Expand the grid over the form's config and keep it for the "Queue N runs" button."""
    st.session_state.pop(GRID_PREVIEW, None)
    try:
        configs = expand_grid(config_from_form(values), text)
    except ConfigError as error:
        show_problems(error)
        return
    st.session_state[GRID_PREVIEW] = {"text": text, "configs": [c.to_json() for c in configs]}


def plan_grid(database: Database, configs: list[ExperimentConfig]) -> list[PlannedRun]:
    """Which grid configs repeat existing runs, and how long each should take."""
    with database.read() as session:
        existing = runs_by_config_hash(session, [c.identity_hash() for c in configs])
        history = epoch_times(session)
    return plan(configs, existing, history)


def grid_panel(database: Database) -> None:
    """The previewed grid: how many runs, their varied values, and the button that queues them."""
    preview = st.session_state.get(GRID_PREVIEW)
    if not preview:
        return
    configs = preview["configs"]
    count = len(configs)
    st.markdown(f"#### Grid preview: {count} run{'' if count == 1 else 's'}")
    planned = plan_grid(database, [parse_config(config) for config in configs])
    table = grid_table(configs, preview["text"])
    table["same as run"] = [", ".join(map(str, p.duplicate_of)) or "" for p in planned]
    table["est. minutes"] = [
        None if p.estimated_seconds is None else round(p.estimated_seconds / 60, 1) for p in planned
    ]
    st.dataframe(table, hide_index=True)
    repeats = sum(bool(p.duplicate_of) for p in planned)
    known = [p.estimated_seconds for p in planned if p.estimated_seconds is not None]
    estimate = f"at most ~{sum(known) / 60:.0f} min of training" if known else "no estimate yet"
    st.caption(
        f"{repeats} of {count} repeat a queued, running or succeeded run; {estimate}"
        + (
            f" ({count - len(known)} without past epochs to go by)"
            if 0 < len(known) < count
            else ""
        )
        + ". Estimates come from past epochs of the same architecture and image size."
    )
    if st.button(f"Queue {count} runs", type="primary", key="grid.queue"):
        if not can_write("queue runs"):
            return
        ids = queue_configs(database, [parse_config(config) for config in configs])
        del st.session_state[GRID_PREVIEW]
        st.success(f"Queued {_span(ids)}", icon=":material/check_circle:")


def report_panel(database: Database, dataset: str) -> None:
    """Queue the report's whole study in one transaction, shrunk for a CPU if asked."""
    with st.expander("Reproduce the report"):
        st.caption(
            "Every comparison of the study (epochs, batch, optimizer, architecture, "
            "augmentation) from its best setting, sharing one baseline run. On a CPU, try "
            "112 px and an epochs scale of 0.2."
        )
        with st.form("report_form", border=False, enter_to_submit=False):
            row = st.columns(3)
            study = row[0].text_input("Study name", value="report", key="report.study")
            size = row[1].number_input("Image size (px)", value=224, step=16, key="report.size")
            scale = row[2].number_input(
                "Epochs scale", value=1.0, step=0.1, format="%g", key="report.scale"
            )
            submitted = st.form_submit_button("Reproduce the report", key="report.submit")
        if submitted:
            _queue_report(database, study.strip() or "report", int(size), float(scale), dataset)


def _queue_report(database: Database, study: str, size: int, scale: float, dataset: str) -> None:
    if scale <= 0:
        st.error("`epochs_scale`: must be above 0", icon=":material/error:")
        return
    try:
        configs = report_study(study=study, image_size=size, epochs_scale=scale, dataset=dataset)
    except ConfigError as error:
        show_problems(error)
        return
    if not can_write("queue runs"):
        return
    ids = queue_configs(database, configs)
    st.success(f"Queued {_span(ids)} as study `{study}`", icon=":material/check_circle:")


@st.fragment(run_every=2)
def recent_runs(database: Database) -> None:
    """The newest runs, refreshed every 2 s without rerunning (or resetting) the form above."""
    st.subheader("Recent runs")
    _cancel_controls(database)
    runs = fetch_runs(database, limit=RECENT_LIMIT)
    if runs.empty:
        st.info("Nothing queued yet: fill in the form above.", icon=":material/info:")
        return
    st.dataframe(pick(runs, RECENT_COLUMNS), column_config=column_config(), hide_index=True)


def _cancel_controls(database: Database) -> None:
    active = fetch_runs(database, statuses=("queued", "running"))
    active = active[~active["cancel_requested"].astype(bool)]
    if active.empty:
        return
    labels = dict(zip(active["id"], active["label"], strict=True))
    pick_column, button_column = st.columns([4, 1], vertical_alignment="bottom")
    run_id = pick_column.selectbox(
        "Cancel a queued or running run",
        list(labels),
        format_func=lambda i: labels[i],
        key="cancel.run",
    )
    clicked = button_column.button("Cancel run", key="cancel.button", icon=":material/cancel:")
    if clicked and run_id is not None and can_write("cancel runs"):
        st.toast(cancel_message(run_id, cancel(database, run_id)))

"""Queue's form actions: queue one run, or preview a grid and queue every run in it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from dashboard.actions import queue_configs
from dashboard.auth import can_write
from dashboard.text import id_span
from dashboard.views.queue.config_form import (
    config_from_form,
    expand_grid,
    grid_table,
    show_problems,
)
from db.metrics import run_timings
from db.runs import runs_by_config_hash
from db.session import Database
from experiment.config import ConfigError, ExperimentConfig, parse_config
from experiment.estimate import PlannedRun, plan

GRID_PREVIEW = "grid.preview"  # session_state: the last previewed grid, until queued


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
        history = run_timings(session)
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
        st.success(f"Queued {id_span(ids)}", icon=":material/check_circle:")

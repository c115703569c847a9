"""Queue's actions: queue one run, or preview a batch (a grid, the report's study) and queue it.

A batch is never queued unseen: its preview lists the runs, which of them repeat existing
runs and how long they should take, and its "Queue N runs" button queues exactly those.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from dashboard.actions import queue_configs
from dashboard.auth import can_write
from dashboard.queries import fetch_run_timings
from dashboard.text import MISSING, id_span, run_anchor
from dashboard.views.queue.config_form import (
    config_from_form,
    expand_grid,
    preview_table,
    show_problems,
)
from db.runs import runs_by_config_hash
from db.session import Database
from experiment.config import ConfigError, ExperimentConfig, parse_config
from experiment.estimate import PlannedRun, duration_text, plan, total_text

PENDING = "queue.pending"  # session_state: the previewed batch, until queued or replaced
SEARCH_PENDING = "queue.search_pending"  # the previewed search (search_box.py): one preview
QUEUED = "queue.queued"  # session_state: what the last queue action did, shown once
QUEUE_BATCH = "grid.queue"  # the preview's "Queue N runs" button


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
    st.success(f"Queued {run_anchor(run_id)}: {config.name}", icon=":material/check_circle:")


def preview_batch(title: str, configs: list[ExperimentConfig], note: str = "") -> None:
    """Keep a batch for `batch_panel`, which previews it with its "Queue N runs" button."""
    st.session_state[PENDING] = {
        "title": title,
        "note": note,
        "configs": [config.to_json() for config in configs],
    }


def preview_grid(values: Mapping[str, Any], text: str, note: str = "") -> None:
    """Expand the grid over the form's config and preview it, or say what is wrong."""
    st.session_state.pop(PENDING, None)
    st.session_state.pop(SEARCH_PENDING, None)
    try:
        configs = expand_grid(config_from_form(values), text)
    except ConfigError as error:
        show_problems(error)
        return
    preview_batch("Grid preview", configs, note)


def plan_batch(database: Database, configs: list[ExperimentConfig]) -> list[PlannedRun]:
    """Which configs repeat existing runs, and how long each should take."""
    with database.read() as session:
        existing = runs_by_config_hash(session, [c.identity_hash() for c in configs])
    return plan(configs, existing, fetch_run_timings(database))


def queue_pressed_batch(database: Database) -> None:
    """If the preview's "Queue N runs" was pressed, queue the batch and say so on the next run.

    The page calls this before its reads (the button is drawn later, by `batch_panel`), so
    during a database outage this write is what fails, and it says so under the banner; the
    preview is kept for another press.
    """
    pending = st.session_state.get(PENDING)
    if not pending or not st.session_state.get(QUEUE_BATCH) or not can_write("queue runs"):
        return
    configs = [parse_config(config) for config in pending["configs"]]
    ids = queue_configs(database, configs)
    del st.session_state[PENDING]
    study = configs[0].study
    where = f" as study `{study}`" if study else ""
    st.session_state[QUEUED] = f"Queued {id_span(ids)}{where}."
    st.rerun()


def batch_panel(database: Database) -> None:
    """The previewed batch: its runs, repeats and estimate, and the button that queues it."""
    done = st.session_state.pop(QUEUED, None)
    if done:
        st.success(done, icon=":material/check_circle:")
    pending = st.session_state.get(PENDING)
    if not pending:
        return
    raw = pending["configs"]
    configs = [parse_config(config) for config in raw]
    count = len(configs)
    with st.container(border=True):
        st.markdown(f"#### {pending['title']}: {count} run{'' if count == 1 else 's'}")
        if pending["note"]:
            st.info(pending["note"], icon=":material/info:")
        planned = plan_batch(database, configs)
        table = preview_table(raw)
        table["same as run"] = [", ".join(map(str, p.duplicate_of)) for p in planned]
        table["est. time"] = [duration_text(p.estimated_seconds) for p in planned]
        st.dataframe(table, hide_index=True, placeholder=MISSING, key="queue.preview")
        repeats = sum(bool(p.duplicate_of) for p in planned)
        st.caption(
            f"{repeats} of {count} repeat a queued, running or succeeded run; "
            f"{total_text(planned)} of training on one worker. Estimates come from past runs' "
            "images per second (same architecture, scaled by pixels for a new image size) and "
            "their start-up and evaluation time; early stopping can end runs sooner."
        )
        queue, discard = st.columns([1, 4], vertical_alignment="center")
        queue.button(f"Queue {count} runs", type="primary", key=QUEUE_BATCH)  # see above
        if discard.button("Discard preview", key="grid.discard"):
            del st.session_state[PENDING]
            st.rerun()

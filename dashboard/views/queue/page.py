"""Queue: one run from the form (a CPU-sized start; the report's best setting one click away), a
grid, a search, or the report's whole study, each batch previewed with its time estimate first."""

from __future__ import annotations

import streamlit as st

from dashboard.queries import fetch_run
from dashboard.state import parse_ids, require_database, url_param
from dashboard.views.queue.config_form import (
    dataset_default,
    default_config,
    form_defaults,
    render_config_form,
)
from dashboard.views.queue.cost import form_notes, preset_buttons
from dashboard.views.queue.preset import report_panel
from dashboard.views.queue.recent import recent_runs
from dashboard.views.queue.search_box import preview_search, search_panel
from dashboard.views.queue.submit import (
    batch_panel,
    preview_grid,
    queue_pressed_batch,
    submit_run,
)
from db.models import RunSource
from experiment.foreign import clone_fields
from settings import Settings

settings = Settings.from_env()
database = require_database(settings)
dataset = dataset_default(settings.dataset_dir)

st.title("Queue runs")
st.caption("Workers pick queued runs up in priority order; this page never trains.")
defaults = default_config(dataset)
clone = parse_ids(url_param("clone"))
source = fetch_run(database, clone[0]) if clone else None
# A script's or an imported run's config is any JSON: only the keys naming our fields count.
cloned = clone_fields(source.config) if source and source.source is not RunSource.QUEUED else None
if source is not None and source.source is not RunSource.QUEUED and cloned is None:
    st.warning(
        f"Run {source.id}'s config names none of the form's fields (or a value the form "
        "refuses), so the form starts from its usual values.",
        icon=":material/warning:",
    )
elif source is not None:
    # `?clone=N` (from a run's page): the form starts from that run's config.
    config = source.config if cloned is None else cloned
    defaults = {**defaults, **config, "name": f"{source.name} (copy)"[:200]}
    st.info(f"The form starts from run {source.id}'s config; change it and queue.")
elif clone:
    st.warning(
        f"There is no run {clone[0]} to clone (it may have been deleted); the form starts "
        "from its usual values.",
        icon=":material/warning:",
    )
elif url_param("clone") is not None:
    st.warning("`?clone=` needs a run id, e.g. `?clone=12`.", icon=":material/warning:")
preset_buttons(dataset)
submitted = render_config_form(form_defaults(defaults))
# The actions before the page's reads: a press during a database outage reaches its write,
# which names itself under the outage banner (the form's values are kept).
grid, search = submitted.grid_text.strip(), submitted.search_text.strip()
if grid and search and submitted.action is not None:
    st.error(
        "Both the grid box and the search box are filled, so nothing was previewed or queued: "
        "a grid lists every run, a search lets the lab choose them. Empty one of the two boxes.",
        icon=":material/error:",
    )
elif search and submitted.action is not None:
    pressed = {"queue": "Queue run", "grid": "Preview grid"}.get(submitted.action)
    note = (
        f'The search box is filled, so "{pressed}" previewed the search instead. "Queue '
        'search" below creates it; empty the search box to queue a single run or a grid.'
    )
    preview_search(submitted.values, submitted.search_text, note if pressed else "")
elif grid and submitted.action is not None:
    note = (
        'The grid box is filled, so "Queue run" previewed the grid instead of queueing one '
        'run. "Queue N runs" below queues it; empty the grid box to queue a single run.'
    )
    preview_grid(submitted.values, submitted.grid_text, note if submitted.action == "queue" else "")
elif submitted.action == "queue":
    submit_run(database, submitted.values)
elif submitted.action == "grid":
    st.warning("The grid box is empty: type `field: [value, value]` lines into it first.")
elif submitted.action == "search":
    st.warning(
        "The search box is empty: paste a search file or a `search:` section into it first "
        "(the box's placeholder is an example)."
    )
queue_pressed_batch(database)
with submitted.notes:
    form_notes(database, submitted.values)
report_panel(dataset)
batch_panel(database)  # after both sources of a batch: the form's grid and the report's study
search_panel(database)
recent_runs(database)

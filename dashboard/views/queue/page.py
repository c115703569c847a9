"""Queue: one run from the form (defaults: the report's best setting), a grid, or the report."""

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
from dashboard.views.queue.preset import report_panel
from dashboard.views.queue.recent import recent_runs
from dashboard.views.queue.submit import grid_panel, preview_grid, submit_run
from settings import Settings

settings = Settings.from_env()
database = require_database(settings)
dataset = dataset_default(settings.dataset_dir)

st.title("Queue runs")
st.caption("Workers pick queued runs up in priority order; this page never trains.")
defaults = default_config(dataset)
clone = parse_ids(url_param("clone"))
source = fetch_run(database, clone[0]) if clone else None
if source is not None:
    # `?clone=N` (from a run's page): the form starts from that run's config.
    defaults = {**defaults, **source.config, "name": f"{source.name} (copy)"[:200]}
    st.info(f"The form starts from run {source.id}'s config; change it and queue.")
submitted = render_config_form(form_defaults(defaults))
if submitted.action == "queue":
    submit_run(database, submitted.values)
elif submitted.action == "grid":
    preview_grid(submitted.values, submitted.grid_text)
grid_panel(database)
report_panel(database, dataset)
recent_runs(database)

"""Queue: one run from the form (defaults: the report's best setting), a grid, or the report."""

from __future__ import annotations

import streamlit as st

from dashboard.config_form import dataset_default, default_config, form_defaults, render_config_form
from dashboard.queue_panels import grid_panel, preview_grid, recent_runs, report_panel, submit_run
from dashboard.state import require_database
from settings import Settings

settings = Settings.from_env()
database = require_database(settings)
dataset = dataset_default(settings.dataset_dir)

st.title("Queue runs")
st.caption("Workers pick queued runs up in priority order; this page never trains.")
submitted = render_config_form(form_defaults(default_config(dataset)))
if submitted.action == "queue":
    submit_run(database, submitted.values)
elif submitted.action == "grid":
    preview_grid(submitted.values, submitted.grid_text)
grid_panel(database)
report_panel(database, dataset)
recent_runs(database)

"""Queue's "Reproduce the report" panel: the report's whole study, at a size a CPU can run."""

from __future__ import annotations

import streamlit as st

from dashboard.actions import queue_configs
from dashboard.auth import can_write
from dashboard.text import id_span
from dashboard.views.queue.config_form import show_problems
from db.session import Database
from experiment.config import ConfigError
from experiment.presets import report_study


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
    st.success(f"Queued {id_span(ids)} as study `{study}`", icon=":material/check_circle:")

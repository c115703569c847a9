"""Queue's "Reproduce the report" panel: the report's whole study, previewed like a grid."""

from __future__ import annotations

import streamlit as st

from dashboard.views.queue.config_form import show_problems
from dashboard.views.queue.submit import PENDING, preview_batch
from experiment.config import ConfigError
from experiment.presets import report_study


def report_panel(dataset: str) -> None:
    """Preview the report's whole study, shrunk for a CPU if asked; its preview queues it."""
    with st.expander("Reproduce the report"):
        st.caption(
            "Every comparison of the study (epochs, batch, optimizer, architecture, "
            "augmentation) from its best setting, sharing one baseline run. On a CPU, try "
            "112 px and an epochs scale of 0.2; the preview says how long it should take."
        )
        row = st.columns(3)
        study = row[0].text_input("Study name", value="report", key="report.study")
        size = row[1].number_input(
            "Image size (px)", value=224, step=16, key="report.size",
            help="Every run of the study at this size; the report used 224 px.",
        )  # fmt: skip
        scale = row[2].number_input(
            "Epochs scale", value=1.0, step=0.1, format="%g", key="report.scale",
            help="Multiplies the study's epochs (30 and 50): 0.2 gives 6 and 10.",
        )  # fmt: skip
        if st.button("Preview the report's study", key="report.submit"):
            _preview_report(study.strip() or "report", int(size), float(scale), dataset)


def _preview_report(study: str, size: int, scale: float, dataset: str) -> None:
    st.session_state.pop(PENDING, None)
    if scale <= 0:
        st.error("`epochs_scale`: must be above 0", icon=":material/error:")
        return
    try:
        configs = report_study(study=study, image_size=size, epochs_scale=scale, dataset=dataset)
    except ConfigError as error:
        show_problems(error)
        return
    preview_batch(f"The report's study `{study}` at {size} px", configs)

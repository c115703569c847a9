"""Queue's "Reproduce the report" panel: the report's whole study, previewed like a grid."""

from __future__ import annotations

import streamlit as st

from dashboard.views.queue.config_form import show_problems
from dashboard.views.queue.submit import PENDING, preview_batch
from experiment.config import ConfigError
from experiment.presets import OPTIONAL_COMPARISONS, report_study

# Optional comparisons the box offers, with what each needs (OPTIONAL_COMPARISONS holds them).
OPTIONAL_LABELS: dict[str, str] = {
    "backbones": "Add ImageNet backbones: MobileNetV2 and EfficientNetB0, frozen (needs the "
    "ImageNet weights on the workers)",
}
OPTIONAL_HELP: dict[str, str] = {
    "backbones": "Adds the report CNN against MobileNetV2 and EfficientNetB0 with weights: "
    "imagenet, backbone frozen (transfer learning). Needs Keras's ImageNet weights on every "
    "worker: downloaded once into ~/.keras/models, or put there by hand on a worker without "
    "network access (otherwise those runs fail at once, naming the file). The backbones need "
    "at least 32 px.",
}


def report_panel(dataset: str) -> None:
    """Preview the report's whole study, shrunk for a CPU if asked; its preview queues it."""
    with st.expander("Reproduce the report"):
        st.caption(
            "Every comparison of the study (epochs, batch, optimizer, architecture, "
            "augmentation) from its best setting, sharing one baseline run; optionally the "
            "comparison the report could not make, ImageNet backbones. On a CPU, try 112 px "
            "and an epochs scale of 0.2; the preview says how long it should take."
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
        extra = [
            name
            for name in OPTIONAL_COMPARISONS
            if st.checkbox(
                OPTIONAL_LABELS.get(name, f"Add the {name} comparison"),
                key=f"report.with.{name}",
                help=OPTIONAL_HELP.get(name),
            )
        ]
        if st.button("Preview the report's study", key="report.submit"):
            _preview_report(study.strip() or "report", int(size), float(scale), dataset, extra)


def _preview_report(study: str, size: int, scale: float, dataset: str, extra: list[str]) -> None:
    st.session_state.pop(PENDING, None)
    if scale <= 0:
        st.error("`epochs_scale`: must be above 0", icon=":material/error:")
        return
    try:
        configs = report_study(
            study=study, image_size=size, epochs_scale=scale, dataset=dataset, extra=extra
        )
    except ConfigError as error:
        show_problems(error)
        return
    note = ""
    if "backbones" in extra:
        note = (
            "The backbones comparison trains MobileNetV2 and EfficientNetB0 from Keras's "
            "ImageNet weights: every worker needs them (downloaded once into ~/.keras/models, "
            "or put there by hand), or those runs fail at once naming the file to fetch."
        )
    with_text = f" with {', '.join(extra)}" if extra else ""
    preview_batch(f"The report's study `{study}` at {size} px{with_text}", configs, note)

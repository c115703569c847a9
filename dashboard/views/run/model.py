"""The Run page's Model tab: how the model was set up (architecture, weights, freezing,
fine-tuning), its parameters in each training phase, where the model is stored, and its
layers."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard.artifacts import artifact_store, store_name
from dashboard.queries import fetch_model_meta, fetch_model_pointer
from dashboard.text import MISSING, custom_layers_note, md_escape
from dashboard.views.run.figures import PHASE_NAMES
from data.memory import format_bytes
from db.artifact_store import ArtifactStoreError
from db.artifacts import ArtifactIntegrityError
from db.entities import RunRecord, TrainingPhase
from db.session import Database


def model_panel(database: Database, run: RunRecord) -> None:
    """The architecture's settings and phases (known once a worker builds the model), then
    the stored model's layers and parameters (the architecture inside the wrapper)."""
    st.dataframe(setup_table(run), hide_index=True, key="run.setup")
    if run.phases:
        st.markdown("**Training phases**")
        st.dataframe(
            phases_table(run.phases),
            hide_index=True,
            column_config={
                column: st.column_config.NumberColumn(format="localized")
                for column in ("trainable", "total")
            },
            key="run.phases",
        )
    if run.status.value != "succeeded":
        st.caption("Only succeeded runs store a model.")
        return
    try:
        meta = fetch_model_meta(database, run.id)
    except ArtifactIntegrityError as error:
        st.error(str(error), icon=":material/error:")
        return
    if meta is None:
        st.caption("This run stored no model.")
        return
    stored_where(database, run.id)
    summary: dict[str, Any] = dict(meta.get("summary") or {})
    st.caption(
        f"{md_escape(str(summary.get('name', 'model')))}: "
        f"{int(summary.get('total_params', 0)):,} parameters · input "
        f"{meta.get('image_size')} px · classes {', '.join(meta.get('class_names') or [])}"
    )
    layers = layers_table(summary)
    st.dataframe(
        layers,
        hide_index=True,
        height=min(40 + 35 * len(layers), 720),
        column_config={"params": st.column_config.NumberColumn(format="localized")},
        key="run.layers",
    )


def _count(value: int | None) -> str:
    return MISSING if value is None else f"{value:,}"


def setup_table(run: RunRecord) -> pd.DataFrame:
    """What the config says about the model, and its parameter counts, as two columns of text.

    Counts come from the phases a worker recorded (None for a run not built yet, or one
    trained before the lab recorded them).
    """
    config = run.config
    fine_tune = config.get("fine_tune")
    params = config.get("architecture_params") or {}
    rows: list[tuple[str, str]] = [
        ("architecture", str(config.get("architecture", run.architecture))),
        ("weights", str(config.get("weights") or "none (random initialisation)")),
        ("freeze backbone", "yes" if config.get("freeze_backbone") else "no"),
        ("head dropout", f"{float(config.get('head_dropout') or 0.0):g}"),
        ("fine-tune", _fine_tune_text(fine_tune)),
    ]
    if params:
        rows.append(("architecture params", ", ".join(f"{k}={v!r}" for k, v in params.items())))
    rows.append(("total parameters", _count(run.total_params)))
    latest = "trainable parameters" + (" (latest phase)" if len(run.phases) > 1 else "")
    rows.append((latest, _count(run.trainable_params)))
    return pd.DataFrame(rows, columns=["setting", "value"])


def _fine_tune_text(fine_tune: dict[str, Any] | None) -> str:
    if not fine_tune:
        return "no"
    layers = fine_tune.get("layers")
    which = "all layers" if layers == "all" else f"the last {layers} layers"
    return (
        f"from epoch {fine_tune.get('at_epoch')}: {which} of the backbone at learning rate "
        f"{float(fine_tune.get('learning_rate', 0)):g}"
    )


def phases_table(phases: tuple[TrainingPhase, ...]) -> pd.DataFrame:
    """One row per training phase: from which epoch, what trained, how many parameters."""
    rows = [
        {
            "from epoch": phase.epoch,
            "phase": PHASE_NAMES.get(phase.kind, phase.kind),
            "trainable": phase.trainable_params,
            "total": phase.total_params,
            "learning rate": f"{phase.learning_rate:g}",
            "unfrozen layers": MISSING
            if phase.unfrozen_layers is None
            else str(phase.unfrozen_layers),
        }
        for phase in phases
    ]
    columns = ["from epoch", "phase", "trainable", "total", "learning rate", "unfrozen layers"]
    return pd.DataFrame(rows, columns=columns)


def stored_where(database: Database, run_id: int) -> None:
    """Which store holds the model, its key there, size and sha256 (what every load checks)."""
    pointer = fetch_model_pointer(database, run_id)
    if pointer is None:
        return
    try:
        where = store_name(pointer, artifact_store(database))
    except ArtifactStoreError as error:
        where = store_name(pointer, None)
        st.warning(str(error), icon=":material/warning:")
    st.caption(
        f"Stored in {md_escape(where)} as `{pointer.location}` · "
        f"{format_bytes(pointer.size_bytes)} ({pointer.size_bytes:,} bytes) · "
        f"sha256 `{pointer.sha256}`"
    )


def layers_table(summary: dict[str, Any]) -> pd.DataFrame:
    """The model summary as a table: layer, type, output shape, parameters."""
    rows = [
        {
            "layer": layer["name"],
            "type": layer["type"],
            "output shape": " x ".join(str(d) for d in layer["output_shape"]),
            "params": int(layer["params"]),
        }
        for layer in summary.get("layers", [])
    ]
    return pd.DataFrame(rows, columns=["layer", "type", "output shape", "params"])


def custom_layers(meta: dict[str, Any] | None) -> list[str]:
    """The custom layers a stored model needs (recorded by its worker); [] for none."""
    return [str(name) for name in (meta or {}).get("custom_objects") or ()]


def custom_layers_warning(run: RunRecord, meta: dict[str, Any] | None) -> None:
    """Say that Predict and Grad-CAM cannot use this model here, and where they can."""
    names = custom_layers(meta)
    if names:
        st.warning(custom_layers_note(run.id, names), icon=":material/code_off:")

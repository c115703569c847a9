"""The Run page's Model tab: the stored model's layers and parameters."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard.queries import fetch_model_meta
from dashboard.text import custom_layers_note, md_escape
from db.artifacts import ArtifactIntegrityError
from db.entities import RunRecord
from db.session import Database


def model_panel(database: Database, run: RunRecord) -> None:
    """The stored model's layers and parameters (the architecture inside the wrapper)."""
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

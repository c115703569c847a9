"""The Run page's Model tab: where the model is stored, its layers and parameters."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard.artifacts import artifact_store, store_name
from dashboard.queries import fetch_model_meta, fetch_model_pointer
from dashboard.text import md_escape
from data.memory import format_bytes
from db.artifact_store import ArtifactStoreError
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

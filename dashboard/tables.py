"""How run tables look: which columns, in what order, formatted how (shared by every page)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

RECENT_COLUMNS = (
    "id", "name", "status", "progress", "epochs_text", "best_val_accuracy", "stop_reason",
)  # fmt: skip
RUNS_COLUMNS = (
    "id", "status", "study", "name", "architecture", "optimizer", "learning_rate", "batch_size",
    "image_size", "augmented", "progress", "epochs_text", "best_val_accuracy", "best_epoch",
    "last_val_accuracy", "stop_reason", "stop_detail", "created_at", "finished_at",
)  # fmt: skip


def column_config() -> dict[str, Any]:
    """Column titles and formats for any subset of `queries.RUN_COLUMNS`."""
    number = st.column_config.NumberColumn
    return {
        "id": number("id", format="%d", width="small"),
        "name": st.column_config.TextColumn("name", width="medium"),
        "status": st.column_config.TextColumn("status", width="small"),
        "learning_rate": number("lr", format="%g"),
        "batch_size": number("batch", format="%d"),
        "image_size": number("px", format="%d"),
        "augmented": st.column_config.CheckboxColumn("aug"),
        "progress": st.column_config.ProgressColumn(
            "progress", min_value=0.0, max_value=1.0, format="percent", width="small"
        ),
        "epochs_text": st.column_config.TextColumn("epochs", width="small"),
        "best_val_accuracy": number("best val acc", format="%.3f"),
        "best_epoch": number("best epoch", format="%d"),
        "last_val_accuracy": number("last val acc", format="%.3f"),
        "stop_reason": st.column_config.TextColumn("stopped by"),
        "stop_detail": st.column_config.TextColumn("stop detail", width="large"),
        "created_at": st.column_config.DatetimeColumn("created", format="YYYY-MM-DD HH:mm"),
        "finished_at": st.column_config.DatetimeColumn("finished", format="YYYY-MM-DD HH:mm"),
    }


def pick(runs: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The listed columns that exist, in order, with a fresh positional index."""
    return runs[[c for c in columns if c in runs.columns]].reset_index(drop=True)

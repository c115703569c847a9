"""How run tables look on every page: column titles and formats, and the attempts table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.text import MISSING, RUN_LINK_TEXT


def column_config() -> dict[str, Any]:
    """Column titles and formats for any subset of `queries.RUN_COLUMNS` and the diff table."""
    number = st.column_config.NumberColumn
    return {
        "id": number("id", format="%d", width="small"),
        "open": st.column_config.LinkColumn(
            "run", display_text=RUN_LINK_TEXT, width="small", help="Open the run's page"
        ),
        "name": st.column_config.TextColumn("name", width=230),
        "status": st.column_config.TextColumn("status", width=90),
        "source": st.column_config.TextColumn(
            "source",
            width=70,
            help="queued: trained by the lab; script: your own script; "
            "import: read from TensorBoard or CSVLogger files",
        ),
        "learning_rate": number("lr", format="%g"),
        "batch_size": number("batch", format="%d"),
        "image_size": number("px", format="%d"),
        "augmented": st.column_config.CheckboxColumn("aug"),
        "seed": number("seed", format="%d", width="small"),
        "progress": st.column_config.ProgressColumn(
            "progress", min_value=0.0, max_value=1.0, format="percent", width=95
        ),
        "epochs_text": st.column_config.TextColumn("epochs", width="small"),
        "best_val_accuracy": number("best val acc", format="%.3f", width=95),
        "best_epoch": number("best epoch", format="%d"),
        "best_val_accuracy_epoch": number("@ epoch", format="%d", width="small"),
        "last_val_accuracy": number("last val acc", format="%.3f", width=95),
        "last_val_accuracy_epoch": number("@ epoch", format="%d", width="small"),
        "min_val_loss": number("min val loss", format="%.4f"),
        "min_val_loss_epoch": number("@ epoch", format="%d", width="small"),
        "train_seconds": number("train s", format="%.0f"),
        "total_params": number("params", format="localized", help="Total parameters"),
        "trainable_params": number(
            "trainable", format="localized", help="Trainable parameters in the latest phase"
        ),
        "stop_reason": st.column_config.TextColumn("stopped by", width=115),
        "stop_detail": st.column_config.TextColumn("stop detail", width="large"),
        "tags": st.column_config.TextColumn("tags"),
        "created_at": st.column_config.DatetimeColumn("created", format="YYYY-MM-DD HH:mm"),
        "finished_at": st.column_config.DatetimeColumn("finished", format="YYYY-MM-DD HH:mm"),
    }


def pick(runs: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The listed columns that exist, in order, with a fresh positional index."""
    return runs[[c for c in columns if c in runs.columns]].reset_index(drop=True)


def attempts_table(attempts: pd.DataFrame, *, key: str) -> None:
    if attempts.empty:
        st.caption("No worker has claimed this run yet.")
        return
    st.dataframe(
        attempts,
        hide_index=True,
        placeholder=MISSING,
        column_config={
            "run_id": st.column_config.NumberColumn("run", format="%d"),
            "run": st.column_config.LinkColumn("run", display_text=RUN_LINK_TEXT, width="small"),
            "started_at": st.column_config.DatetimeColumn("started", format="YYYY-MM-DD HH:mm:ss"),
            "ended_at": st.column_config.DatetimeColumn("ended", format="YYYY-MM-DD HH:mm:ss"),
            "detail": st.column_config.TextColumn("why it ended", width="large"),
        },
        key=key,
    )

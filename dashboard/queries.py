"""Database reads as pandas DataFrames: pure conversions plus short-lived cached wrappers.

The cache holds DataFrames, never ORM objects. A TTL of two seconds keeps a page that reruns
on every click (or a live fragment) from querying more than once per refresh, while new epochs
still show up almost at once. Writes in `dashboard/actions.py` clear these caches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from db.artifacts import load_artifact_meta
from db.entities import EpochRecord, RunRecord
from db.metrics import CURVE_FIELDS, curve_table
from db.models import ArtifactKind, RunStatus
from db.runs import list_studies, run_table, runs_with_model
from db.session import Database

# `config` may be JSON text (see LAZY_JSON): open it with `knobs.config_of`.
RUN_COLUMNS: tuple[str, ...] = (
    "id", "name", "label", "study", "status", "priority", "tags",
    "architecture", "optimizer", "learning_rate", "batch_size", "epochs", "image_size",
    "augmented", "seed", "dataset",
    "epochs_done", "progress", "epochs_text", "best_val_accuracy", "best_epoch",
    "last_val_accuracy", "stop_reason", "stop_detail", "error", "warnings",
    "cancel_requested", "attempt", "worker", "created_at", "started_at", "finished_at",
    "class_names", "config",
)  # fmt: skip
CURVE_COLUMNS: tuple[str, ...] = (
    "run_id", "epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate",
    "epoch_seconds",
)  # fmt: skip
_TIME_COLUMNS = ("created_at", "started_at", "finished_at")


def run_label(run_id: int, name: str) -> str:
    """How a run is named in pickers: `12 · report [optimizer=sgd]`."""
    return f"{run_id} · {name}"


def _run_row(run: RunRecord) -> dict[str, Any]:
    return {
        "id": run.id,
        "name": run.name,
        "label": run_label(run.id, run.name),
        "study": run.study,
        "status": run.status.value,
        "priority": run.priority,
        "tags": ", ".join(run.tags),
        "architecture": run.architecture,
        "optimizer": run.optimizer,
        "learning_rate": run.learning_rate,
        "batch_size": run.batch_size,
        "epochs": run.epochs,
        "image_size": run.image_size,
        "augmented": run.augmented,
        "seed": run.seed,
        "dataset": run.dataset,
        "epochs_done": run.epochs_done,
        "progress": min(run.epochs_done / run.epochs, 1.0) if run.epochs else 0.0,
        "epochs_text": f"{run.epochs_done}/{run.epochs}",
        "best_val_accuracy": run.best_val_accuracy,
        "best_epoch": run.best_epoch,
        "last_val_accuracy": run.last_val_accuracy,
        "stop_reason": run.stop_reason.value if run.stop_reason else None,
        "stop_detail": run.stop_detail,
        "error": run.error,
        "warnings": list(run.warnings),
        "cancel_requested": run.cancel_requested,
        "attempt": run.attempt,
        "worker": run.worker,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "class_names": list(run.class_names) if run.class_names else None,
        "config": run.config,
    }


def runs_frame(runs: Sequence[RunRecord]) -> pd.DataFrame:
    """One row per run, in the given order, with display helpers (label, progress, epochs_text)."""
    frame = pd.DataFrame([_run_row(run) for run in runs], columns=list(RUN_COLUMNS))
    for column in _TIME_COLUMNS:
        frame[column] = utc_column(frame[column])
    for column in ("best_val_accuracy", "last_val_accuracy", "learning_rate", "progress"):
        frame[column] = frame[column].astype(float)
    return frame


# The runs columns read straight from the table; the rest of RUN_COLUMNS is derived from them.
RUN_FIELDS: tuple[str, ...] = tuple(
    c for c in RUN_COLUMNS if c not in ("label", "progress", "epochs_text")
)
# Read as JSON text where the driver gives text: decoding every run's config is most of the
# list's cost, and pages open only the chosen runs' (`knobs.config_of`).
LAZY_JSON: tuple[str, ...] = ("config",)


def _enum_value(value: Any) -> Any:
    return getattr(value, "value", value)


def utc_column(values: pd.Series) -> pd.Series:
    """Timestamps as UTC datetimes, whether the column holds naive datetimes (SQLite through
    SQLAlchemy: UTC already), aware ones (PostgreSQL) or SQLite's ISO text (raw driver rows).

    Per column, not per value, and without `pd.to_datetime`'s uniqueness check, which over
    thousands of datetimes costs more than the query that read them.
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values.dt.tz_localize("UTC")
    return pd.to_datetime(values, utc=True, cache=False, format="ISO8601")


def run_table_frame(rows: Sequence[tuple[Any, ...]]) -> pd.DataFrame:
    """`db.runs.run_table(RUN_FIELDS)` rows as the same frame `runs_frame` builds, vectorised."""
    frame = pd.DataFrame.from_records(rows, columns=list(RUN_FIELDS))
    frame["label"] = [run_label(i, n) for i, n in zip(frame["id"], frame["name"], strict=True)]
    frame["status"] = frame["status"].map(_enum_value)
    frame["stop_reason"] = frame["stop_reason"].map(_enum_value)
    frame["tags"] = frame["tags"].map(lambda tags: ", ".join(tags or ()))
    frame["warnings"] = frame["warnings"].map(lambda items: list(items or ()))
    frame["class_names"] = frame["class_names"].map(lambda names: list(names) if names else None)
    epochs = frame["epochs"].astype(float)
    done = frame["epochs_done"].astype(float)
    frame["progress"] = (done / epochs.where(epochs > 0)).clip(upper=1.0).fillna(0.0)
    frame["epochs_text"] = frame["epochs_done"].astype(str) + "/" + frame["epochs"].astype(str)
    for column in _TIME_COLUMNS:
        frame[column] = utc_column(frame[column])
    for column in ("best_val_accuracy", "last_val_accuracy", "learning_rate", "progress"):
        frame[column] = frame[column].astype(float)
    frame["augmented"] = frame["augmented"].astype(bool)
    frame["cancel_requested"] = frame["cancel_requested"].astype(bool)
    return frame[list(RUN_COLUMNS)]


def curves_frame(records: Sequence[EpochRecord]) -> pd.DataFrame:
    """Long format: one row per (run_id, epoch); missing metrics are NaN.

    `recorded_at` (when each epoch was stored) is kept when the records carry it, so the
    wall-time axis can show real elapsed time; otherwise it is NaT.
    """
    frame = pd.DataFrame(
        [{column: getattr(record, column) for column in CURVE_COLUMNS} for record in records],
        columns=list(CURVE_COLUMNS),
    )
    frame = frame.astype({c: float for c in CURVE_COLUMNS if c not in ("run_id", "epoch")})
    stamps = [getattr(record, "recorded_at", None) for record in records]
    frame["recorded_at"] = utc_column(pd.Series(stamps, dtype=object))
    return frame.astype({"run_id": "int64", "epoch": "int64"})


def layers_frame(summary: dict[str, Any]) -> pd.DataFrame:
    """The model summary stored with a model as a table: layer, type, output shape, params."""
    rows = [
        {
            "layer": layer["name"],
            "type": layer["type"],
            "output_shape": " x ".join(str(d) for d in layer["output_shape"]),
            "params": int(layer["params"]),
        }
        for layer in summary.get("layers", [])
    ]
    return pd.DataFrame(rows, columns=["layer", "type", "output_shape", "params"])


def _database_key(database: Database) -> str:
    return database.url.render_as_string(hide_password=False)


# Cached functions take the Database itself; its URL is what identifies it.
HASH_FUNCS: dict[str | type[Any], Callable[[Any], Any]] = {Database: _database_key}


@st.cache_data(ttl=2, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_runs(
    database: Database,
    statuses: tuple[str, ...] = (),
    study: str | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """Runs newest first, optionally only some statuses, one study, or the newest `limit`."""
    wanted = [RunStatus(s) for s in statuses]
    with database.read() as session:
        rows = run_table(
            session, RUN_FIELDS, statuses=wanted or None, study=study, limit=limit,
            json_as_text=LAZY_JSON,
        )  # fmt: skip
    return run_table_frame(rows)


@st.cache_data(ttl=2, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_runs_by_ids(database: Database, run_ids: tuple[int, ...]) -> pd.DataFrame:
    """The given runs, newest first (a live panel refreshes only what it shows)."""
    if not run_ids:
        return runs_frame([])
    with database.read() as session:
        rows = run_table(session, RUN_FIELDS, run_ids=list(run_ids), json_as_text=LAZY_JSON)
    return run_table_frame(rows)


def curve_table_frame(rows: Sequence[tuple[Any, ...]]) -> pd.DataFrame:
    """`db.metrics.curve_table` rows as the long curves frame, plus `recorded_at` (UTC)."""
    frame = pd.DataFrame.from_records(rows, columns=list(CURVE_FIELDS), coerce_float=True)
    frame = frame.astype({c: float for c in CURVE_COLUMNS if c not in ("run_id", "epoch")})
    frame = frame.astype({"run_id": "int64", "epoch": "int64"})
    frame["recorded_at"] = utc_column(frame["recorded_at"])
    return frame


@st.cache_data(ttl=2, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_curves(database: Database, run_ids: tuple[int, ...]) -> pd.DataFrame:
    """Every recorded epoch of the given runs (driver rows: no ORM objects)."""
    with database.read() as session:
        return curve_table_frame(curve_table(session, list(run_ids)))


@st.cache_data(ttl=10, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_runs_with_model(database: Database) -> pd.DataFrame:
    """Succeeded runs with a stored model, newest first (what Predict offers)."""
    with database.read() as session:
        return runs_frame(runs_with_model(session))


@st.cache_data(ttl=10, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_studies(database: Database) -> list[str]:
    with database.read() as session:
        return list_studies(session)


@st.cache_data(ttl=300, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_model_summary(database: Database, run_id: int) -> dict[str, Any] | None:
    """The stored model's summary (layers and parameters), or None if the run has no model."""
    with database.read() as session:
        meta = load_artifact_meta(session, run_id, ArtifactKind.MODEL)
    if meta is None:
        return None
    return dict(meta.get("summary") or {})


def clear_run_caches() -> None:
    """Forget cached runs after this session wrote some, so the change shows at once."""
    fetch_runs.clear()
    fetch_runs_by_ids.clear()
    fetch_studies.clear()

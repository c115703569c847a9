"""Rows from db/ as pandas DataFrames: pure shaping, no Streamlit and no queries.

`queries.py` caches what these build; benchmarks and tests call them directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from dashboard.text import run_label
from db.entities import AttemptRecord, EpochRecord, PredictionRecord, RunRecord
from db.metrics import CURVE_METRICS, metric_columns
from db.models import MetricAxis

# `config` may be JSON text (see LAZY_JSON): open it with `knobs.config_of`.
RUN_COLUMNS: tuple[str, ...] = (
    "id", "name", "label", "study", "status", "source", "priority", "tags",
    "architecture", "optimizer", "learning_rate", "batch_size", "epochs", "image_size",
    "augmented", "seed", "dataset",
    "epochs_done", "progress", "epochs_text", "best_val_accuracy", "best_epoch",
    "last_val_accuracy", "stop_reason", "stop_detail", "error", "warnings",
    "cancel_requested", "attempt", "worker", "created_at", "started_at", "finished_at",
    "class_names", "total_params", "trainable_params", "config",
)  # fmt: skip


CURVE_COLUMNS: tuple[str, ...] = (
    "run_id", "epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate",
    "epoch_seconds",
)  # fmt: skip


_TIME_COLUMNS = ("created_at", "started_at", "finished_at")


def _run_row(run: RunRecord) -> dict[str, Any]:
    return {
        "id": run.id,
        "name": run.name,
        "label": run_label(run.id, run.name),
        "study": run.study,
        "status": run.status.value,
        "source": run.source.value,
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
        "total_params": run.total_params,
        "trainable_params": run.trainable_params,
        "config": run.config,
    }


def runs_frame(runs: Sequence[RunRecord]) -> pd.DataFrame:
    """One row per run, in the given order, with display helpers (label, progress, epochs_text)."""
    frame = pd.DataFrame([_run_row(run) for run in runs], columns=list(RUN_COLUMNS))
    for column in _TIME_COLUMNS:
        frame[column] = utc_column(frame[column])
    for column in ("best_val_accuracy", "last_val_accuracy", "learning_rate", "progress"):
        frame[column] = frame[column].astype(float)
    return _counts(frame)


# Parameter counts: whole numbers where a run has them, missing before its model is built.
_COUNT_COLUMNS = ("total_params", "trainable_params")


def _counts(frame: pd.DataFrame) -> pd.DataFrame:
    for column in _COUNT_COLUMNS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
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
    frame["source"] = frame["source"].map(_enum_value)
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
    return _counts(frame[list(RUN_COLUMNS)])


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


def curve_table_frame(
    rows: Sequence[tuple[Any, ...]], names: Sequence[str] = CURVE_METRICS
) -> pd.DataFrame:
    """`db.metrics.metric_table` rows of the metrics `names` (`curve_table`: the standard
    six) as the long curves frame: run_id, epoch, one float column per name, `recorded_at`."""
    columns = list(metric_columns(names))
    frame = pd.DataFrame.from_records(rows, columns=columns, coerce_float=True)
    frame = frame.astype(dict.fromkeys(names, float))
    frame = frame.astype({"run_id": "int64", "epoch": "int64"})
    frame["recorded_at"] = utc_column(frame["recorded_at"])
    return frame


def step_table_frame(rows: Sequence[tuple[Any, ...]], names: Sequence[str]) -> pd.DataFrame:
    """`db.metrics.metric_table` rows on the step axis: step, one float column per name."""
    columns = list(metric_columns(names, MetricAxis.STEP))
    frame = pd.DataFrame.from_records(rows, columns=columns, coerce_float=True)
    frame = frame.astype({"step": "int64", **dict.fromkeys(names, float)})
    return frame.drop(columns=["run_id", "recorded_at"])


ATTEMPT_COLUMNS = ("run_id", "attempt", "worker", "started_at", "ended_at", "outcome", "detail")


def attempts_frame(attempts: Sequence[AttemptRecord]) -> pd.DataFrame:
    rows = [
        {
            "run_id": a.run_id,
            "attempt": a.attempt,
            "worker": a.worker,
            "started_at": a.started_at,
            "ended_at": a.ended_at,
            "outcome": a.outcome.value,
            "detail": a.detail,
        }
        for a in attempts
    ]
    frame = pd.DataFrame(rows, columns=list(ATTEMPT_COLUMNS))
    for column in ("started_at", "ended_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


PREDICTION_COLUMNS = (
    "run_id", "position", "file", "true_label", "predicted_label", "true_class",
    "predicted_class", "confidence", "correct",
)  # fmt: skip


def predictions_frame(
    records: Sequence[PredictionRecord], class_names: Sequence[str]
) -> pd.DataFrame:
    """One row per validation verdict, with class names next to the label indices."""
    names = list(class_names)

    def name_of(label: int) -> str:
        return names[label] if 0 <= label < len(names) else str(label)

    rows = [
        {
            "run_id": r.run_id,
            "position": r.position,
            "file": r.file,
            "true_label": r.true_label,
            "predicted_label": r.predicted_label,
            "true_class": name_of(r.true_label),
            "predicted_class": name_of(r.predicted_label),
            "confidence": float(r.confidence),
            "correct": r.correct,
        }
        for r in records
    ]
    return pd.DataFrame(rows, columns=list(PREDICTION_COLUMNS))

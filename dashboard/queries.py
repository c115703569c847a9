"""Every cached database read the pages make, as DataFrames or frozen records.

The cache holds DataFrames and frozen dataclasses, never ORM objects. Short TTLs (2 s) for what
workers change (runs, curves, attempts, workers), so a page that reruns on every click (or a
live fragment) queries at most once per refresh while new epochs still show up almost at once;
longer ones for what is written once (a run's validation verdicts and thumbnails, a report).
Writes in `actions.py` clear these caches. The shaping lives in `frames.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.frames import (
    LAZY_JSON,
    RUN_FIELDS,
    attempts_frame,
    curve_table_frame,
    predictions_frame,
    run_table_frame,
    runs_frame,
    step_table_frame,
)
from dashboard.text import run_label
from db.artifact_store import ArtifactStore
from db.artifacts import artifact_pointer, load_artifact, load_artifact_meta
from db.entities import ArtifactPointer, RunRecord, SlurmDispatcherRecord, SlurmJobRecord
from db.evaluation import load_predictions, load_thumbnails
from db.metrics import (
    CURVE_METRICS,
    RunTiming,
    load_curves,
    metric_names,
    metric_table,
    run_timings,
)
from db.models import ArtifactKind, MetricAxis, RunStatus
from db.reports import ReportRecord, get_report, list_reports
from db.runs import get_run, list_runs, list_studies, run_table, runs_with_model
from db.searches import TrialLink, list_searches, search_progress, trial_link
from db.session import Database
from db.slurm import jobs_for_run, jobs_for_workers, list_dispatchers, recent_jobs
from db.workers import list_attempts, list_workers
from experiment.metrics import ordered
from experiment.search_views import SearchView, read_search_view


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


@st.cache_data(ttl=2, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_curves(
    database: Database, run_ids: tuple[int, ...], extra: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Every recorded epoch of the given runs (driver rows: no ORM objects): the standard
    metrics plus the `extra` names, one column each (NaN where a run did not log it)."""
    names = tuple(dict.fromkeys((*CURVE_METRICS, *extra)))
    with database.read() as session:
        return curve_table_frame(metric_table(session, list(run_ids), names), names)


@st.cache_data(ttl=2, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_metric_names(database: Database, run_ids: tuple[int, ...]) -> dict[str, int]:
    """Every per-epoch metric name the given runs logged, with how many of them logged it."""
    with database.read() as session:
        return metric_names(session, list(run_ids))


@st.cache_data(ttl=10, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_runs_with_model(database: Database) -> pd.DataFrame:
    """Succeeded runs with a stored model, newest first (what Predict offers)."""
    with database.read() as session:
        return runs_frame(runs_with_model(session))


@st.cache_data(ttl=10, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_studies(database: Database) -> list[str]:
    with database.read() as session:
        return list_studies(session)


def clear_run_caches() -> None:
    """Forget cached runs after this session wrote some, so the change shows at once."""
    fetch_runs.clear()
    fetch_runs_by_ids.clear()
    fetch_studies.clear()
    fetch_run.clear()
    fetch_active_runs.clear()
    fetch_recent_runs.clear()
    fetch_searches.clear()  # a search's trials are runs: its view changes with them
    fetch_search_view.clear()


# A worker that has not heartbeated for this long is shown as lost (the lease grace a worker
# uses before requeueing a silent worker's run, trainer/worker.py).
WORKER_GRACE = timedelta(seconds=90)
RUN_CURVE_COLUMNS = (
    "epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "epoch_seconds",
)  # fmt: skip


@st.cache_data(ttl=2, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_run(database: Database, run_id: int) -> RunRecord | None:
    with database.read() as session:
        return get_run(session, run_id)


@st.cache_data(ttl=2, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_run_curves(database: Database, run_id: int) -> pd.DataFrame:
    """One run's epochs: the standard columns (RUN_CURVE_COLUMNS, always there), then every
    other metric it logged in picker order; missing values are NaN."""
    with database.read() as session:
        records = load_curves(session, [run_id])
    logged = {name for record in records for name in record.metrics}
    columns = [*RUN_CURVE_COLUMNS, *(n for n in ordered(logged) if n not in RUN_CURVE_COLUMNS)]
    frame = pd.DataFrame([{**r.metrics, "epoch": r.epoch} for r in records], columns=columns)
    return frame.astype(dict.fromkeys(columns[1:], float))


@st.cache_data(ttl=2, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_run_steps(database: Database, run_id: int) -> pd.DataFrame:
    """One run's per-batch values (step axis): `step`, then one column per name logged."""
    with database.read() as session:
        names = ordered(metric_names(session, [run_id], MetricAxis.STEP))
        rows = metric_table(session, [run_id], names, MetricAxis.STEP) if names else []
    return step_table_frame(rows, names)


@st.cache_data(ttl=60, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_predictions(
    database: Database, run_id: int, class_names: tuple[str, ...]
) -> pd.DataFrame:
    """A run's validation verdicts (`run_charts.predictions_frame`)."""
    with database.read() as session:
        records = load_predictions(session, [run_id])
    return predictions_frame(records, class_names)


@st.cache_data(ttl=300, max_entries=64, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_thumbnails(
    database: Database, run_id: int, positions: tuple[int, ...]
) -> dict[int, bytes]:
    with database.read() as session:
        return load_thumbnails(session, run_id, list(positions))


@st.cache_data(ttl=300, max_entries=8, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_all_thumbnails(database: Database, run_id: int) -> tuple[bytes, ...]:
    """Every stored validation thumbnail of a run (what Predict compares uploads with)."""
    with database.read() as session:
        positions = [record.position for record in load_predictions(session, [run_id])]
        return tuple(load_thumbnails(session, run_id, positions).values())


@st.cache_data(ttl=10, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_model_meta(database: Database, run_id: int) -> dict[str, Any] | None:
    """The stored model's metadata (classes, size, summary) without its bytes; None if none."""
    with database.read() as session:
        return load_artifact_meta(session, run_id, ArtifactKind.MODEL)


@st.cache_data(ttl=10, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_model_pointer(database: Database, run_id: int) -> ArtifactPointer | None:
    """Where the run's model is stored, its size and sha256 (no bytes); None if it has none."""
    with database.read() as session:
        return artifact_pointer(session, run_id, ArtifactKind.MODEL)


def model_bytes(database: Database, store: ArtifactStore, run_id: int) -> bytes:
    """The run's .keras file from its store, checksum-verified (not cached: read per download).

    Raises:
        ArtifactUnavailable: the bytes are not in their store (or it is not configured here).
        ArtifactIntegrityError: they no longer match their sha256.
    """
    with database.read() as session:
        artifact = load_artifact(session, run_id, ArtifactKind.MODEL, store)
    if artifact is None:
        raise LookupError(f"run {run_id} stored no model")
    return artifact.data


@st.cache_data(ttl=2, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_attempts(database: Database, run_ids: tuple[int, ...]) -> pd.DataFrame:
    with database.read() as session:
        return attempts_frame(list_attempts(session, list(run_ids)))


@st.cache_data(ttl=10, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_evaluated_runs(database: Database) -> pd.DataFrame:
    """Succeeded runs with a validation evaluation: id, label, classes, images, accuracy."""
    with database.read() as session:
        runs = list_runs(session, statuses=[RunStatus.SUCCEEDED])
    rows = [
        {
            "id": run.id,
            "label": run_label(run.id, run.name),
            "class_names": tuple(run.evaluation.get("class_names") or ()),
            "images": int(run.evaluation.get("images") or 0),
            "accuracy": float(run.evaluation.get("accuracy") or 0.0),
        }
        for run in runs
        if run.evaluation
    ]
    return pd.DataFrame(rows, columns=["id", "label", "class_names", "images", "accuracy"])


@st.cache_data(ttl=2, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_workers(database: Database) -> pd.DataFrame:
    """Workers seen in the last day, newest first, with `status` alive / stopped / lost."""
    with database.read() as session:
        workers = list_workers(session, WORKER_GRACE)
    rows = [
        {
            "id": w.id,
            "name": w.name,
            "host": w.host,
            "pid": w.pid,
            "device": w.device,
            "status": "alive" if w.alive else ("stopped" if w.stopped_at else "lost"),
            "started_at": w.started_at,
            "heartbeat_at": w.heartbeat_at,
            "current_run_id": w.current_run_id if w.alive else None,
        }
        for w in workers
    ]
    columns = [
        "id", "name", "host", "pid", "device", "status", "started_at", "heartbeat_at",
        "current_run_id",
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=columns)
    for column in ("started_at", "heartbeat_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame.astype({"current_run_id": "Int64"})


@st.cache_data(ttl=2, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_active_runs(database: Database) -> list[RunRecord]:
    """Running and queued runs (frozen records; small in number)."""
    with database.read() as session:
        return list_runs(session, statuses=[RunStatus.RUNNING, RunStatus.QUEUED])


@st.cache_data(ttl=2, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_recent_runs(database: Database, limit: int) -> list[RunRecord]:
    with database.read() as session:
        return list_runs(session, limit=limit)


@st.cache_data(ttl=2, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_epoch_seconds(database: Database, run_ids: tuple[int, ...]) -> dict[int, list[float]]:
    """Each run's recorded epoch durations, in epoch order."""
    with database.read() as session:
        records = load_curves(session, list(run_ids))
    seconds: dict[int, list[float]] = {run_id: [] for run_id in run_ids}
    for record in records:
        if record.run_id is not None and record.epoch_seconds is not None:
            seconds[record.run_id].append(record.epoch_seconds)
    return seconds


@st.cache_data(ttl=5, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_run_timings(database: Database) -> list[RunTiming]:
    """Past runs' epoch and start-to-finish times, for the time estimates."""
    with database.read() as session:
        return run_timings(session)


@st.cache_data(ttl=5, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_reports(database: Database) -> pd.DataFrame:
    """Saved reports, newest first (without their figures)."""
    with database.read() as session:
        reports = list_reports(session)
    frame = pd.DataFrame(
        [
            {
                "id": r.id,
                "title": r.title,
                "kind": r.kind,
                "created_at": r.created_at,
                "runs": ", ".join(str(i) for i in r.run_ids),
            }
            for r in reports
        ],
        columns=["id", "title", "kind", "created_at", "runs"],
    )
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame


@st.cache_data(ttl=300, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_report(database: Database, report_id: str) -> ReportRecord | None:
    """A saved report; reports never change, so it is cached for long."""
    with database.read() as session:
        return get_report(session, report_id)


SEARCH_COLUMNS = (
    "name", "state", "objective", "finished", "budget", "active", "created_at", "finished_at",
)  # fmt: skip


@st.cache_data(ttl=2, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_searches(database: Database) -> pd.DataFrame:
    """Every search, newest first: state, objective, trials finished of the budget, active."""
    with database.read() as session:
        found = [(s, search_progress(session, s.id)) for s in list_searches(session)]
    rows = [
        {
            "name": search.name,
            "state": search.state.value,
            "objective": f"{search.direction} {search.metric}",
            "finished": progress.finished,
            "budget": search.budget,
            "active": progress.active,
            "created_at": search.created_at,
            "finished_at": search.finished_at,
        }
        for search, progress in found
    ]
    frame = pd.DataFrame(rows, columns=list(SEARCH_COLUMNS))
    for column in ("created_at", "finished_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


@st.cache_data(ttl=2, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_search_view(database: Database, name: str) -> SearchView | None:
    """A search's spec, counts and trials with their objective series (frozen records)."""
    with database.read() as session:
        return read_search_view(session, name)


@st.cache_data(ttl=60, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_trial_link(database: Database, run_id: int) -> TrialLink | None:
    """The search a run is a trial of ("trial 7 of lr-search"); None outside any search."""
    with database.read() as session:
        return trial_link(session, run_id)


# Slurm: what the dispatcher and the workers in jobs recorded (db/slurm.py). The dispatcher
# follows its jobs every few seconds, so these change about as often as workers' rows.
DISPATCHER_GRACE = timedelta(seconds=120)  # as `python -m trainer slurm jobs` judges them


@st.cache_data(ttl=2, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_run_jobs(database: Database, run_id: int) -> list[SlurmJobRecord]:
    """The Slurm jobs that trained this run, one per attempt (none outside Slurm)."""
    with database.read() as session:
        return jobs_for_run(session, run_id)


@st.cache_data(ttl=2, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_recent_jobs(database: Database, limit: int = 50) -> list[SlurmJobRecord]:
    """Pending and running jobs, then the most recently ended."""
    with database.read() as session:
        return recent_jobs(session, limit=limit)


@st.cache_data(ttl=2, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_worker_jobs(database: Database, worker_ids: tuple[int, ...]) -> dict[int, SlurmJobRecord]:
    """The Slurm job each worker runs in, by worker id (workers outside Slurm are absent)."""
    with database.read() as session:
        return jobs_for_workers(session, worker_ids)


@st.cache_data(ttl=2, show_spinner=False, hash_funcs=HASH_FUNCS)
def fetch_dispatchers(database: Database) -> list[SlurmDispatcherRecord]:
    """Every Slurm dispatcher, newest first, alive if it heartbeated within the grace."""
    with database.read() as session:
        return list_dispatchers(session, DISPATCHER_GRACE)

"""Every write the dashboard makes: queue, cancel, re-run and delete runs, create, cancel and
extend searches, save reports.

It never trains; workers do. Each action is one short write transaction, then the cached reads
it changed are cleared so the page shows the change on this rerun rather than after the TTL.
A write the database did not answer is named under the outage banner (`outage.writing`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dashboard.auth import writes_allowed
from dashboard.outage import writing
from dashboard.queries import clear_run_caches, fetch_reports
from db.artifact_store import ArtifactStore, remove_run
from db.models import RunStatus
from db.queue import cancel_run, enqueue_many
from db.queue import rerun as queue_rerun
from db.reports import save_report
from db.searches import StudyCancel, cancel_study
from db.session import Database
from experiment.config import ExperimentConfig
from experiment.search_space import SearchSpec
from experiment.searches import Advance, create_search, extend_search


def _check_access() -> None:
    # Defence in depth: pages ask `can_write` first and show the sign-in form.
    if not writes_allowed():
        raise PermissionError("sign in to change runs (team mode)")


def queue_configs(database: Database, configs: Sequence[ExperimentConfig]) -> list[int]:
    """Queue validated configs in one transaction (all or none); returns the new run ids."""
    _check_access()
    count = len(configs)
    with writing(f"queueing {count} run{'' if count == 1 else 's'}"), database.begin() as session:
        ids = enqueue_many(session, [config.to_new_run() for config in configs])
    clear_run_caches()
    return ids


def cancel(database: Database, run_id: int) -> RunStatus | None:
    """Cancel a queued run now, or ask a running run's worker to stop at its next check."""
    _check_access()
    with writing(f"cancelling run {run_id}"), database.begin() as session:
        status = cancel_run(session, run_id)
    clear_run_caches()
    return status


def cancel_message(run_id: int, status: RunStatus | None) -> str:
    """What the user is told after pressing Cancel, by the status the run is left in."""
    if status is None:
        return f"Run {run_id} no longer exists."
    if status is RunStatus.CANCELLED:
        return f"Run {run_id} cancelled."
    if status is RunStatus.RUNNING:
        return f"Asked run {run_id}'s worker to stop; it does so at its next heartbeat."
    return f"Run {run_id} had already {status.value}; nothing to cancel."


def rerun(database: Database, run_id: int) -> int | None:
    """Queue a copy of a finished, failed or cancelled run; returns the new run's id."""
    _check_access()
    with writing(f"re-running run {run_id}"), database.begin() as session:
        new_id = queue_rerun(session, run_id)
    clear_run_caches()
    return new_id


def delete(database: Database, store: ArtifactStore, run_id: int) -> bool:
    """Delete a run that is not running, with its rows and then its artifacts in `store`."""
    _check_access()
    with writing(f"deleting run {run_id}"):
        deleted = remove_run(database, store, run_id)
    clear_run_caches()
    return deleted


def queue_search(database: Database, spec: SearchSpec) -> Advance:
    """Create a search and queue its first trials in one transaction (SearchExists if the
    name is taken: nothing is written)."""
    _check_access()
    with database.begin() as session:
        result = create_search(session, spec)
    clear_run_caches()
    return result


def cancel_search(database: Database, name: str) -> StudyCancel:
    """Stop a search (no more trials), cancel its queued runs and stop its running ones."""
    _check_access()
    with database.begin() as session:
        done = cancel_study(session, name)
    clear_run_caches()
    return done


def extend_search_budget(database: Database, name: str, budget: int) -> Advance:
    """Set a search's budget and queue what now fits (ValueError below the trials it has)."""
    _check_access()
    with database.begin() as session:
        result = extend_search(session, name, budget)
    clear_run_caches()
    return result


def store_report(
    database: Database,
    *,
    title: str,
    note: str,
    kind: str,
    state: dict[str, Any],
    figures: dict[str, Any],
) -> str:
    """Write one report (a short transaction) and forget the cached list; returns its id."""
    with writing(f"saving the report {title!r}"), database.begin() as session:
        report_id = save_report(
            session, title=title, note=note, kind=kind, state=state, figures=figures
        )
    fetch_reports.clear()
    return report_id

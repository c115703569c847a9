"""Searches and their trials: create, lock, read, queue a trial, cancel, change the budget.

A trial is a run with `search_id` and `trial` set; everything a search has learned lives in
the runs table and is read back from there (`search_trials`), so there is one source of truth.
Every function takes the caller's session and never commits. Whoever queues trials holds the
search row locked (`lock_search`) for the whole transaction, so two workers finishing runs at
the same moment cannot both fill the same free place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from db.clock import now_expr
from db.entities import NewRun, as_utc, record_from
from db.models import Run, RunStatus, Search, SearchState, StopReason
from db.objective import ObjectiveSeries, objective_series
from db.queue import enqueue, update_held_run

ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)
# A finished run whose result a trial with the same config may reuse instead of training.
RESULT_STATUSES = (RunStatus.SUCCEEDED, RunStatus.PRUNED)


class SearchExists(ValueError):
    """A search with this name exists already; the message says how to extend it instead."""


@dataclass(frozen=True)
class SearchRecord:
    id: int
    name: str
    state: SearchState
    metric: str
    direction: str
    budget: int
    parallel: int
    spec: dict[str, Any]
    created_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def from_row(cls, row: Search) -> SearchRecord:
        return record_from(cls, row, spec=dict(row.spec))


@dataclass(frozen=True)
class TrialRecord:
    """One trial as the sampler, the pruner and the search view see it.

    `series` is the objective by epoch: the source run's for a trial that reused a result.
    """

    run_id: int
    trial: int
    name: str
    status: RunStatus
    stop_reason: StopReason | None
    stop_detail: str | None
    params: dict[str, Any]
    attrs: dict[str, Any]
    series: ObjectiveSeries
    reused_from: int | None
    config_hash: str | None
    attempt: int
    epochs_done: int
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


@dataclass(frozen=True)
class SearchProgress:
    """Counts the queue needs: trials created, how many are queued or running, finished."""

    total: int
    active: int

    @property
    def finished(self) -> int:
        return self.total - self.active


def create_search(
    session: Session,
    *,
    name: str,
    metric: str,
    direction: str,
    budget: int,
    parallel: int,
    spec: dict[str, Any],
) -> int:
    """Add a running search; SearchExists if the name is taken (it is also the runs' study)."""
    existing = session.scalar(select(Search).where(Search.name == name))
    if existing is not None:
        progress = search_progress(session, existing.id)
        raise SearchExists(
            f"a search named {name!r} exists ({existing.state.value}, {progress.finished} of "
            f"{existing.budget} trials finished): extend it with `python -m trainer search "
            f"extend {name} --budget N`, or give this one another name"
        )
    search = Search(
        name=name,
        state=SearchState.RUNNING,
        metric=metric,
        direction=direction,
        budget=budget,
        parallel=parallel,
        spec=spec,
    )
    session.add(search)
    session.flush()
    return search.id


def lock_search(session: Session, search_id: int) -> SearchRecord | None:
    """Read the search and hold its row until the transaction ends.

    PostgreSQL takes the row lock (FOR UPDATE); SQLite, which drops FOR UPDATE, already holds
    the database's write lock from BEGIN IMMEDIATE (db/session.py).
    """
    row = session.scalar(select(Search).where(Search.id == search_id).with_for_update())
    return SearchRecord.from_row(row) if row is not None else None


def get_search(session: Session, name_or_id: str | int) -> SearchRecord | None:
    column = Search.id if isinstance(name_or_id, int) else Search.name
    row = session.scalar(select(Search).where(column == name_or_id))
    return SearchRecord.from_row(row) if row is not None else None


def list_searches(session: Session) -> list[SearchRecord]:
    """Every search, newest first."""
    rows = session.scalars(select(Search).order_by(Search.id.desc()))
    return [SearchRecord.from_row(row) for row in rows]


def search_progress(session: Session, search_id: int) -> SearchProgress:
    total, active = session.execute(
        select(
            func.count(Run.id),
            func.coalesce(func.sum(case((Run.status.in_(ACTIVE), 1), else_=0)), 0),
        ).where(Run.search_id == search_id)
    ).one()
    return SearchProgress(int(total), int(active))


def search_trials(session: Session, search_id: int, metric: str) -> list[TrialRecord]:
    """Every trial of the search in trial order, with its objective series."""
    rows = session.scalars(
        select(Run).where(Run.search_id == search_id).order_by(Run.trial, Run.id)
    ).all()
    sources = {row.id: row.reused_from or row.id for row in rows}
    series = objective_series(session, sorted(set(sources.values())), metric)
    return [
        TrialRecord(
            run_id=row.id,
            trial=row.trial or 0,
            name=row.name,
            status=row.status,
            stop_reason=row.stop_reason,
            stop_detail=row.stop_detail,
            params=dict(row.trial_params or {}),
            attrs=dict(row.trial_attrs or {}),
            series=ObjectiveSeries(row.id, *_values(series.get(sources[row.id]))),
            reused_from=row.reused_from,
            config_hash=row.config_hash,
            attempt=row.attempt,
            epochs_done=row.epochs_done,
            created_at=as_utc(row.created_at),
            started_at=as_utc(row.started_at),
            finished_at=as_utc(row.finished_at),
        )
        for row in rows
    ]


def _values(series: ObjectiveSeries | None) -> tuple[tuple[int, ...], tuple[float, ...]]:
    return ((), ()) if series is None else (series.epochs, series.values)


def trained_result(session: Session, config_hash: str) -> tuple[int, RunStatus] | None:
    """The first run that trained this config to a result (succeeded or pruned), if any."""
    row = session.execute(
        select(Run.id, Run.status)
        .where(
            Run.config_hash == config_hash,
            Run.status.in_(RESULT_STATUSES),
            Run.reused_from.is_(None),
        )
        .order_by(Run.id)
        .limit(1)
    ).first()
    return (row.id, row.status) if row is not None else None


def enqueue_trial(
    session: Session,
    search_id: int,
    trial: int,
    new: NewRun,
    params: dict[str, Any],
    attrs: dict[str, Any],
) -> int:
    """Queue a trial's run (the caller holds the search row)."""
    run_id = enqueue(session, new)
    _set_trial(session, run_id, search_id, trial, params, attrs)
    return run_id


def record_reused_trial(
    session: Session,
    search_id: int,
    trial: int,
    new: NewRun,
    params: dict[str, Any],
    attrs: dict[str, Any],
    source_id: int,
) -> int:
    """A finished trial that reuses run `source_id`'s result: same config, nothing trained."""
    source = session.get(Run, source_id)
    assert source is not None
    return _finished_trial(
        session,
        search_id,
        trial,
        new,
        params,
        attrs,
        status=source.status,
        stop_reason=StopReason.REUSED,
        stop_detail=f"same config as run {source_id}: its result is reused, nothing trained",
        reused_from=source_id,
        best_val_accuracy=source.best_val_accuracy,
        best_epoch=source.best_epoch,
        last_val_accuracy=source.last_val_accuracy,
        class_names=source.class_names,
    )


def record_invalid_trial(
    session: Session,
    search_id: int,
    trial: int,
    new: NewRun,
    params: dict[str, Any],
    error: str,
) -> int:
    """A trial whose sampled combination is not a valid config: failed before it started."""
    return _finished_trial(
        session,
        search_id,
        trial,
        new,
        params,
        {},
        status=RunStatus.FAILED,
        stop_reason=StopReason.FAILED,
        stop_detail="invalid config",
        error=error,
    )


def _finished_trial(
    session: Session,
    search_id: int,
    trial: int,
    new: NewRun,
    params: dict[str, Any],
    attrs: dict[str, Any],
    **outcome: Any,
) -> int:
    """A trial's run recorded as already ended with `outcome` (no worker ever claims it)."""
    run_id = enqueue(session, new)
    _set_trial(session, run_id, search_id, trial, params, attrs)
    session.execute(
        update(Run)
        .where(Run.id == run_id)
        .values(**outcome, finished_at=now_expr(session.get_bind().dialect.name))
        .execution_options(synchronize_session=False)
    )
    return run_id


def _set_trial(
    session: Session,
    run_id: int,
    search_id: int,
    trial: int,
    params: dict[str, Any],
    attrs: dict[str, Any],
) -> None:
    session.execute(
        update(Run)
        .where(Run.id == run_id)
        .values(search_id=search_id, trial=trial, trial_params=params, trial_attrs=attrs)
        .execution_options(synchronize_session=False)
    )


def set_trial_attrs(session: Session, run_id: int, attempt: int, attrs: dict[str, Any]) -> bool:
    """Keep the pruner's bookkeeping for a running trial (fenced like every worker write)."""
    return update_held_run(session, run_id, attempt, {"trial_attrs": attrs})


def mark_search(session: Session, search_id: int, state: SearchState) -> None:
    """Set the search's state; a final state records when it ended."""
    finished = None if state is SearchState.RUNNING else now_expr(session.get_bind().dialect.name)
    session.execute(
        update(Search)
        .where(Search.id == search_id)
        .values(state=state, finished_at=finished)
        .execution_options(synchronize_session=False)
    )


def set_budget(session: Session, search_id: int, budget: int) -> SearchRecord:
    """Change a search's budget (never below the trials it has) and reopen it if that leaves
    room; the caller then queues trials (experiment/searches.py `extend_search`)."""
    search = lock_search(session, search_id)
    if search is None:
        raise LookupError(f"no search with id {search_id}")
    progress = search_progress(session, search_id)
    if budget < progress.total:
        raise ValueError(
            f"search {search.name!r} has {progress.total} trials already; "
            f"the budget cannot be lower than that (got {budget})"
        )
    session.execute(
        update(Search)
        .where(Search.id == search_id)
        .values(budget=budget)
        .execution_options(synchronize_session=False)
    )
    if budget > progress.total and search.state is not SearchState.RUNNING:
        mark_search(session, search_id, SearchState.RUNNING)
    record = get_search(session, search_id)
    assert record is not None
    return record


@dataclass(frozen=True)
class StudyCancel:
    """What `cancel_study` did: the search it stopped (if any) and the runs it reached."""

    search: str | None
    cancelled: tuple[int, ...]  # queued runs, cancelled at once
    stopping: tuple[int, ...]  # running runs, stopped at their worker's next heartbeat


def cancel_study(session: Session, study: str) -> StudyCancel:
    """Cancel a whole study: its search (no more trials) and its queued and running runs."""
    search = session.scalar(select(Search).where(Search.name == study).with_for_update())
    stopped = None
    if search is not None and search.state is SearchState.RUNNING:
        mark_search(session, search.id, SearchState.CANCELLED)
        stopped = search.name
    dialect = session.get_bind().dialect.name
    in_study = Run.study == study
    if search is not None:
        in_study = in_study | (Run.search_id == search.id)
    cancelled = session.scalars(
        update(Run)
        .where(in_study, Run.status == RunStatus.QUEUED)
        .values(
            status=RunStatus.CANCELLED,
            stop_reason=StopReason.CANCELLED,
            stop_detail=f"study {study} cancelled before it started",
            finished_at=now_expr(dialect),
        )
        .returning(Run.id)
        .execution_options(synchronize_session=False)
    ).all()
    stopping = session.scalars(
        update(Run)
        .where(in_study, Run.status == RunStatus.RUNNING)
        .values(cancel_requested=True)
        .returning(Run.id)
        .execution_options(synchronize_session=False)
    ).all()
    return StudyCancel(stopped, tuple(sorted(cancelled)), tuple(sorted(stopping)))


def searches_wanting_trials(session: Session) -> list[int]:
    """Running searches that could queue a trial now, or that are finished but not marked.

    An idle worker asks this, so a search whose last event queued nothing (a trial cancelled
    by hand, a budget raised, a run failed as "worker lost") is picked up again.
    """
    active = func.coalesce(func.sum(case((Run.status.in_(ACTIVE), 1), else_=0)), 0)
    total = func.count(Run.id)
    statement = (
        select(Search.id)
        .outerjoin(Run, Run.search_id == Search.id)
        .where(Search.state == SearchState.RUNNING)
        .group_by(Search.id, Search.budget, Search.parallel)
        .having(
            ((total < Search.budget) & (active < Search.parallel))
            | ((total >= Search.budget) & (active == 0))
        )
        .order_by(Search.id)
    )
    return list(session.scalars(statement))


def search_ids_of(session: Session, run_ids: Sequence[int]) -> list[int]:
    """The searches the given runs belong to (runs outside any search are left out)."""
    if not run_ids:
        return []
    rows = session.scalars(
        select(Run.search_id)
        .where(Run.id.in_(list(run_ids)), Run.search_id.is_not(None))
        .distinct()
    )
    return sorted(int(search_id) for search_id in rows if search_id is not None)


@dataclass(frozen=True)
class TrialLink:
    """What a run page says of a search's trial: "trial 7 of lr-search" (budget 24)."""

    search_id: int
    search: str
    trial: int
    budget: int

    def __str__(self) -> str:
        return f"trial {self.trial} of {self.search}"


def trial_link(session: Session, run_id: int) -> TrialLink | None:
    """The search a run is a trial of, or None for a run outside any search."""
    row = session.execute(
        select(Search.id, Search.name, Run.trial, Search.budget)
        .join(Search, Search.id == Run.search_id)
        .where(Run.id == run_id)
    ).first()
    if row is None:
        return None
    return TrialLink(int(row[0]), str(row[1]), int(row[2] or 0), int(row[3]))

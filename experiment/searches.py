"""Searches on the queue: create one, keep it going as its trials end, judge each epoch.

These take the caller's session and never commit, like db/ functions; they join the runs
table (db/searches.py) to Optuna (experiment/sampling.py). `advance` is the one place that
queues trials: the CLI and the dashboard call it when they create or extend a search, and a
worker calls it after each trial of the search ends (trainer/search_hook.py). It holds the
search row for its whole transaction, so trials are never more than `budget` in all nor more
than `parallel` queued or running, however many workers finish at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from db import searches as db_searches
from db.models import RunStatus, SearchState
from db.objective import ObjectiveSeries, known_metrics, with_values
from db.searches import SearchRecord, TrialRecord
from experiment import sampling
from experiment.config import ConfigError, ExperimentConfig
from experiment.metrics import WORKER_METRICS
from experiment.search_space import SearchSpec

# Asks in one `advance` whose suggestion repeats a queued or running trial: the sampler is
# asked again with another seed; past this many, the next trial to end asks again.
MAX_REPEATED_ASKS = 10


@dataclass(frozen=True)
class Advance:
    """What one `advance` did: runs queued, trials that reused a result or were invalid."""

    search_id: int
    state: SearchState
    queued: tuple[int, ...] = ()
    reused: tuple[int, ...] = ()
    invalid: tuple[int, ...] = ()


def spec_of(search: SearchRecord) -> SearchSpec:
    """The stored spec with the search row's budget and parallel (they can be changed)."""
    spec = SearchSpec.from_json(search.spec)
    return dataclasses.replace(spec, budget=search.budget, parallel=search.parallel)


def create_search(session: Session, spec: SearchSpec) -> Advance:
    """Store the search and queue its first `parallel` trials (db_searches.SearchExists if the
    name is taken)."""
    search_id = db_searches.create_search(
        session,
        name=spec.name,
        metric=spec.objective.metric,
        direction=spec.objective.direction,
        budget=spec.budget,
        parallel=spec.parallel,
        spec=spec.to_json(),
    )
    return advance(session, search_id)


def advance(session: Session, search_id: int) -> Advance:
    """Queue trials while the search has room, under the search row's lock."""
    search = db_searches.lock_search(session, search_id)
    if search is None:
        return Advance(search_id, SearchState.CANCELLED)
    if search.state is not SearchState.RUNNING:
        return Advance(search_id, search.state)
    spec = spec_of(search)
    metric = spec.objective.metric
    trials = db_searches.search_trials(session, search_id, metric)
    queued: list[int] = []
    reused: list[int] = []
    invalid: list[int] = []
    repeats = 0
    while len(trials) < spec.budget and sum(t.active for t in trials) < spec.parallel:
        number = max((t.trial for t in trials), default=0) + 1
        suggestion = sampling.suggest(spec, trials, number, retry=repeats)
        try:
            config = spec.trial_config(suggestion.params, number)
        except ConfigError as error:
            new = dataclasses.replace(
                _fallback(spec, number).to_new_run(),
                config=spec.trial_data(suggestion.params, number),
                config_hash=None,
            )
            invalid.append(
                db_searches.record_invalid_trial(
                    session, search_id, number, new, suggestion.params, str(error)
                )
            )
        else:
            identity = config.identity_hash()
            if any(t.active and t.config_hash == identity for t in trials):
                repeats += 1
                if repeats > MAX_REPEATED_ASKS:
                    break
                continue
            new = config.to_new_run()
            source = db_searches.trained_result(session, identity)
            if source is not None:
                reused.append(
                    db_searches.record_reused_trial(
                        session,
                        search_id,
                        number,
                        new,
                        suggestion.params,
                        suggestion.attrs,
                        source[0],
                    )
                )
            else:
                queued.append(
                    db_searches.enqueue_trial(
                        session, search_id, number, new, suggestion.params, suggestion.attrs
                    )
                )
        trials = db_searches.search_trials(session, search_id, metric)
    state = SearchState.RUNNING
    if len(trials) >= spec.budget and not any(t.active for t in trials):
        state = SearchState.DONE
        db_searches.mark_search(session, search_id, state)
    return Advance(search_id, state, tuple(queued), tuple(reused), tuple(invalid))


def _fallback(spec: SearchSpec, number: int) -> ExperimentConfig:
    """A valid config of the search (every searched field at its first value), whose columns
    an invalid trial's run row borrows."""
    return spec.trial_config({p.name: p.first for p in spec.params}, number)


def extend_search(session: Session, name: str, budget: int) -> Advance:
    """Raise (or lower, down to the trials it has) a search's budget and queue what fits.

    A finished or cancelled search given room runs again. LookupError if no such search;
    ValueError if the budget is below the trials it has.
    """
    search = db_searches.get_search(session, name)
    if search is None:
        raise LookupError(f"no search named {name!r}")
    db_searches.set_budget(session, search.id, budget)
    return advance(session, search.id)


def judge_epoch(
    session: Session,
    search_id: int,
    run_id: int,
    epoch: int,
    logged: Mapping[int, Mapping[str, Any]] | None = None,
) -> sampling.Verdict:
    """After `epoch` of a trial: whether to prune it, why, and the pruner's new bookkeeping
    for the run (Hyperband's rungs), which the caller stores with `db_searches.set_trial_attrs`.

    `logged` holds what the trial's worker logged per epoch (epoch -> Keras's logs): its
    writes reach the database through an outbox, so this epoch may not be stored yet. Only
    reads: run it in a read transaction, so SQLite's write lock is not held while Optuna
    thinks.
    """
    search = db_searches.get_search(session, search_id)
    if search is None:
        return sampling.Verdict(False)
    spec = spec_of(search)
    if spec.pruner.kind == "none":
        return sampling.Verdict(False)
    trials = db_searches.search_trials(session, search_id, spec.objective.metric)
    if logged:
        metric = spec.objective.metric
        trials = [
            dataclasses.replace(t, series=with_values(t.series, metric, logged))
            if t.run_id == run_id
            else t
            for t in trials
        ]
    return sampling.judge(spec, trials, run_id, epoch)


@dataclass(frozen=True)
class PlannedTrial:
    """A suggestion a dry run shows: the values and the config they make (or why not)."""

    trial: int
    params: dict[str, object]
    config: ExperimentConfig | None
    error: str | None = None


def preview(spec: SearchSpec, count: int | None = None) -> list[PlannedTrial]:
    """The first trials a new search would queue (its first `parallel`, or `count`)."""
    planned: list[PlannedTrial] = []
    trials: list[TrialRecord] = []
    for number in range(1, min(count or spec.parallel, spec.budget) + 1):
        suggestion = sampling.suggest(spec, trials, number)
        try:
            config: ExperimentConfig | None = spec.trial_config(suggestion.params, number)
            error = None
        except ConfigError as problem:
            config, error = None, str(problem)
        planned.append(PlannedTrial(number, suggestion.params, config, error))
        trials.append(
            TrialRecord(
                run_id=-number,
                trial=number,
                name="",
                status=RunStatus.QUEUED if config else RunStatus.FAILED,
                stop_reason=None,
                stop_detail=None,
                params=suggestion.params,
                attrs=suggestion.attrs,
                series=ObjectiveSeries(-number),
                reused_from=None,
                config_hash=config.identity_hash() if config else None,
                attempt=0,
                epochs_done=0,
                created_at=None,
                started_at=None,
                finished_at=None,
            )
        )
    return planned


def search_warnings(session: Session, spec: SearchSpec) -> list[str]:
    """What a user should know before queueing `spec` (the dry run and the Search box show
    these): a metric no run is known to record, a small space, a name already taken."""
    notes = list(spec.warnings)
    # The lab's workers record their standard metrics; a fresh lab has recorded nothing yet.
    known = tuple(dict.fromkeys((*WORKER_METRICS, *known_metrics(session))))
    if spec.objective.metric not in known:
        notes.append(
            f"no run is known to record {spec.objective.metric!r} per epoch "
            f"(known: {', '.join(known)}); trials without it cannot be ranked or pruned"
        )
    existing = db_searches.get_search(session, spec.name)
    if existing is not None:
        notes.append(
            f"a search named {spec.name!r} exists already ({existing.state.value}); "
            "queueing this one will be refused"
        )
    return notes

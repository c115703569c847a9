"""What a worker does for searches, plugged into its one loop (trainer/worker.py).

- After a run of a search reaches a final state (succeeded, failed, cancelled, pruned, or
  failed as "worker lost"), the worker that recorded it queues the search's next trials.
- An idle worker looks for running searches with room, so a search whose last event queued
  nothing (a trial cancelled by hand, a budget raised from the dashboard, every worker stopped
  at the wrong moment) goes on without any extra process.
- While a trial trains, its pruner is asked after each epoch.

Each step is its own short transaction after the run's final state is committed: a failure
here is logged and never undoes or fails a run; the idle check picks the search up again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from db import searches as db_searches
from db.entities import ClaimedRun
from db.searches import set_trial_attrs
from db.session import Database
from experiment.searches import Advance, advance, judge_epoch

log = logging.getLogger("trainer.search")

# After a 1-based epoch, given what Keras logged: the reason to prune the run, or None.
Judge = Callable[[int, Mapping[str, Any]], str | None]


def _advance(database: Database, search_id: int) -> Advance | None:
    try:
        with database.begin() as session:
            result = advance(session, search_id)
    except Exception as error:  # the idle check retries; the finished run stays finished
        log.error("search %s: could not queue its next trials: %s", search_id, error)
        return None
    if result.queued or result.reused or result.invalid:
        log.info(
            "search %s: queued runs %s, reused %s, invalid %s",
            search_id,
            list(result.queued),
            list(result.reused),
            list(result.invalid),
        )
    return result


def runs_ended(database: Database, run_ids: Sequence[int]) -> None:
    """Queue the next trials of the searches these just-finished runs belong to."""
    if not run_ids:
        return
    try:
        with database.read() as session:
            search_ids = db_searches.search_ids_of(session, run_ids)
    except Exception as error:
        log.error("could not read the searches of runs %s: %s", list(run_ids), error)
        return
    for search_id in search_ids:
        _advance(database, search_id)


def top_up(database: Database) -> bool:
    """For an idle worker: queue trials of searches that have room; True if any were queued."""
    try:
        with database.read() as session:
            waiting = db_searches.searches_wanting_trials(session)
    except Exception as error:  # never a new way for the worker loop to die
        log.error("could not look for searches with room: %s", error)
        return False
    queued = False
    for search_id in waiting:
        result = _advance(database, search_id)
        queued = queued or bool(result and result.queued)
    return queued


def judge_for(database: Database, claimed: ClaimedRun) -> Judge | None:
    """The pruning decision for a claimed trial: a read per epoch, and a short fenced write
    when the pruner keeps bookkeeping; None for a run outside any search.

    The judge keeps what this attempt logged: the epoch it judges may still be on its way to
    the database through the run's outbox.
    """
    search_id = claimed.search_id
    if search_id is None:
        return None
    logged: dict[int, dict[str, Any]] = {}

    def judge(epoch: int, logs: Mapping[str, Any]) -> str | None:
        logged[epoch] = dict(logs)
        with database.read() as session:
            verdict = judge_epoch(session, search_id, claimed.id, epoch, logged)
        if verdict.attrs is not None:
            with database.begin() as session:
                set_trial_attrs(session, claimed.id, claimed.attempt, verdict.attrs)
        return verdict.reason if verdict.prune else None

    return judge

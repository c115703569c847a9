"""Searches on the queue without training: trials are claimed, given epochs and finished in
SQL, on SQLite and PostgreSQL. Concurrency uses real processes racing to finish and advance."""

from __future__ import annotations

import multiprocessing
import random
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from db import queue
from db import searches as db_searches
from db.entities import ClaimedRun, EpochRecord
from db.metrics import record_epoch
from db.models import Run, RunStatus, SearchState, StopReason
from db.runs import get_run
from db.session import Database
from experiment.search_space import SearchSpec, parse_search
from experiment.search_views import best_so_far, read_search_view, trial_rows
from experiment.searches import advance, create_search, extend_search, judge_epoch

LEASE = timedelta(seconds=60)


def _spec(**search: Any) -> SearchSpec:
    section = {
        "budget": 6,
        "parallel": 2,
        "seed": 1,
        "space": {
            "learning_rate": {"low": 1e-4, "high": 1e-1, "log": True},
            "optimizer": ["sgd", "adam"],
        },
        **search,
    }
    return parse_search({"name": "lr", "image_size": 112, "epochs": 3, "search": section})


def _create(database: Database, spec: SearchSpec) -> int:
    with database.begin() as session:
        return create_search(session, spec).search_id


def _claim(database: Database, worker: str = "w") -> ClaimedRun | None:
    with database.begin() as session:
        return queue.claim_next(session, worker)


def _train(database: Database, claimed: ClaimedRun, values: list[float]) -> None:
    for epoch, value in enumerate(values, start=1):
        with database.begin() as session:
            assert record_epoch(
                session, claimed.id, claimed.attempt, EpochRecord(epoch=epoch, val_accuracy=value)
            )


def _finish(database: Database, claimed: ClaimedRun, status: RunStatus, search_id: int) -> None:
    with database.begin() as session:
        assert queue.finish_run(
            session, claimed.id, claimed.attempt, status=status, stop_reason=StopReason.COMPLETED
        )
    with database.begin() as session:
        advance(session, search_id)


def _trials(database: Database, search_id: int) -> list[db_searches.TrialRecord]:
    with database.read() as session:
        return db_searches.search_trials(session, search_id, "val_accuracy")


def _state(database: Database, search_id: int) -> SearchState:
    with database.read() as session:
        search = db_searches.get_search(session, search_id)
    assert search is not None
    return search.state


def test_a_new_search_queues_its_first_parallel_trials(database: Database) -> None:
    """Creating a search queues `parallel` runs numbered 1.., in its study, with their values."""
    search_id = _create(database, _spec(parallel=3))
    trials = _trials(database, search_id)
    assert [(t.trial, t.status) for t in trials] == [(n, RunStatus.QUEUED) for n in (1, 2, 3)]
    with database.read() as session:
        runs = [get_run(session, t.run_id) for t in trials]
    assert all(r is not None and r.study == "lr" and r.search_id == search_id for r in runs)
    assert all(set(t.params) == {"learning_rate", "optimizer"} for t in trials)
    assert len({t.config_hash for t in trials}) == 3
    with database.read() as session:
        link = db_searches.trial_link(session, trials[1].run_id)
    assert link is not None and str(link) == "trial 2 of lr" and link.budget == 6


def test_a_search_name_is_taken_once(database: Database) -> None:
    """A second search of the same name is refused with the command to extend the first."""
    _create(database, _spec())
    with pytest.raises(db_searches.SearchExists, match="search extend lr"):
        _create(database, _spec())


def test_trials_follow_as_runs_end_until_the_budget(database: Database) -> None:
    """Each finished trial queues the next; exactly `budget` trials, then the search is done."""
    search_id = _create(database, _spec(budget=5, parallel=2))
    statuses = [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.SUCCEEDED, RunStatus.PRUNED]
    for status in [*statuses, RunStatus.SUCCEEDED]:
        claimed = _claim(database)
        assert claimed is not None and claimed.search_id == search_id
        _train(database, claimed, [random.random()])
        _finish(database, claimed, status, search_id)
        progress = _progress(database, search_id)
        assert progress.total <= 5 and progress.active <= 2
    assert _claim(database) is None
    trials = _trials(database, search_id)
    assert [t.trial for t in trials] == [1, 2, 3, 4, 5]
    assert _state(database, search_id) is SearchState.DONE
    with database.read() as session:
        view = read_search_view(session, "lr")
    assert view is not None and view.progress == db_searches.SearchProgress(5, 0)
    rows = best_so_far(view.spec, view.trials)
    assert [r["finished"] for r in rows] == [1, 2, 3, 4, 5]
    assert [r["state"] for r in trial_rows(view.spec, view.trials)] == [
        s.value for s in [*statuses, RunStatus.SUCCEEDED]
    ]


def _progress(database: Database, search_id: int) -> db_searches.SearchProgress:
    with database.read() as session:
        return db_searches.search_progress(session, search_id)


def _race_worker(url: str, search_id: int, seed: int) -> None:
    """A stand-in worker: claim, record an epoch, finish, advance; check the limits in the
    advance's own transaction (the search row is still locked there)."""
    database = Database(url)
    rng = random.Random(seed)
    while True:
        with database.begin() as session:
            claimed = queue.claim_next(session, f"w{seed}")
        if claimed is None:
            with database.read() as session:
                search = db_searches.get_search(session, search_id)
            if search is not None and search.state is not SearchState.RUNNING:
                break
            continue
        _train(database, claimed, [rng.random()])
        status = rng.choice([RunStatus.SUCCEEDED, RunStatus.SUCCEEDED, RunStatus.FAILED])
        with database.begin() as session:
            queue.finish_run(
                session, claimed.id, claimed.attempt, status=status, stop_reason=StopReason.FAILED
            )
        with database.begin() as session:
            advance(session, search_id)
            progress = db_searches.search_progress(session, search_id)
            assert progress.total <= 12 and progress.active <= 3, progress
    database.dispose()


def test_workers_finishing_at_once_never_overfill_the_search(database_url: str) -> None:
    """Four processes finishing and advancing at once: 12 trials in all, never 4 active."""
    database = Database(database_url)
    search_id = _create(database, _spec(budget=12, parallel=3))
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_race_worker, args=(database_url, search_id, seed))
        for seed in range(4)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    trials = _trials(database, search_id)
    assert [t.trial for t in trials] == list(range(1, 13))
    assert all(t.status.is_final for t in trials)
    assert _state(database, search_id) is SearchState.DONE
    database.dispose()


def test_a_repeated_config_reuses_the_finished_result(database: Database) -> None:
    """A suggestion equal to a trained run is recorded with its result, not trained again."""
    search_id = _create(database, _spec(budget=3, parallel=1, space={"optimizer": ["adam"]}))
    claimed = _claim(database)
    assert claimed is not None
    _train(database, claimed, [0.4, 0.8, 0.6])
    _finish(database, claimed, RunStatus.SUCCEEDED, search_id)
    assert _claim(database) is None  # nothing left to train
    trials = _trials(database, search_id)
    assert [(t.trial, t.status, t.reused_from) for t in trials] == [
        (1, RunStatus.SUCCEEDED, None),
        (2, RunStatus.SUCCEEDED, claimed.id),
        (3, RunStatus.SUCCEEDED, claimed.id),
    ]
    assert all(t.series.values == (0.4, 0.8, 0.6) for t in trials)
    assert trials[1].stop_reason is StopReason.REUSED and trials[1].epochs_done == 0
    assert _state(database, search_id) is SearchState.DONE


def test_a_lost_run_is_requeued_as_the_same_trial(database: Database) -> None:
    """A run whose worker vanished goes back to the queue; no new trial is asked for it."""
    search_id = _create(database, _spec(budget=4, parallel=1))
    claimed = _claim(database, "dead")
    assert claimed is not None
    with database.begin() as session:
        session.execute(
            update(Run)
            .where(Run.id == claimed.id)
            .values(heartbeat_at=Run.heartbeat_at - LEASE * 2)
        )
    with database.begin() as session:
        assert queue.requeue_lost(session, LEASE) == ([claimed.id], [])
    again = _claim(database, "next")
    assert again is not None and (again.id, again.attempt) == (claimed.id, 2)
    assert [t.trial for t in _trials(database, search_id)] == [1]


def test_cancelling_the_study_stops_the_search(database: Database) -> None:
    """Queued trials end cancelled, running ones are asked to stop, and nothing more is queued."""
    search_id = _create(database, _spec(budget=6, parallel=2))
    running = _claim(database)
    assert running is not None
    with database.begin() as session:
        done = db_searches.cancel_study(session, "lr")
    assert done.search == "lr" and done.stopping == (running.id,) and len(done.cancelled) == 1
    with database.begin() as session:
        assert advance(session, search_id).queued == ()
    assert _state(database, search_id) is SearchState.CANCELLED
    with database.read() as session:
        cancel = session.scalar(select(Run.cancel_requested).where(Run.id == running.id))
    assert cancel is True


def test_extending_a_done_search_queues_more_trials(database: Database) -> None:
    """A finished search given a bigger budget runs again; a budget below its trials is refused."""
    search_id = _create(database, _spec(budget=1, parallel=1))
    claimed = _claim(database)
    assert claimed is not None
    _finish(database, claimed, RunStatus.SUCCEEDED, search_id)
    assert _state(database, search_id) is SearchState.DONE
    with database.begin() as session, pytest.raises(ValueError, match="cannot be lower"):
        extend_search(session, "lr", 0)
    with database.begin() as session:
        result = extend_search(session, "lr", 3)
    assert result.state is SearchState.RUNNING and len(result.queued) == 1
    assert [t.trial for t in _trials(database, search_id)] == [1, 2]


def test_an_idle_check_finds_a_search_with_room(database: Database) -> None:
    """A trial cancelled by hand leaves room that `searches_wanting_trials` reports."""
    search_id = _create(database, _spec(budget=4, parallel=1))
    with database.read() as session:
        assert db_searches.searches_wanting_trials(session) == []
    first = _trials(database, search_id)[0]
    with database.begin() as session:
        queue.cancel_run(session, first.run_id)
    with database.read() as session:
        assert db_searches.searches_wanting_trials(session) == [search_id]
    with database.begin() as session:
        assert len(advance(session, search_id).queued) == 1


def test_judging_an_epoch_gives_bookkeeping_only_the_holder_stores(database: Database) -> None:
    """Hyperband's rung comes back to be stored by the run's holder; a stale attempt cannot."""
    spec = _spec(budget=3, parallel=1, pruner={"kind": "hyperband", "warmup_epochs": 1})
    search_id = _create(database, spec)
    claimed = _claim(database)
    assert claimed is not None
    _train(database, claimed, [0.5])
    with database.read() as session:
        verdict = judge_epoch(session, search_id, claimed.id, 1)
    assert not verdict.prune and verdict.attrs is not None
    assert "completed_rung_0" in verdict.attrs
    with database.begin() as session:
        assert db_searches.set_trial_attrs(session, claimed.id, claimed.attempt, verdict.attrs)
    with database.begin() as session:
        assert not db_searches.set_trial_attrs(session, claimed.id, claimed.attempt + 1, {})
    assert _trials(database, search_id)[0].attrs == verdict.attrs


def test_an_epoch_still_in_the_workers_outbox_is_judged_on_what_it_logged(
    database: Database,
) -> None:
    """The worker's writes go through an outbox: the judge uses the epoch's logged values."""
    spec = _spec(budget=2, parallel=1, pruner={"kind": "threshold", "lower": 0.5})
    search_id = _create(database, spec)
    claimed = _claim(database)
    assert claimed is not None
    _train(database, claimed, [0.9])  # epoch 1 stored; epoch 2 not yet
    with database.read() as session:
        assert not judge_epoch(session, search_id, claimed.id, 2).prune  # nothing to judge on
        verdict = judge_epoch(session, search_id, claimed.id, 2, {2: {"val_accuracy": 0.2}})
    assert verdict.prune and verdict.reason is not None and "epoch 2" in verdict.reason

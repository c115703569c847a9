"""A lab with one search part-way through, for the Search, Run, Runs and Queue pages' tests.

`seed_search` creates search "lr-search" (budget 4, 2 at once, learning rate and optimizer)
through experiment.searches as the CLI does, then plays a worker: trial 1 succeeds (best 0.7),
trial 2 is pruned at epoch 2, trial 3 succeeds (best 0.8); trial 4 is left queued.
"""

from __future__ import annotations

from dataclasses import dataclass

from db.entities import EpochRecord
from db.metrics import record_epoch
from db.models import RunStatus, StopReason
from db.queue import claim_next, finish_run
from db.session import Database
from experiment.search_space import SearchSpec, parse_search
from experiment.searches import advance, create_search

NAME = "lr-search"
PRUNED_DETAIL = "pruned: best val_accuracy 0.35 below the median 0.6 of 1 earlier runs at epoch 2"


def search_spec(name: str = NAME, budget: int = 4, parallel: int = 2) -> SearchSpec:
    section = {
        "objective": {"metric": "val_accuracy", "direction": "maximize"},
        "budget": budget,
        "parallel": parallel,
        "seed": 3,
        "space": {
            "learning_rate": {"low": 1e-4, "high": 1e-1, "log": True},
            "optimizer": ["sgd", "adam"],
        },
    }
    return parse_search({"name": name, "image_size": 112, "epochs": 3, "search": section})


@dataclass(frozen=True)
class SearchLab:
    database: Database
    search_id: int
    succeeded: int  # trial 1's run
    pruned: int  # trial 2's run
    best: int  # trial 3's run
    queued: int  # trial 4's run


def _play(
    database: Database,
    search_id: int,
    values: list[float],
    status: RunStatus,
    reason: StopReason,
    detail: str,
) -> int:
    with database.begin() as session:
        claimed = claim_next(session, "search-worker")
    assert claimed is not None and claimed.search_id == search_id
    for epoch, value in enumerate(values, start=1):
        record = EpochRecord(epoch=epoch, val_accuracy=value, accuracy=value, epoch_seconds=1.0)
        with database.begin() as session:
            assert record_epoch(session, claimed.id, claimed.attempt, record)
    with database.begin() as session:
        assert finish_run(
            session,
            claimed.id,
            claimed.attempt,
            status=status,
            stop_reason=reason,
            stop_detail=detail,
        )
    with database.begin() as session:
        advance(session, search_id)
    return claimed.id


def seed_search(database: Database) -> SearchLab:
    """Only the search's runs are queued, so each claim takes the next trial."""
    with database.begin() as session:
        result = create_search(session, search_spec())
    done = StopReason.COMPLETED
    first = _play(
        database, result.search_id, [0.5, 0.6, 0.7], RunStatus.SUCCEEDED, done, "all 3 epochs"
    )
    pruned = _play(
        database, result.search_id, [0.3, 0.35], RunStatus.PRUNED, StopReason.PRUNED, PRUNED_DETAIL
    )
    best = _play(
        database, result.search_id, [0.6, 0.8, 0.75], RunStatus.SUCCEEDED, done, "all 3 epochs"
    )
    with database.read() as session:
        from db.searches import search_trials

        trials = search_trials(session, result.search_id, "val_accuracy")
    assert [t.status for t in trials][-1] is RunStatus.QUEUED and len(trials) == 4
    return SearchLab(database, result.search_id, first, pruned, best, trials[-1].run_id)

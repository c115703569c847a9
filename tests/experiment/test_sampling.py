"""Optuna on a study rebuilt from trial records: suggestions, pruning verdicts, importance."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from db.models import RunStatus
from db.objective import ObjectiveSeries
from db.searches import TrialRecord
from experiment.sampling import build_study, judge, suggest
from experiment.search_space import SearchSpec, parse_search
from experiment.search_views import best_so_far, importance_rows, trial_rows


def _spec(**search: Any) -> SearchSpec:
    section = {
        "budget": 12,
        "parallel": 3,
        "space": {"learning_rate": {"low": 1e-4, "high": 1e-1, "log": True}},
        **search,
    }
    return parse_search({"name": "s", "epochs": 6, "search": section})


def _trial(
    number: int,
    values: list[float],
    status: RunStatus = RunStatus.SUCCEEDED,
    params: dict[str, Any] | None = None,
    attrs: dict[str, Any] | None = None,
) -> TrialRecord:
    epochs = tuple(range(1, len(values) + 1))
    return TrialRecord(
        run_id=100 + number,
        trial=number,
        name=f"t{number}",
        status=status,
        stop_reason=None,
        stop_detail=None,
        params=params if params is not None else {"learning_rate": 0.001 * number},
        attrs=attrs or {},
        series=ObjectiveSeries(100 + number, epochs, tuple(values)),
        reused_from=None,
        config_hash=None,
        attempt=1,
        epochs_done=len(values),
        created_at=None,
        started_at=None,
        finished_at=None,
    )


def test_suggestions_are_reproducible_and_differ_between_trials() -> None:
    """The same history and trial number give the same values; the next number another."""
    spec = _spec()
    history = [_trial(1, [0.5, 0.6]), _trial(2, [0.4], RunStatus.RUNNING)]
    first = suggest(spec, history, 3)
    assert suggest(spec, history, 3) == first
    assert suggest(spec, history, 4) != first
    assert 1e-4 <= first.params["learning_rate"] <= 1e-1


def test_a_grid_search_visits_every_point_once() -> None:
    """The grid sampler walks the whole grid without a repeat, keeping its grid ids."""
    spec = _spec(
        sampler="grid",
        budget=6,
        space={"optimizer": ["sgd", "adam", "rmsprop"], "batch_size": [16, 32]},
    )
    trials: list[TrialRecord] = []
    for number in range(1, 7):
        got = suggest(spec, trials, number)
        assert "grid_id" in got.attrs
        trials.append(_trial(number, [0.5], params=got.params, attrs=got.attrs))
    points = {(t.params["optimizer"], t.params["batch_size"]) for t in trials}
    assert len(points) == 6


def test_choices_that_are_mappings_round_trip() -> None:
    """Lists of nested values (a whole augmentation) are suggested as the values themselves."""
    spec = _spec(space={"augmentation": [{}, {"horizontal_flip": True}]})
    got = suggest(spec, [], 1)
    assert got.params["augmentation"] in ({}, {"horizontal_flip": True})


def test_failed_and_running_trials_reach_the_sampler_as_such() -> None:
    """Failed runs are FAIL trials, queued ones RUNNING, pruned ones PRUNED with their value."""
    spec = _spec()
    study = build_study(
        spec,
        [
            _trial(1, [], RunStatus.FAILED),
            _trial(2, [], RunStatus.QUEUED),
            _trial(3, [0.2, 0.3], RunStatus.PRUNED),
            _trial(4, [0.5, 0.7, 0.6]),
            _trial(5, [], RunStatus.SUCCEEDED),  # no objective recorded: nothing to rank
        ],
    )
    states = [(t.state.name, t.value) for t in study.trials]
    assert states == [
        ("FAIL", None),
        ("RUNNING", None),
        ("PRUNED", 0.3),
        ("COMPLETE", 0.7),  # the best epoch's value
        ("FAIL", None),
    ]


def test_median_pruning_says_why_and_waits_for_the_warm_up() -> None:
    """Below the median of finished runs at epoch 3 (not before warm-up) the run is pruned."""
    spec = _spec(pruner={"kind": "median", "warmup_epochs": 3, "startup_trials": 2})
    finished = [_trial(1, [0.5, 0.6, 0.7]), _trial(2, [0.4, 0.5, 0.6]), _trial(3, [0.6, 0.7, 0.8])]
    current = _trial(4, [0.1, 0.2, 0.3], RunStatus.RUNNING)
    assert not judge(spec, [*finished, current], current.run_id, 2).prune  # still warming up
    verdict = judge(spec, [*finished, current], current.run_id, 3)
    assert verdict.prune
    assert (
        verdict.reason == "best val_accuracy 0.3 below the median 0.7 of 3 earlier runs at epoch 3"
    )
    good = _trial(4, [0.7, 0.8, 0.9], RunStatus.RUNNING)
    assert not judge(spec, [*finished, good], good.run_id, 3).prune


def test_median_pruning_waits_for_its_startup_trials() -> None:
    """With fewer finished runs than startup_trials, nothing is pruned."""
    spec = _spec(pruner={"kind": "median", "warmup_epochs": 1, "startup_trials": 3})
    trials = [_trial(1, [0.9, 0.9]), _trial(2, [0.1], RunStatus.RUNNING)]
    assert not judge(spec, trials, trials[1].run_id, 1).prune


def test_hyperband_keeps_its_rungs_on_the_trial() -> None:
    """Hyperband's bookkeeping comes back as attrs to store, and later verdicts read it."""
    spec = _spec(pruner={"kind": "hyperband", "warmup_epochs": 1})
    trials = [_trial(n, [0.9 - 0.1 * n, 0.9], params={"learning_rate": 0.01}) for n in (1, 2, 3)]
    current = _trial(4, [0.05], RunStatus.RUNNING)
    verdict = judge(spec, [*trials, current], current.run_id, 1)
    assert verdict.attrs is not None and any(k.startswith("completed_rung_") for k in verdict.attrs)


def test_a_threshold_pruner_prunes_after_warm_up() -> None:
    """Below `lower` at the warm-up epoch, the run is pruned with the threshold in the reason."""
    spec = _spec(pruner={"kind": "threshold", "lower": 0.5, "warmup_epochs": 2})
    current = _trial(1, [0.1, 0.2], RunStatus.RUNNING)
    assert not judge(spec, [current], current.run_id, 1).prune
    verdict = judge(spec, [current], current.run_id, 2)
    assert verdict.prune and verdict.reason == "val_accuracy 0.2 below the threshold 0.5 at epoch 2"


def test_an_epoch_without_a_value_is_not_judged() -> None:
    """No finite objective at this epoch: no verdict."""
    spec = _spec(pruner={"kind": "threshold", "lower": 0.5, "warmup_epochs": 1})
    current = _trial(1, [0.1], RunStatus.RUNNING)
    assert not judge(spec, [current], current.run_id, 2).prune


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_best_so_far_follows_the_direction(direction: str) -> None:
    """The best objective after each finished trial only ever improves."""
    from datetime import UTC, datetime, timedelta

    spec = _spec(objective={"metric": "val_loss", "direction": direction})
    start = datetime(2026, 1, 1, tzinfo=UTC)
    trials = [
        dataclasses.replace(_trial(n, [v]), finished_at=start + timedelta(days=n))
        for n, v in [(1, 0.5), (2, 0.3), (3, 0.9)]
    ]
    best = [row["best"] for row in best_so_far(spec, trials)]
    assert best == ([0.5, 0.5, 0.9] if direction == "maximize" else [0.5, 0.3, 0.3])


def test_views_give_a_row_per_trial_and_importance_per_field() -> None:
    """The trials table has one column per searched field; importance covers each field."""
    spec = _spec(space={"learning_rate": {"low": 1e-4, "high": 1e-1}, "batch_size": [16, 32]})
    trials = [
        _trial(n, [0.1 * n], params={"learning_rate": 0.01 * n, "batch_size": 16 * (1 + n % 2)})
        for n in range(1, 7)
    ]
    rows = trial_rows(spec, trials)
    assert [r["objective"] for r in rows] == pytest.approx([0.1 * n for n in range(1, 7)])
    assert {"learning_rate", "batch_size"} <= set(rows[0])
    assert {r["param"] for r in importance_rows(spec, trials)} == {"learning_rate", "batch_size"}

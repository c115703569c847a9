"""The queue's estimated starts: claim order, back-to-back runs, idle workers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.views.workers.schedule import claim_order, estimated_starts, humanise_seconds
from db.entities import RunRecord
from db.models import RunStatus


def test_claim_order_is_priority_then_oldest_then_id() -> None:
    """Queued runs sort as workers claim them (db.queue.CLAIM_ORDER)."""
    runs = [_record(1, 0, 5), _record(2, 5, 1), _record(3, 0, 9), _record(4, 0, 9)]
    assert [r.id for r in claim_order(runs)] == [2, 3, 4, 1]


def test_one_worker_runs_the_queue_back_to_back() -> None:
    """One worker 10 s from done: the queue starts at 10, 10 + 20, 10 + 20 + 30."""
    assert estimated_starts([10.0], [20.0, 30.0, 5.0], workers=1) == [10.0, 30.0, 60.0]


def test_idle_workers_start_runs_now_and_spread_the_rest() -> None:
    """Two workers, one busy for 50 s: the first run starts now, the next when a slot frees."""
    assert estimated_starts([50.0], [20.0, 10.0, 10.0], workers=2) == [0.0, 20.0, 30.0]


def test_unknown_durations_make_later_starts_unknown() -> None:
    """A run with no estimate blocks its slot: what queues behind it on one worker is unknown."""
    assert estimated_starts([None], [10.0], workers=1) == [None]
    assert estimated_starts([], [None, 10.0], workers=1) == [0.0, None]
    assert estimated_starts([5.0], [1.0], workers=0) == [None]


@pytest.mark.parametrize(
    ("seconds", "text"), [(None, "unknown"), (0.2, "now"), (42, "~42 s"), (600, "~10 min")]
)
def test_humanise_seconds(seconds: float | None, text: str) -> None:
    """Durations read as a person would say them."""
    assert humanise_seconds(seconds) == text


def _record(run_id: int, priority: int = 0, minutes_ago: int = 0) -> RunRecord:
    created = datetime(2026, 11, 28, 12, tzinfo=UTC) - timedelta(minutes=minutes_ago)
    return RunRecord(
        id=run_id, name=f"r{run_id}", study=None, status=RunStatus.QUEUED, priority=priority,
        config={}, tags=(), dataset="d", architecture="report_cnn", optimizer="adam",
        learning_rate=0.001, batch_size=16, epochs=3, image_size=112, augmented=False, seed=0,
        created_at=created, started_at=None, finished_at=None, heartbeat_at=None, attempt=0,
        max_attempts=3, worker=None, cancel_requested=False, error=None, stop_reason=None,
        stop_detail=None, warnings=(), epochs_done=0, best_val_accuracy=None, best_epoch=None,
        last_val_accuracy=None, class_names=None, environment=None,
    )  # fmt: skip

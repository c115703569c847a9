"""The Workers page and its queue estimate: who is alive, when queued runs start, attempts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.schedule import claim_order, estimated_starts, humanise_seconds
from db.entities import RunRecord
from db.models import RunStatus
from tests.dashboard.conftest import EvaluatedLab, Lab, open_page


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


def test_no_workers_says_how_to_start_one(lab: Lab) -> None:
    """Without any worker the page names the command that starts one."""
    at = open_page("workers")
    assert not at.exception
    assert "python -m trainer worker" in at.info[0].value


def test_workers_queue_and_attempts(evaluated_lab: EvaluatedLab) -> None:
    """Alive and lost workers, the queue in claim order with start estimates, and attempts."""
    lab = evaluated_lab
    at = open_page("workers")
    assert not at.exception
    workers, queue, attempts = (frame.value for frame in at.dataframe)
    alive = workers.set_index("name").loc["gpu-box"]
    assert (alive["status"], alive["run"], alive["epoch"]) == (
        "alive",
        f"run?id={lab.lab.running}",
        "3 of 3",
    )
    assert workers.set_index("name").loc["old-box", "status"] == "lost"
    assert list(queue["run"]) == [f"run?id={lab.urgent}", f"run?id={lab.handed_back}"]
    # The running run has 1 epoch of 1 s left; queued report_cnn runs took 1 s an epoch.
    assert list(queue["starts_in"]) == ["~1 s", "~4 s"]
    handed = attempts[attempts["run"] == f"run?id={lab.handed_back}"]
    assert list(handed["outcome"]) == ["handed_back"]


@pytest.mark.parametrize("view", ["run", "workers", "reports", "report"])
def test_unmigrated_database_shows_the_command_to_run(
    view: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new pages, too, give one error naming `python -m db upgrade` on an empty database."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'blank.db'}")
    at = open_page(view)
    assert not at.exception
    assert len(at.error) == 1 and "python -m db upgrade" in at.error[0].value

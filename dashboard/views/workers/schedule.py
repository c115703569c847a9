"""When will each queued run start? A small simulation of the workers working through the queue.

Pure functions of run records and past epoch times, so they are tested without a database.
Estimates are upper bounds: early stopping ends many runs before their last epoch.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

from db.entities import RunRecord
from db.metrics import RunTiming
from db.models import RunStatus
from experiment.config import ConfigError, parse_config
from experiment.estimate import RunEstimate, duration_text, estimate_run


def claim_order(queued: Sequence[RunRecord]) -> list[RunRecord]:
    """Queued runs in the order workers claim them: `db.queue.CLAIM_ORDER`, i.e. highest
    priority first, then oldest, then lowest id."""

    def key(run: RunRecord) -> tuple[int, float, int]:
        created = run.created_at.timestamp() if run.created_at else -math.inf
        return (-run.priority, created, run.id)

    return sorted(queued, key=key)


def _estimate(run: RunRecord, history: Sequence[RunTiming]) -> RunEstimate | None:
    try:
        config = parse_config(run.config)
    except ConfigError:
        return None
    return estimate_run(config, history)


def remaining_seconds(
    run: RunRecord, own_epochs: Sequence[float], history: Sequence[RunTiming]
) -> float | None:
    """Time the run still needs. A queued run: its whole estimate (start-up, epochs,
    evaluation). A running one: its epochs left at its own pace past the first, slower epoch
    (the estimate's pace until it has one); its evaluation is not counted."""
    left = max(run.epochs - run.epochs_done, 0)
    if own_epochs and run.status is not RunStatus.QUEUED:
        steady = own_epochs[1:] or own_epochs
        return left * float(sum(steady) / len(steady))
    estimate = _estimate(run, history)
    if estimate is None:
        return None
    return (
        estimate.total_seconds if run.status is RunStatus.QUEUED else left * estimate.epoch_seconds
    )


def estimated_starts(
    running_remaining: Sequence[float | None],
    queued_durations: Sequence[float | None],
    workers: int,
) -> list[float | None]:
    """Seconds from now until each queued run (in claim order) starts; None when unknown.

    Each alive worker is a slot that frees when its current run ends (idle workers are free
    now); the next queued run goes to the slot that frees first. A slot whose run has no
    estimate frees at an unknown time, and so does everything queued behind it.

    Args:
        running_remaining: time left of each running run.
        queued_durations: estimated duration of each queued run, in claim order.
        workers: alive workers; with none, nothing is known.
    """
    if workers <= 0:
        return [None] * len(queued_durations)
    busy = sorted(math.inf if r is None else max(float(r), 0.0) for r in running_remaining)
    slots = (busy + [0.0] * workers)[:workers] if len(busy) < workers else busy[:workers]
    heapq.heapify(slots)
    starts: list[float | None] = []
    for duration in queued_durations:
        free_at = heapq.heappop(slots)
        starts.append(None if math.isinf(free_at) else free_at)
        ends = math.inf if duration is None or math.isinf(free_at) else free_at + duration
        heapq.heappush(slots, ends)
    return starts


@dataclass(frozen=True)
class QueuePlan:
    """The queue in claim order with each run's estimated duration and start (seconds)."""

    queued: list[RunRecord]
    durations: list[float | None]
    starts: list[float | None]


def plan_queue(
    running: Sequence[RunRecord],
    queued: Sequence[RunRecord],
    epoch_seconds: dict[int, list[float]],
    history: Sequence[RunTiming],
    workers: int,
) -> QueuePlan:
    """Estimate the queue from running runs' remaining epochs and queued runs' estimates."""
    ordered = claim_order(queued)
    remaining = [remaining_seconds(r, epoch_seconds.get(r.id, []), history) for r in running]
    durations = [remaining_seconds(r, epoch_seconds.get(r.id, []), history) for r in ordered]
    return QueuePlan(ordered, durations, estimated_starts(remaining, durations, workers))


def humanise_seconds(seconds: float | None) -> str:
    """`None` -> "unknown", 0 -> "now", else `experiment.estimate.duration_text`."""
    if seconds is None:
        return "unknown"
    if seconds < 1:
        return "now"
    return duration_text(seconds)

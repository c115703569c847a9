"""What a reader makes of one run's log files, before anything touches the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


class LogError(ValueError):
    """A path or file that cannot be imported; the message names it and what is wrong."""


@dataclass
class RunLog:
    """One run's values in the lab's terms: epochs count from 1, steps are global batches.

    A value that was logged but not finite is None; a name not logged at an epoch or step is
    absent. `epoch_times` / `step_times` are when the values were written, when the log says.
    """

    epochs: dict[int, dict[str, float | None]] = field(default_factory=dict)
    epoch_times: dict[int, datetime] = field(default_factory=dict)
    steps: dict[int, dict[str, float | None]] = field(default_factory=dict)
    step_times: dict[int, datetime] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def points(self) -> int:
        return sum(len(v) for v in self.epochs.values()) + sum(len(v) for v in self.steps.values())


def utc(seconds: float) -> datetime:
    """A log's wall time (seconds since the epoch) as a UTC datetime."""
    return datetime.fromtimestamp(seconds, tz=UTC)

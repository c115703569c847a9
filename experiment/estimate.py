"""Previewing a grid before queueing: duplicates of existing runs and the time it will take."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from db.metrics import EpochTime
from experiment.config import ExperimentConfig


@dataclass(frozen=True)
class PlannedRun:
    config: ExperimentConfig
    duplicate_of: tuple[int, ...]  # ids of queued/running/succeeded runs with the same config
    estimated_seconds: float | None  # None: no past epoch of a comparable run to go by


def estimate_epoch_seconds(config: ExperimentConfig, history: Sequence[EpochTime]) -> float | None:
    """Seconds per epoch from past runs of the same architecture and image size.

    The same batch size is preferred, else the closest one: an epoch's cost follows the images
    it sees more than how they are batched. Early stopping makes real runs shorter, so totals
    built from this are upper bounds.
    """
    same = [
        t
        for t in history
        if (t.architecture, t.image_size) == (config.architecture, config.image_size)
    ]
    if not same:
        return None
    best = min(
        same,
        key=lambda t: (t.batch_size != config.batch_size, abs(t.batch_size - config.batch_size)),
    )
    return best.seconds


def plan(
    configs: Sequence[ExperimentConfig],
    existing: dict[str, list[int]],
    history: Sequence[EpochTime],
) -> list[PlannedRun]:
    planned = []
    for config in configs:
        per_epoch = estimate_epoch_seconds(config, history)
        planned.append(
            PlannedRun(
                config=config,
                duplicate_of=tuple(existing.get(config.identity_hash(), ())),
                estimated_seconds=None if per_epoch is None else per_epoch * config.epochs,
            )
        )
    return planned

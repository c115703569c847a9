"""A search's objective: the per-epoch values of one metric, read in one place.

Searches, pruners and the search view read metric values only through `objective_series`, so
moving epochs to storage for any metric name is a change to this module alone. Today an epoch
has fixed columns (db/models.py `EpochMetric`); a name that is not one of them has no values
yet, which is not an error: the metric may be recorded by runs that have not started.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import EpochMetric

# The per-epoch values every run records today (trainer/callbacks.py EpochRecorder).
_EPOCH_COLUMNS = ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "epoch_seconds")


@dataclass(frozen=True)
class ObjectiveSeries:
    """One run's values of one metric by epoch (1-based); epochs without a finite value are
    left out, as a pruner or a best-so-far needs."""

    run_id: int
    epochs: tuple[int, ...] = ()
    values: tuple[float, ...] = ()

    def as_dict(self) -> dict[int, float]:
        return dict(zip(self.epochs, self.values, strict=True))


def known_metrics(session: Session) -> tuple[str, ...]:
    """Metric names the runs are known to record per epoch (for warnings, not validation)."""
    del session  # fixed columns today; stored metric names once any metric can be recorded
    return _EPOCH_COLUMNS


def objective_series(
    session: Session, run_ids: Sequence[int], metric: str
) -> dict[int, ObjectiveSeries]:
    """Each run's finite values of `metric` by epoch; every asked run has an entry."""
    series = {run_id: ObjectiveSeries(run_id) for run_id in run_ids}
    if not run_ids or metric not in _EPOCH_COLUMNS:
        return series
    column = EpochMetric.__table__.c[metric]
    rows = session.execute(
        select(EpochMetric.run_id, EpochMetric.epoch, column)
        .where(EpochMetric.run_id.in_(list(set(run_ids))), column.is_not(None))
        .order_by(EpochMetric.run_id, EpochMetric.epoch)
    )
    collected: dict[int, tuple[list[int], list[float]]] = {}
    for run_id, epoch, value in rows:
        if math.isfinite(value):
            epochs, values = collected.setdefault(run_id, ([], []))
            epochs.append(int(epoch))
            values.append(float(value))
    for run_id, (epochs, values) in collected.items():
        series[run_id] = ObjectiveSeries(run_id, tuple(epochs), tuple(values))
    return series

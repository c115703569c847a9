"""A search's objective: the per-epoch values of one metric, read in one place.

Searches, pruners and the search view read metric values only through `objective_series`.
Any name a run records per epoch can be an objective; a name no run has recorded yet has no
values, which is not an error: the metric may be recorded by runs that have not started.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import distinct, select
from sqlalchemy.orm import Session

from db.metrics import metric_table
from db.models import MetricAxis, MetricSeries


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
    """Metric names runs have recorded per epoch (for warnings, not validation)."""
    names = session.scalars(
        select(distinct(MetricSeries.name)).where(MetricSeries.axis == MetricAxis.EPOCH)
    )
    return tuple(sorted(names))


def objective_series(
    session: Session, run_ids: Sequence[int], metric: str
) -> dict[int, ObjectiveSeries]:
    """Each run's finite values of `metric` by epoch; every asked run has an entry."""
    series = {run_id: ObjectiveSeries(run_id) for run_id in run_ids}
    if not run_ids:
        return series
    collected: dict[int, tuple[list[int], list[float]]] = {}
    for run_id, epoch, value, _recorded in metric_table(session, sorted(set(run_ids)), [metric]):
        if value is not None and math.isfinite(value):
            epochs, values = collected.setdefault(run_id, ([], []))
            epochs.append(int(epoch))
            values.append(float(value))
    for run_id, (epochs, values) in collected.items():
        series[run_id] = ObjectiveSeries(run_id, tuple(epochs), tuple(values))
    return series


def with_values(
    series: ObjectiveSeries, metric: str, logged: Mapping[int, Mapping[str, Any]]
) -> ObjectiveSeries:
    """`series` with the finite values of `metric` in `logged` (epoch -> what Keras logged)
    added: a worker judges an epoch before its link has written it to the database."""
    values = series.as_dict()
    for epoch, logs in logged.items():
        value = logs.get(metric)
        if isinstance(value, int | float) and math.isfinite(value):
            values[epoch] = float(value)
    epochs = tuple(sorted(values))
    return ObjectiveSeries(series.run_id, epochs, tuple(values[e] for e in epochs))

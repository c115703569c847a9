"""Plain frozen records that cross the `db/` boundary instead of ORM rows."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, TypeVar

from db.models import (
    Artifact,
    AttemptOutcome,
    EpochMetric,
    Run,
    RunAttempt,
    RunStatus,
    StopReason,
    Worker,
)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every time we store is UTC, so say so."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


R = TypeVar("R")


def record_from(cls: type[R], row: object, **given: Any) -> R:
    """A record whose fields are read from the row's attributes of the same names (datetimes
    as UTC), except those `given`: the one mapping from ORM rows to records, so a column added
    to both cannot be forgotten in between."""
    values = dict(given)
    for item in fields(cls):  # type: ignore[arg-type]
        if item.name not in values:
            value = getattr(row, item.name)
            values[item.name] = as_utc(value) if isinstance(value, datetime) else value
    return cls(**values)


@dataclass(frozen=True)
class NewRun:
    """What `enqueue` needs: the validated config as JSON plus its filterable knobs."""

    name: str
    config: dict[str, Any]
    dataset: str
    architecture: str
    optimizer: str
    learning_rate: float
    batch_size: int
    epochs: int
    image_size: int
    augmented: bool
    seed: int
    tags: tuple[str, ...] = ()
    priority: int = 0
    study: str | None = None
    max_attempts: int = 3
    config_hash: str | None = None

    def columns(self) -> dict[str, Any]:
        """The run-table columns this sets (tags as a JSON list)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["tags"] = list(self.tags)
        return values

    @classmethod
    def copy_of(cls, row: Run) -> NewRun:
        """The same config as a stored run, named as its re-run."""
        return record_from(
            cls,
            row,
            tags=tuple(row.tags or ()),
            config=dict(row.config),
            name=f"{row.name} (re-run of {row.id})"[:200],
        )


@dataclass(frozen=True)
class RunRecord:
    id: int
    name: str
    study: str | None
    status: RunStatus
    priority: int
    config: dict[str, Any]
    tags: tuple[str, ...]
    dataset: str
    architecture: str
    optimizer: str
    learning_rate: float
    batch_size: int
    epochs: int
    image_size: int
    augmented: bool
    seed: int
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    attempt: int
    max_attempts: int
    worker: str | None
    cancel_requested: bool
    error: str | None
    stop_reason: StopReason | None
    stop_detail: str | None
    warnings: tuple[str, ...]
    epochs_done: int
    best_val_accuracy: float | None
    best_epoch: int | None
    last_val_accuracy: float | None
    class_names: tuple[str, ...] | None
    environment: dict[str, Any] | None
    evaluation: dict[str, Any] | None = None
    total_params: int | None = None
    trainable_params: int | None = None  # in the run's latest phase (after fine-tuning began)
    phases: tuple[TrainingPhase, ...] = ()

    @classmethod
    def from_row(cls, row: Run) -> RunRecord:
        return record_from(
            cls,
            row,
            config=dict(row.config),
            tags=tuple(row.tags or ()),
            warnings=tuple(row.warnings or ()),
            class_names=tuple(row.class_names) if row.class_names is not None else None,
            environment=dict(row.environment) if row.environment is not None else None,
            evaluation=dict(row.evaluation) if row.evaluation is not None else None,
            phases=tuple(TrainingPhase.from_json(item) for item in row.phases or ()),
        )


@dataclass(frozen=True)
class TrainingPhase:
    """A stretch of a run trained one way: from `epoch` (1-based) on, with a frozen backbone,
    fine-tuning it, or plainly; the curves mark where a later phase begins."""

    epoch: int
    kind: str  # "train" | "frozen" | "fine_tune"
    total_params: int
    trainable_params: int
    learning_rate: float
    unfrozen_layers: int | None = None  # fine_tune: how many of the backbone's last layers

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainingPhase:
        values: dict[str, Any] = {f.name: data.get(f.name) for f in fields(cls)}
        return cls(**values)


@dataclass(frozen=True)
class ClaimedRun:
    """A run a worker now holds; `attempt` fences every write it makes for the run."""

    id: int
    attempt: int
    name: str
    config: dict[str, Any]


@dataclass(frozen=True)
class EpochRecord:
    """One epoch's metrics; NaN and infinities are stored as None (NULL)."""

    epoch: int
    loss: float | None = None
    accuracy: float | None = None
    val_loss: float | None = None
    val_accuracy: float | None = None
    learning_rate: float | None = None
    epoch_seconds: float | None = None
    run_id: int | None = None

    @classmethod
    def from_row(cls, row: EpochMetric) -> EpochRecord:
        return record_from(cls, row)


@dataclass(frozen=True)
class StoredArtifact:
    run_id: int
    kind: str
    data: bytes
    sha256: str
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: Artifact) -> StoredArtifact:
        return record_from(cls, row, kind=row.kind.value, meta=dict(row.meta or {}))


@dataclass(frozen=True)
class PredictionRecord:
    """One validation image's verdict from one run (thumbnail bytes loaded separately)."""

    run_id: int
    position: int
    file: str
    true_label: int
    predicted_label: int
    confidence: float
    probabilities: tuple[float, ...]

    @property
    def correct(self) -> bool:
        return self.true_label == self.predicted_label


@dataclass(frozen=True)
class AttemptRecord:
    run_id: int
    attempt: int
    worker: str
    started_at: datetime | None
    ended_at: datetime | None
    outcome: AttemptOutcome
    detail: str | None

    @classmethod
    def from_row(cls, row: RunAttempt) -> AttemptRecord:
        return record_from(cls, row)


@dataclass(frozen=True)
class WorkerRecord:
    id: int
    name: str
    host: str
    pid: int
    device: str
    started_at: datetime | None
    heartbeat_at: datetime | None
    stopped_at: datetime | None
    current_run_id: int | None
    alive: bool

    @classmethod
    def from_row(cls, row: Worker, *, alive: bool) -> WorkerRecord:
        return record_from(cls, row, alive=alive)

"""Plain frozen records that cross the `db/` boundary instead of ORM rows."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

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
        values = {f.name: getattr(row, f.name) for f in fields(cls)}
        values["tags"] = tuple(row.tags or ())
        values["config"] = dict(row.config)
        values["name"] = f"{row.name} (re-run of {row.id})"[:200]
        return cls(**values)


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

    @classmethod
    def from_row(cls, row: Run) -> RunRecord:
        return cls(
            id=row.id,
            name=row.name,
            study=row.study,
            status=row.status,
            priority=row.priority,
            config=dict(row.config),
            tags=tuple(row.tags or ()),
            dataset=row.dataset,
            architecture=row.architecture,
            optimizer=row.optimizer,
            learning_rate=row.learning_rate,
            batch_size=row.batch_size,
            epochs=row.epochs,
            image_size=row.image_size,
            augmented=row.augmented,
            seed=row.seed,
            created_at=as_utc(row.created_at),
            started_at=as_utc(row.started_at),
            finished_at=as_utc(row.finished_at),
            heartbeat_at=as_utc(row.heartbeat_at),
            attempt=row.attempt,
            max_attempts=row.max_attempts,
            worker=row.worker,
            cancel_requested=row.cancel_requested,
            error=row.error,
            stop_reason=row.stop_reason,
            stop_detail=row.stop_detail,
            warnings=tuple(row.warnings or ()),
            epochs_done=row.epochs_done,
            best_val_accuracy=row.best_val_accuracy,
            best_epoch=row.best_epoch,
            last_val_accuracy=row.last_val_accuracy,
            class_names=tuple(row.class_names) if row.class_names is not None else None,
            environment=dict(row.environment) if row.environment is not None else None,
            evaluation=dict(row.evaluation) if row.evaluation is not None else None,
        )


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
        return cls(
            epoch=row.epoch,
            loss=row.loss,
            accuracy=row.accuracy,
            val_loss=row.val_loss,
            val_accuracy=row.val_accuracy,
            learning_rate=row.learning_rate,
            epoch_seconds=row.epoch_seconds,
            run_id=row.run_id,
        )


@dataclass(frozen=True)
class StoredArtifact:
    run_id: int
    kind: str
    data: bytes
    sha256: str
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: Artifact) -> StoredArtifact:
        return cls(
            run_id=row.run_id,
            kind=row.kind.value,
            data=row.data,
            sha256=row.sha256,
            meta=dict(row.meta or {}),
        )


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
        return cls(
            run_id=row.run_id,
            attempt=row.attempt,
            worker=row.worker,
            started_at=as_utc(row.started_at),
            ended_at=as_utc(row.ended_at),
            outcome=row.outcome,
            detail=row.detail,
        )


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
        return cls(
            id=row.id,
            name=row.name,
            host=row.host,
            pid=row.pid,
            device=row.device,
            started_at=as_utc(row.started_at),
            heartbeat_at=as_utc(row.heartbeat_at),
            stopped_at=as_utc(row.stopped_at),
            current_run_id=row.current_run_id,
            alive=alive,
        )

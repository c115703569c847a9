"""Plain frozen records that cross the `db/` boundary instead of ORM rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, TypeVar

from db.models import (
    Artifact,
    AttemptOutcome,
    EpochMetric,
    Run,
    RunAttempt,
    RunSource,
    RunStatus,
    SlurmDispatcher,
    SlurmJob,
    StopReason,
    StoreKind,
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
    """A run to create: its config as JSON plus its filterable knobs.

    `enqueue` takes queued runs, whose knobs are all set; a script's or an imported run's
    config is any JSON and its knobs are None unless the config names them.
    """

    name: str
    config: dict[str, Any]
    dataset: str | None
    architecture: str | None
    optimizer: str | None
    learning_rate: float | None
    batch_size: int | None
    epochs: int
    image_size: int | None
    augmented: bool | None
    seed: int | None
    tags: tuple[str, ...] = ()
    priority: int = 0
    study: str | None = None
    max_attempts: int = 3
    config_hash: str | None = None
    source: RunSource = RunSource.QUEUED
    import_hash: str | None = None

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
    # The knobs below are None for a script's or an imported run (source != queued) whose
    # config does not name them. They are annotated as a queued run has them because
    # dashboard/details.py's augmentation tab reads them typed so; make them `X | None` when
    # that tab learns to skip runs of other sources.
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
    source: RunSource = RunSource.QUEUED
    import_hash: str | None = None
    search_id: int | None = None
    trial: int | None = None
    reused_from: int | None = None
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
    search_id: int | None = None  # a search's trial: the worker reports its objective


@dataclass(frozen=True, init=False)
class EpochRecord:
    """One epoch's metrics under any names; None for a value that was not finite (NaN).

    `EpochRecord(3, {"auc": 0.9})` and `EpochRecord(epoch=3, loss=0.4, accuracy=0.8)` are the
    same kind of record: keyword metrics are a shorthand. The standard names read as
    attributes (`record.loss`, None when absent). `recorded_at` is when the epoch ended, when
    known (imports, a script's spooled records); a worker's write takes the database's clock.
    """

    epoch: int
    metrics: Mapping[str, float | None] = field(default_factory=dict)
    run_id: int | None = None
    recorded_at: datetime | None = None

    def __init__(
        self,
        epoch: int,
        metrics: Mapping[str, float | None] | None = None,
        *,
        run_id: int | None = None,
        recorded_at: datetime | None = None,
        **named: float | None,
    ) -> None:
        object.__setattr__(self, "epoch", epoch)
        object.__setattr__(self, "metrics", {**(metrics or {}), **named})
        object.__setattr__(self, "run_id", run_id)
        object.__setattr__(self, "recorded_at", recorded_at)

    @property
    def loss(self) -> float | None:
        return self.metrics.get("loss")

    @property
    def accuracy(self) -> float | None:
        return self.metrics.get("accuracy")

    @property
    def val_loss(self) -> float | None:
        return self.metrics.get("val_loss")

    @property
    def val_accuracy(self) -> float | None:
        return self.metrics.get("val_accuracy")

    @property
    def learning_rate(self) -> float | None:
        return self.metrics.get("learning_rate")

    @property
    def epoch_seconds(self) -> float | None:
        return self.metrics.get("epoch_seconds")

    @classmethod
    def from_row(cls, row: EpochMetric) -> EpochRecord:
        # JSONB prints a large whole number without an exponent (1e30 comes back as an int);
        # float() gives back the stored double exactly.
        metrics = {k: None if v is None else float(v) for k, v in (row.metrics or {}).items()}
        return cls(row.epoch, metrics, run_id=row.run_id, recorded_at=as_utc(row.recorded_at))


@dataclass(frozen=True)
class StepRecord:
    """Per-batch values at one global step (batches since training began, from 1)."""

    step: int
    metrics: Mapping[str, float | None]
    recorded_at: datetime | None = None


@dataclass(frozen=True)
class StoredObject:
    """Bytes put into an artifact store: which store, their key there, sha256 and size."""

    store: StoreKind
    location: str
    sha256: str
    size_bytes: int


@dataclass(frozen=True)
class ArtifactPointer:
    """A run's model or checkpoint as the database records it, without its bytes."""

    run_id: int
    kind: str
    store: StoreKind
    location: str
    sha256: str
    size_bytes: int
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: Artifact) -> ArtifactPointer:
        return record_from(cls, row, kind=row.kind.value, meta=dict(row.meta or {}))

    @property
    def stored(self) -> StoredObject:
        return StoredObject(self.store, self.location, self.sha256, self.size_bytes)


@dataclass(frozen=True)
class StoredArtifact:
    """An artifact's bytes, read from its store and checked against its sha256."""

    run_id: int
    kind: str
    data: bytes
    sha256: str
    meta: dict[str, Any] = field(default_factory=dict)


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


@dataclass(frozen=True)
class ImportedRun:
    """A finished run read from another tool's logs, written in one transaction.

    `run.source` is import and `run.import_hash` names the files' content; epochs count
    from 1; `environment` says where the run came from (path, format, files).
    """

    run: NewRun
    epochs: tuple[EpochRecord, ...]
    steps: tuple[StepRecord, ...] = ()
    started_at: datetime | None = None
    finished_at: datetime | None = None
    stop_detail: str | None = None
    environment: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


# How a Slurm job ended, in words, by the state Slurm gave it (man squeue, JOB STATE CODES).
_SLURM_ENDINGS = {
    "BOOT_FAIL": "its node failed to boot",
    "CANCELLED": "cancelled",
    "COMPLETED": "completed",
    "DEADLINE": "reached its deadline",
    "FAILED": "failed",
    "NODE_FAIL": "its node failed",
    "OUT_OF_MEMORY": "ran out of memory",
    "PREEMPTED": "preempted",
    "REVOKED": "revoked (started on another cluster)",
    "TIMEOUT": "hit its time limit",
    "UNKNOWN": "ended unseen (Slurm no longer lists it)",
}


@dataclass(frozen=True)
class SlurmJobRecord:
    """A Slurm job running a worker, as the dispatcher last saw it in `squeue`.

    `state` is Slurm's (PENDING, RUNNING, COMPLETED, TIMEOUT, ...), `reason` why it is pending
    (Priority, Resources, ...) or how it ended, `exit_code` Slurm's "exit:signal".
    """

    id: int
    job_id: str
    dispatcher_id: int | None
    run_id: int | None
    attempt: int | None
    worker_id: int | None
    state: str
    reason: str | None
    node: str | None
    log_path: str | None
    exit_code: str | None
    note: str | None
    submitted_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    updated_at: datetime | None

    @property
    def active(self) -> bool:
        """Pending or running: the dispatcher still follows it."""
        return self.ended_at is None

    @property
    def ended_how(self) -> str | None:
        """One line for a finished job, e.g. "hit its time limit" or "failed (exit 1:0)"."""
        if self.active:
            return None
        words = _SLURM_ENDINGS.get(self.state, self.state.lower())
        if self.exit_code not in (None, "0:0"):
            words += f" (exit {self.exit_code})"
        return f"{words}: {self.note}" if self.note else words

    @classmethod
    def from_row(cls, row: SlurmJob) -> SlurmJobRecord:
        return record_from(cls, row)


@dataclass(frozen=True)
class SlurmDispatcherRecord:
    """A Slurm dispatcher; `last_error` is its failing submissions' message until one works."""

    id: int
    name: str
    host: str
    pid: int
    template: str
    partition: str | None
    max_jobs: int
    started_at: datetime | None
    heartbeat_at: datetime | None
    stopped_at: datetime | None
    last_error: str | None
    error_since: datetime | None
    error_count: int
    alive: bool

    @classmethod
    def from_row(cls, row: SlurmDispatcher, *, alive: bool) -> SlurmDispatcherRecord:
        return record_from(cls, row, alive=alive)

"""Tables: runs, their per-epoch metrics and their stored artifacts (model, checkpoint)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Named constraints keep Alembic's batch mode (SQLite) and PostgreSQL schemas identical.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class RunStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED})


class StopReason(enum.StrEnum):
    """Why a run ended; `Run.stop_detail` adds the epochs in words."""

    COMPLETED = "completed"
    EARLY_STOPPING = "early_stopping"
    MIN_ACCURACY = "min_accuracy"
    FAILED = "failed"
    CANCELLED = "cancelled"
    WORKER_LOST = "worker_lost"


def _str_enum(cls: type[enum.Enum], length: int) -> Enum:
    # Stored as plain strings (no native PostgreSQL enum) so both databases share one schema.
    return Enum(
        cls,
        native_enum=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Run(Base):
    """One queued training run: its whole config plus the knobs worth filtering on."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    study: Mapped[str | None] = mapped_column(String(200), index=True)
    status: Mapped[RunStatus] = mapped_column(_str_enum(RunStatus, 16), default=RunStatus.QUEUED)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    # sha256 of the config without name/tags/priority/study: equal hashes train the same thing.
    config_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)

    # Key hyper-parameters copied out of `config` so lists and filters need no JSON queries.
    dataset: Mapped[str] = mapped_column(String(1000))
    architecture: Mapped[str] = mapped_column(String(200))  # or "package.module:function"
    optimizer: Mapped[str] = mapped_column(String(32))
    learning_rate: Mapped[float] = mapped_column(Float)
    batch_size: Mapped[int] = mapped_column(Integer)
    epochs: Mapped[int] = mapped_column(Integer)
    image_size: Mapped[int] = mapped_column(Integer)
    augmented: Mapped[bool] = mapped_column(Boolean)
    seed: Mapped[int] = mapped_column(Integer)

    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    # The attempt number is the fencing token: every write a worker makes names its attempt.
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    worker: Mapped[str | None] = mapped_column(String(200))
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)

    error: Mapped[str | None] = mapped_column(Text)
    stop_reason: Mapped[StopReason | None] = mapped_column(_str_enum(StopReason, 32))
    stop_detail: Mapped[str | None] = mapped_column(String(500))
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)

    # Summary kept current by each epoch's write, so run lists never scan the metrics table.
    epochs_done: Mapped[int] = mapped_column(Integer, default=0)
    best_val_accuracy: Mapped[float | None] = mapped_column(Float)
    best_epoch: Mapped[int | None] = mapped_column(Integer)
    last_val_accuracy: Mapped[float | None] = mapped_column(Float)

    class_names: Mapped[list[str] | None] = mapped_column(JSON)
    environment: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Confusion matrix and per-class precision/recall/F1 on the validation split.
    evaluation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The built model's parameters (trainable: in the latest phase) and its training phases
    # (frozen backbone, fine-tuning), written by the worker as each phase begins.
    total_params: Mapped[int | None] = mapped_column(Integer)
    trainable_params: Mapped[int | None] = mapped_column(Integer)
    phases: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)


# In claim order (db/queue.py CLAIM_ORDER: priority DESC, created_at, id), so a claim reads the
# first queued entry of the index instead of sorting every queued run.
Index("ix_runs_claim_order", Run.status, Run.priority.desc(), Run.created_at, Run.id)


class EpochMetric(Base):
    """One row per run and epoch (the unique constraint makes a replayed epoch an error)."""

    __tablename__ = "epoch_metrics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    epoch: Mapped[int] = mapped_column(Integer)
    loss: Mapped[float | None] = mapped_column(Float)
    accuracy: Mapped[float | None] = mapped_column(Float)
    val_loss: Mapped[float | None] = mapped_column(Float)
    val_accuracy: Mapped[float | None] = mapped_column(Float)
    learning_rate: Mapped[float | None] = mapped_column(Float)
    epoch_seconds: Mapped[float | None] = mapped_column(Float)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (UniqueConstraint("run_id", "epoch"),)


class ArtifactKind(enum.StrEnum):
    MODEL = "model"
    CHECKPOINT = "checkpoint"


class Artifact(Base):
    """Bytes stored in the database so any machine sharing `DATABASE_URL` can use them."""

    __tablename__ = "artifacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    kind: Mapped[ArtifactKind] = mapped_column(_str_enum(ArtifactKind, 16))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (UniqueConstraint("run_id", "kind"),)


class ValidationPrediction(Base):
    """What a finished model said about each validation image, for galleries and run diffs.

    `thumbnail` is a small JPEG so a dashboard that shares only the database can show it.
    """

    __tablename__ = "validation_predictions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    file: Mapped[str] = mapped_column(String(1000))
    true_label: Mapped[int] = mapped_column(Integer)
    predicted_label: Mapped[int] = mapped_column(Integer)
    confidence: Mapped[float] = mapped_column(Float)
    probabilities: Mapped[list[float]] = mapped_column(JSON)
    thumbnail: Mapped[bytes | None] = mapped_column(LargeBinary)

    __table_args__ = (UniqueConstraint("run_id", "position"),)


class AttemptOutcome(enum.StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    HANDED_BACK = "handed_back"  # the worker shut down and returned the run to the queue
    LOST = "lost"  # the worker stopped heartbeating


class RunAttempt(Base):
    """One claim of a run by a worker, and how that claim ended."""

    __tablename__ = "run_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[AttemptOutcome] = mapped_column(_str_enum(AttemptOutcome, 16))
    detail: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (UniqueConstraint("run_id", "attempt"),)


class Worker(Base):
    """A worker process, so the Workers page can show who is alive and doing what."""

    __tablename__ = "workers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    device: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    current_run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))


class Report(Base):
    """A frozen view: the runs, settings, note and figures as they were when it was saved.

    Nothing here points at live rows (no foreign keys): a report still opens after its runs
    change or are deleted. `id` is a short random token, so report links cannot be enumerated.
    """

    __tablename__ = "reports"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    figures: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )

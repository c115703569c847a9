"""Tables: runs, their metrics (per epoch and per step), their stored artifacts, searches."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
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
from sqlalchemy.dialects.postgresql import JSONB
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
    PRUNED = "pruned"  # a search's pruner stopped it early as hopeless (see experiment/sampling.py)

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset(
    {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.PRUNED}
)


class StopReason(enum.StrEnum):
    """Why a run ended; `Run.stop_detail` adds the epochs in words."""

    COMPLETED = "completed"
    EARLY_STOPPING = "early_stopping"
    MIN_ACCURACY = "min_accuracy"
    FAILED = "failed"
    CANCELLED = "cancelled"
    WORKER_LOST = "worker_lost"
    IMPORTED = "imported"
    PRUNED = "pruned"  # stop_detail: the epoch and the pruner's reason
    REUSED = "reused"  # a search trial identical to a trained run: its result, no training


class RunSource(enum.StrEnum):
    """Where a run came from; only queued runs are ever claimed, requeued or re-run."""

    QUEUED = "queued"  # from the Queue form, a YAML file or a re-run; a worker trains it
    SCRIPT = "script"  # a user's own training script logged it (it trains itself)
    IMPORT = "import"  # imported from TensorBoard or CSVLogger files; read-only


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
    source: Mapped[RunSource] = mapped_column(
        _str_enum(RunSource, 16), default=RunSource.QUEUED, server_default=RunSource.QUEUED.value
    )
    # sha256 of the files an imported run was read from: the same files are not imported twice.
    import_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    # A script's run (trainer/tracking.py): the key the script named it by before it reached
    # the database; its spooled records find the run by it, so a replay is harmless.
    client_key: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    # sha256 of the config without name/tags/priority/study: equal hashes train the same thing.
    config_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)

    # Key hyper-parameters copied out of `config` so lists and filters need no JSON queries.
    # Queued runs have them all; a script's or an imported run's config is any JSON, so there
    # they are NULL unless its config names them (experiment/foreign.py).
    dataset: Mapped[str | None] = mapped_column(String(1000))
    architecture: Mapped[str | None] = mapped_column(String(200))  # or "package.module:function"
    optimizer: Mapped[str | None] = mapped_column(String(32))
    learning_rate: Mapped[float | None] = mapped_column(Float)
    batch_size: Mapped[int | None] = mapped_column(Integer)
    epochs: Mapped[int] = mapped_column(Integer)
    image_size: Mapped[int | None] = mapped_column(Integer)
    augmented: Mapped[bool | None] = mapped_column(Boolean)
    seed: Mapped[int | None] = mapped_column(Integer)

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

    # A search's trial: its number (1-based) in the search, the sampled values by dotted field
    # name, and the sampler's/pruner's bookkeeping (Optuna system attrs such as grid ids and
    # Hyperband rungs), so the whole study is rebuilt from this table (experiment/sampling.py).
    search_id: Mapped[int | None] = mapped_column(ForeignKey("searches.id", ondelete="SET NULL"))
    trial: Mapped[int | None] = mapped_column(Integer)
    trial_params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    trial_attrs: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # A trial whose config had already been trained: the run whose result it reuses.
    reused_from: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))

    # Only the lab's own runs wait in the queue: a claim never sees a script's or an import.
    __table_args__ = (
        CheckConstraint(
            f"status <> '{RunStatus.QUEUED.value}' OR source = '{RunSource.QUEUED.value}'",
            name="only_queued_source_queues",
        ),
    )


# In claim order (db/queue.py CLAIM_ORDER: priority DESC, created_at, id), so a claim reads the
# first queued entry of the index instead of sorting every queued run.
Index("ix_runs_claim_order", Run.status, Run.priority.desc(), Run.created_at, Run.id)
# A unique index rather than a constraint: SQLite adds an index in place, while a constraint
# would copy the whole runs table (see migration 0008).
Index("uq_runs_search_trial", Run.search_id, Run.trial, unique=True)
Index("uq_runs_client_key", Run.client_key, unique=True)


# Metric values as one JSON object per epoch or step (JSONB on PostgreSQL): any names, one
# row written per epoch, and a 200-run Compare view reads the names it wants as columns in one
# query (`JSON_EXTRACT` / `->>`), with about half the CPU of one row per value pivoted in
# Python (bench.dashboard, bench/RESULTS.md).
METRICS_JSON = JSON().with_variant(JSONB(), "postgresql")


class EpochMetric(Base):
    """Every metric of one epoch of a run; the unique constraint makes a replayed epoch an error.

    `metrics` maps names to numbers, None for a value that was logged but not finite (NaN);
    a name that was not logged is absent. Epochs count from 1.
    """

    __tablename__ = "epoch_metrics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    epoch: Mapped[int] = mapped_column(Integer)
    metrics: Mapped[dict[str, float | None]] = mapped_column(METRICS_JSON, default=dict)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    # The database's clock when a worker wrote the epoch; the log's own time for an import
    # (NULL when the log has none, as in a CSVLogger file).
    recorded_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (UniqueConstraint("run_id", "epoch"),)


class StepMetric(Base):
    """Per-batch values of a run at one global step (batches since the first), any names."""

    __tablename__ = "step_metrics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(BigInteger)  # TensorBoard steps are 64-bit
    metrics: Mapped[dict[str, float | None]] = mapped_column(METRICS_JSON, default=dict)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    recorded_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (UniqueConstraint("run_id", "step"),)


class MetricAxis(enum.StrEnum):
    EPOCH = "epoch"
    STEP = "step"


class MetricSeries(Base):
    """Which metric names a run has on each axis, so pickers need not scan every value."""

    __tablename__ = "metric_series"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    axis: Mapped[MetricAxis] = mapped_column(_str_enum(MetricAxis, 8))
    name: Mapped[str] = mapped_column(String(200))

    __table_args__ = (UniqueConstraint("run_id", "axis", "name"),)


class ArtifactKind(enum.StrEnum):
    MODEL = "model"
    CHECKPOINT = "checkpoint"


class StoreKind(enum.StrEnum):
    """Where an artifact's bytes are: `artifact_blobs` here, or an artifact folder/URL."""

    DATABASE = "database"
    FOLDER = "folder"


class Artifact(Base):
    """A run's current model or checkpoint: a pointer into a store, its size and sha256.

    The bytes live elsewhere (db/artifact_store.py), so a new checkpoint is stored first and
    the pointer moves in the epoch's own short transaction.
    """

    __tablename__ = "artifacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    kind: Mapped[ArtifactKind] = mapped_column(_str_enum(ArtifactKind, 16))
    store: Mapped[StoreKind] = mapped_column(_str_enum(StoreKind, 16))
    # The object's key in its store, e.g. runs/12/model-a1.keras (relative to the
    # artifact folder, so machines that mount it at different paths agree).
    location: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (UniqueConstraint("run_id", "kind"),)


class ArtifactBlob(Base):
    """The bytes of artifacts kept in the database store, by key (a pointer's `location`)."""

    __tablename__ = "artifact_blobs"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


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
    PRUNED = "pruned"
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


class SearchState(enum.StrEnum):
    RUNNING = "running"  # trials are queued as others finish, until the budget is used
    DONE = "done"  # `budget` trials finished
    CANCELLED = "cancelled"


class Search(Base):
    """A hyper-parameter search: one study whose trials are runs (`Run.search_id`).

    `spec` holds the validated search section and the base config (experiment/search_space.py);
    the runs table holds everything the trials learned, so nothing here duplicates them.
    """

    __tablename__ = "searches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)  # also its runs' study
    state: Mapped[SearchState] = mapped_column(
        _str_enum(SearchState, 16), default=SearchState.RUNNING
    )
    metric: Mapped[str] = mapped_column(String(100))
    direction: Mapped[str] = mapped_column(String(8))
    budget: Mapped[int] = mapped_column(Integer)
    parallel: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# Slurm's job states as squeue prints them (man squeue, JOB STATE CODES) in which a job is over;
# `UNKNOWN` is ours: Slurm no longer lists the job and nobody saw how it ended.
SLURM_FINAL_STATES = frozenset(
    {
        "BOOT_FAIL",
        "CANCELLED",
        "COMPLETED",
        "DEADLINE",
        "FAILED",
        "NODE_FAIL",
        "OUT_OF_MEMORY",
        "PREEMPTED",
        "REVOKED",
        "TIMEOUT",
        "UNKNOWN",
    }
)


class SlurmDispatcher(Base):
    """A `python -m trainer slurm dispatch` process; a restart with the same name reuses the row.

    `last_error` is sbatch's message from the latest failed submission (or why submissions
    are held back), kept until a submission succeeds, so a dashboard anywhere can show it.
    """

    __tablename__ = "slurm_dispatchers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    template: Mapped[str] = mapped_column(String(1000))
    partition: Mapped[str | None] = mapped_column(String(200))
    max_jobs: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    error_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error_count: Mapped[int] = mapped_column(Integer, default=0)


class SlurmJob(Base):
    """One Slurm job running a worker: submitted by a dispatcher, or seen when its worker claims.

    `state` is Slurm's own state name (PENDING, RUNNING, TIMEOUT, ...; a string, not an enum,
    because Slurm versions add states), `reason` its pending or end reason, `exit_code`
    Slurm's "exit:signal". `run_id`/`attempt` are the run the job's worker claimed last, and
    `note` what the lab did about the job (cancelled it as surplus, requeued its run).
    """

    __tablename__ = "slurm_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(64), unique=True)
    dispatcher_id: Mapped[int | None] = mapped_column(
        ForeignKey("slurm_dispatchers.id", ondelete="SET NULL")
    )
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("runs.id", ondelete="SET NULL"), index=True
    )
    attempt: Mapped[int | None] = mapped_column(Integer)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(200))
    node: Mapped[str | None] = mapped_column(String(200))
    log_path: Mapped[str | None] = mapped_column(String(1000))
    exit_code: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(500))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # NULL while the job may still run: the dispatcher follows exactly these rows.
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

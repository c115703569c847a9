"""A worker's writes for the one run it holds, each in its own short transaction, all fenced."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from db import artifacts, evaluation, metrics, phases, queue, workers
from db.entities import EpochRecord, PredictionRecord, TrainingPhase
from db.models import ArtifactKind, RunStatus, StopReason
from db.session import Database
from trainer.checkpoint import Checkpoint, unpack


class RunReporter:
    """Binds a database, a run id and the attempt that fences every write for that run."""

    def __init__(
        self, database: Database, run_id: int, attempt: int, worker_id: int | None = None
    ) -> None:
        self.database = database
        self.run_id = run_id
        self.attempt = attempt
        self.worker_id = worker_id

    def record_epoch(self, record: EpochRecord) -> bool:
        with self.database.begin() as session:
            return metrics.record_epoch(session, self.run_id, self.attempt, record)

    def commit_epoch(self, record: EpochRecord, checkpoint: bytes) -> bool:
        """An epoch's metrics and its checkpoint, together or not at all."""
        with self.database.begin() as session:
            if not metrics.record_epoch(session, self.run_id, self.attempt, record):
                return False
            meta = {"epoch": record.epoch}
            return artifacts.save_artifact(
                session, self.run_id, self.attempt, ArtifactKind.CHECKPOINT, checkpoint, meta
            )

    def load_checkpoint(self) -> Checkpoint | None:
        with self.database.read() as session:
            stored = artifacts.load_artifact(session, self.run_id, ArtifactKind.CHECKPOINT)
        return unpack(stored.data) if stored is not None else None

    def reset_progress(self) -> bool:
        with self.database.begin() as session:
            return metrics.reset_progress(session, self.run_id, self.attempt)

    def heartbeat(self) -> queue.Heartbeat:
        """Renew the run's lease and the worker's liveness in one short transaction."""
        with self.database.begin() as session:
            beat = queue.heartbeat(session, self.run_id, self.attempt)
            if self.worker_id is not None:
                workers.beat_worker(session, self.worker_id, self.run_id if beat.held else None)
            return beat

    def set_info(
        self,
        *,
        class_names: Sequence[str] | None = None,
        environment: dict[str, Any] | None = None,
        warnings: Sequence[str] | None = None,
    ) -> bool:
        with self.database.begin() as session:
            return queue.set_run_info(
                session,
                self.run_id,
                self.attempt,
                class_names=class_names,
                environment=environment,
                warnings=warnings,
            )

    def save_artifact(self, kind: ArtifactKind, data: bytes, meta: dict[str, Any]) -> bool:
        with self.database.begin() as session:
            return artifacts.save_artifact(session, self.run_id, self.attempt, kind, data, meta)

    def save_evaluation(
        self,
        summary: dict[str, Any],
        predictions: Sequence[PredictionRecord],
        thumbnails: Sequence[bytes | None],
    ) -> bool:
        with self.database.begin() as session:
            return evaluation.save_evaluation(
                session, self.run_id, self.attempt, summary, predictions, thumbnails
            )

    def finish(
        self,
        status: RunStatus,
        stop_reason: StopReason,
        stop_detail: str | None = None,
        error: str | None = None,
    ) -> bool:
        with self.database.begin() as session:
            finished = queue.finish_run(
                session,
                self.run_id,
                self.attempt,
                status=status,
                stop_reason=stop_reason,
                stop_detail=stop_detail,
                error=error,
            )
            if finished:  # the run is over: its resume point is no longer needed
                artifacts.delete_artifact(session, self.run_id, ArtifactKind.CHECKPOINT)
            return finished

    def release(self) -> bool:
        with self.database.begin() as session:
            return queue.release_run(session, self.run_id, self.attempt)

    def record_phase(self, phase: TrainingPhase) -> bool:
        """A training phase begins (frozen backbone, fine-tuning), with its parameter counts."""
        with self.database.begin() as session:
            return phases.record_phase(session, self.run_id, self.attempt, phase)

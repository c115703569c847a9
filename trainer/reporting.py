"""A worker's writes for the one run it holds, each in its own short transaction, all fenced.

Every write can be repeated: a commit whose acknowledgement was cut off is replayed by the run's
link (trainer/link.py), and each method first checks whether its write already landed (by run,
attempt and epoch), so nothing is written twice. Artifacts are stored in the artifact store
first, outside any transaction; the pointer to them then moves with the write it belongs to.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from db import artifacts, evaluation, metrics, phases, queue, workers
from db.artifact_store import ArtifactStore, DatabaseStore
from db.entities import EpochRecord, PredictionRecord, StoredObject, TrainingPhase
from db.models import ArtifactKind, AttemptOutcome, RunStatus, StopReason, StoreKind
from db.session import Database
from trainer.checkpoint import Checkpoint, unpack

# Workers seen within this long count as running on the machine (idle ones beat every 2 s).
_PEER_WINDOW = timedelta(seconds=60)
log = logging.getLogger("trainer.reporting")


class RunReporter:
    """Binds a database, an artifact store, a run id and the attempt that fences every write."""

    def __init__(
        self,
        database: Database,
        run_id: int,
        attempt: int,
        worker_id: int | None = None,
        store: ArtifactStore | None = None,
    ) -> None:
        self.database = database
        self.run_id = run_id
        self.attempt = attempt
        self.worker_id = worker_id
        self.store = store if store is not None else DatabaseStore(database)

    def record_epoch(self, record: EpochRecord) -> bool:
        return self.commit_epoch(record, None)

    def commit_epoch(self, record: EpochRecord, checkpoint: Path | bytes | None) -> bool:
        """An epoch's metrics and, when given, its checkpoint.

        The checkpoint is stored first, in its own step; the epoch row and the pointer to the
        checkpoint then commit together, so a row never runs ahead of a stored checkpoint and a
        crash in between resumes from the previous epoch. An epoch this attempt already wrote
        is not written again.
        """
        stored = None
        if checkpoint is not None:
            key = artifacts.artifact_key(
                self.run_id, ArtifactKind.CHECKPOINT, self.attempt, record.epoch
            )
            stored = self.store.put(self.run_id, key, checkpoint)
        orphan = None
        with self.database.begin() as session:
            if metrics.recorded_by(session, self.run_id, record.epoch) == self.attempt:
                return True  # a replay: the row and its checkpoint pointer landed together
            held = metrics.record_epoch(session, self.run_id, self.attempt, record)
            if held and stored is not None:
                meta = {"epoch": record.epoch}
                pointed = artifacts.point_artifact(
                    session, self.run_id, self.attempt, ArtifactKind.CHECKPOINT, stored, meta
                )
                held, orphan = pointed.held, pointed.orphan
        self._discard(orphan)
        if not held:
            self._discard(stored)  # uploaded by a worker that lost the run: nobody points at it
        return held

    def load_checkpoint(self) -> Checkpoint | None:
        with self.database.read() as session:
            stored = artifacts.load_artifact(
                session, self.run_id, ArtifactKind.CHECKPOINT, self.store
            )
        return unpack(stored.data) if stored is not None else None

    def reset_progress(self, keep_epochs: int = 0) -> bool:
        with self.database.begin() as session:
            return metrics.reset_progress(session, self.run_id, self.attempt, keep_epochs)

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

    def save_artifact(self, kind: ArtifactKind, data: Path | bytes, meta: dict[str, Any]) -> bool:
        """Store a file (the trained model) in the artifact store, then point the run at it."""
        key = artifacts.artifact_key(self.run_id, kind, self.attempt)
        stored = self.store.put(self.run_id, key, data)
        with self.database.begin() as session:
            pointed = artifacts.point_artifact(
                session, self.run_id, self.attempt, kind, stored, meta
            )
        self._discard(pointed.orphan)
        if not pointed.held:
            self._discard(stored)
        return pointed.held

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
        """End the run; True also when a cut-off earlier try of this same finish had landed."""
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
            if not finished:
                outcome = queue.attempt_outcome(session, self.run_id, self.attempt)
                return outcome == AttemptOutcome(status.value)
            # The run is over: its resume point is no longer needed.
            orphan = artifacts.delete_artifact(session, self.run_id, ArtifactKind.CHECKPOINT)
            model = artifacts.artifact_pointer(session, self.run_id, ArtifactKind.MODEL)
        self._discard(orphan)
        self._prune({model.location} if model is not None else set())
        return True

    def release(self) -> bool:
        """Hand the run back; True also when a cut-off earlier try had landed."""
        with self.database.begin() as session:
            if queue.release_run(session, self.run_id, self.attempt):
                return True
            outcome = queue.attempt_outcome(session, self.run_id, self.attempt)
            return outcome in (AttemptOutcome.HANDED_BACK, AttemptOutcome.CANCELLED)

    def workers_on_host(self) -> int:
        """Running workers on this worker's machine, itself included; 1 when not registered."""
        if self.worker_id is None:
            return 1
        with self.database.read() as session:
            return workers.workers_on_host(session, self.worker_id, _PEER_WINDOW)

    def _discard(self, stored: StoredObject | None) -> None:
        """Delete an object nobody points at any more; a failure leaves it for `_prune`."""
        if stored is None:
            return
        if stored.store is self.store.kind:
            store = self.store
        elif stored.store is StoreKind.DATABASE:  # stored before LAB_ARTIFACTS was set
            store = DatabaseStore(self.database)
        else:  # in a folder this process was not given (LAB_ARTIFACTS unset since): leave it
            return
        try:
            store.delete(stored.location)
        except Exception as error:  # garbage is harmless; the run's deletion removes it
            log.warning("run %s: could not delete %s: %s", self.run_id, stored.location, error)

    def _prune(self, keep: set[str]) -> None:
        """Objects a crash left between storing and pointing go once the run is over."""
        try:
            self.store.prune(self.run_id, keep)
        except Exception as error:
            log.warning("run %s: could not prune its stored objects: %s", self.run_id, error)

    def record_phase(self, phase: TrainingPhase) -> bool:
        """A training phase begins (frozen backbone, fine-tuning), with its parameter counts."""
        with self.database.begin() as session:
            return phases.record_phase(session, self.run_id, self.attempt, phase)

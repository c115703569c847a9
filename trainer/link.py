"""A run's link to the database: training appends its writes to an outbox, a thread sends them.

Training never waits for the database. Each write (an epoch's metrics with its checkpoint, the
run's info, the evaluation, the model, the final status) is appended to the run's outbox
(trainer/outbox.py) on local disk and the link's thread applies them in order through the
fenced `RunReporter`, heartbeating every `interval` seconds, before and between them. When the
database does not answer, the records wait (only the latest checkpoint is kept) and the thread
retries with back-off, logging at most once a minute. When it answers again, the thread first
heartbeats: if the run's lease was taken over meanwhile, it drops the buffered writes and the
training stops (`heartbeat().held` turns False); otherwise it writes the backlog, heartbeating
between records so a long flush never looks like a lost worker.

The record kinds below are plain data naming their run and attempt, and applying one twice is
harmless (RunReporter checks whether a write already landed).
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import socket
import threading
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from db.entities import EpochRecord, PredictionRecord, TrainingPhase
from db.models import ArtifactKind, RunStatus, StopReason
from db.queue import Heartbeat
from trainer.checkpoint import Checkpoint
from trainer.outage import Outage, is_transient
from trainer.outbox import Outbox, Record
from trainer.reporting import RunReporter

log = logging.getLogger("trainer.link")

CHECKPOINT_SLOT = "checkpoint"
# Writes after which the attempt no longer holds the run, by its own doing.
FINAL_KINDS = frozenset({"finish", "release"})


class RunLink:
    """The run's writes, kept in order and sent by a thread; what `train()` writes through.

    Use `RunLink.open(...)` (a context manager that starts and stops the thread). Writing
    methods return False only once the run is known lost; `settle()` waits for the backlog.
    """

    def __init__(
        self,
        reporter: RunReporter,
        outbox: Outbox,
        *,
        interval: float = 2.0,
        backoff_most: float = 5.0,
    ) -> None:
        self.reporter = reporter
        self.outbox = outbox
        self._interval = interval
        self._what = f"run {reporter.run_id}"
        self._outage = Outage(log, self._what, most=backoff_most)
        self._state = Heartbeat(held=True)
        self._lost = False
        self._ended = False  # a final write landed: nothing more to send or renew
        self._changed = threading.Condition()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"run-{reporter.run_id}-link", daemon=True
        )

    @classmethod
    @contextmanager
    def open(cls, reporter: RunReporter, spool: Path, **options: Any) -> Iterator[RunLink]:
        """A link with its own outbox under `spool`, removed when the block ends."""
        outbox = Outbox(spool / outbox_name(reporter.run_id, reporter.attempt))
        link = cls(reporter, outbox, **options)
        link._thread.start()
        try:
            yield link
        finally:
            link.close()
            outbox.remove()

    @property
    def run_id(self) -> int:
        return self.reporter.run_id

    @property
    def attempt(self) -> int:
        return self.reporter.attempt

    @property
    def lost(self) -> bool:
        """The run is no longer ours (taken over, or its writes failed for good)."""
        return self._lost

    # --- what training calls: never blocks on the database ---------------------------------

    def heartbeat(self) -> Heartbeat:
        """The latest heartbeat's answer (held while the database is away)."""
        return self._state

    def workers_on_host(self) -> int:
        """Workers running on this machine (a run's memory budget is split by it); 1 while the
        database cannot say."""
        try:
            return self.reporter.workers_on_host()
        except SQLAlchemyError as error:
            log.info("%s: workers on this host unknown (%s); counting 1", self._what, error)
            return 1

    def scratch(self, suffix: str) -> Path:
        """Where to write a file (checkpoint, model) before handing it to a write below."""
        return self.outbox.scratch(suffix)

    def reset_progress(self, keep_epochs: int = 0) -> bool:
        return self._append("reset", {"keep_epochs": keep_epochs})

    def set_info(
        self,
        *,
        class_names: Sequence[str] | None = None,
        environment: dict[str, Any] | None = None,
        warnings: Sequence[str] | None = None,
    ) -> bool:
        info = {
            "class_names": list(class_names) if class_names is not None else None,
            "environment": environment,
            "warnings": list(warnings) if warnings is not None else None,
        }
        return self._append("info", info)

    def record_phase(self, phase: TrainingPhase) -> bool:
        """A training phase begins (frozen backbone, fine-tuning), with its parameter counts."""
        return self._append("phase", {"phase": phase.to_json()})

    def commit_epoch(self, record: EpochRecord, checkpoint: Path | None) -> bool:
        """Keep the epoch's metrics and its checkpoint file (which replaces older kept ones)."""
        return self._append("epoch", {"record": asdict(record)}, checkpoint, CHECKPOINT_SLOT)

    def save_evaluation(
        self,
        summary: dict[str, Any],
        predictions: Sequence[PredictionRecord],
        thumbnails: Sequence[bytes | None],
    ) -> bool:
        data = {"summary": summary, "predictions": [asdict(p) for p in predictions]}
        return self._append("evaluation", data, _zip_thumbnails(thumbnails))

    def save_model(self, model_file: Path, meta: dict[str, Any]) -> bool:
        return self._append("model", {"meta": meta}, model_file)

    def finish(
        self,
        status: RunStatus,
        stop_reason: StopReason,
        stop_detail: str | None = None,
        error: str | None = None,
    ) -> bool:
        values = {"status": status.value, "stop_reason": stop_reason.value}
        return self._append("finish", {**values, "stop_detail": stop_detail, "error": error})

    def release(self) -> bool:
        return self._append("release", {})

    def load_checkpoint(self) -> Checkpoint | None:
        """The run's stored checkpoint, waiting (with back-off) while the database is away."""
        outage = Outage(log, f"{self._what} (reading its checkpoint)")
        while not self._lost and not self._stop.is_set():
            try:
                checkpoint = self.reporter.load_checkpoint()
            except Exception as error:
                if not is_transient(error):
                    raise
                self._stop.wait(outage.failed(error))
                continue
            outage.recovered()
            return checkpoint
        return None

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until every write is in the database (True), the run is lost or time is up."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while len(self.outbox) and not self._lost:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._changed.wait(left if left is not None else 1.0)
            return not self._lost

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join()
        self.outbox.close()

    def _append(
        self,
        kind: str,
        data: dict[str, Any],
        blob: Path | bytes | None = None,
        slot: str | None = None,
    ) -> bool:
        if self._lost:
            return False
        fenced = {"run": self.run_id, "attempt": self.attempt, **data}
        self.outbox.append(kind, fenced, blob=blob, slot=slot)
        self._wake.set()
        return True

    # --- the sending thread -----------------------------------------------------------------

    def _run(self) -> None:
        next_beat = 0.0
        while not self._stop.is_set() and not self._lost and not self._ended:
            self._wake.clear()  # before looking: an append from now on cuts the wait short
            wait = self._interval
            try:
                if self._outage.down or time.monotonic() >= next_beat:
                    self._beat()  # after an outage, first: is the run still ours?
                    next_beat = time.monotonic() + self._interval
                while not self._lost and (record := self.outbox.head()) is not None:
                    self._deliver(record)
                    if time.monotonic() >= next_beat:  # a long backlog: keep the lease fresh
                        self._beat()
                        next_beat = time.monotonic() + self._interval
                if self._outage.down:
                    self._outage.recovered("buffered writes sent")
                wait = max(0.0, next_beat - time.monotonic())
            except Exception as error:
                if not is_transient(error):
                    self._lose(f"writing it failed: {type(error).__name__}: {error}", error)
                    break
                wait = self._outage.failed(error, f"{len(self.outbox)} write(s) kept locally")
            self._wake.wait(wait)
        self._notify()

    def _beat(self) -> None:
        if self._ended:
            return
        beat = self.reporter.heartbeat()
        if beat.held:
            self._state = beat
        elif not self._final_write_landed():
            self._lose("its lease was taken over")

    def _final_write_landed(self) -> bool:
        """The lease is gone; was it our own final write, whose answer was cut off?"""
        record = self.outbox.head()
        if record is None:
            return False
        if record.kind in FINAL_KINDS and apply_record(self.reporter, record, None):
            self._done(record)
            return True
        self.outbox.failed(record)
        return False

    def _deliver(self, record: Record) -> None:
        try:
            accepted = apply_record(self.reporter, record, self.outbox.blob_path(record))
        except BaseException:
            self.outbox.failed(record)
            raise
        if not accepted:
            self.outbox.failed(record)
            self._lose("the database refused its write (lease taken over)")
            return
        self._done(record)

    def _done(self, record: Record) -> None:
        self.outbox.done(record)
        if record.kind in FINAL_KINDS:
            self._ended = True
        self._notify()

    def _lose(self, why: str, error: BaseException | None = None) -> None:
        self._state = Heartbeat(held=False)
        self._lost = True
        dropped = self.outbox.drop()
        log.warning(
            "%s attempt %s: %s; dropped %d buffered write(s) and stopping the run here",
            self._what,
            self.attempt,
            why,
            dropped,
            exc_info=error,
        )
        self._notify()

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()


# --- the worker's record kinds --------------------------------------------------------------


def _apply_reset(reporter: RunReporter, data: dict[str, Any], _file: Path | None) -> bool:
    return reporter.reset_progress(int(data["keep_epochs"]))


def _apply_info(reporter: RunReporter, data: dict[str, Any], _file: Path | None) -> bool:
    return reporter.set_info(
        class_names=data["class_names"], environment=data["environment"], warnings=data["warnings"]
    )


def _apply_phase(reporter: RunReporter, data: dict[str, Any], _file: Path | None) -> bool:
    return reporter.record_phase(TrainingPhase.from_json(data["phase"]))


def _apply_epoch(reporter: RunReporter, data: dict[str, Any], file: Path | None) -> bool:
    return reporter.commit_epoch(EpochRecord(**data["record"]), file)


def _apply_evaluation(reporter: RunReporter, data: dict[str, Any], file: Path | None) -> bool:
    predictions = [
        PredictionRecord(**{**p, "probabilities": tuple(p["probabilities"])})
        for p in data["predictions"]
    ]
    thumbnails = _unzip_thumbnails(file, len(predictions))
    return reporter.save_evaluation(data["summary"], predictions, thumbnails)


def _apply_model(reporter: RunReporter, data: dict[str, Any], file: Path | None) -> bool:
    assert file is not None, "a model record carries its file"
    return reporter.save_artifact(ArtifactKind.MODEL, file, data["meta"])


def _apply_finish(reporter: RunReporter, data: dict[str, Any], _file: Path | None) -> bool:
    return reporter.finish(
        RunStatus(data["status"]),
        StopReason(data["stop_reason"]),
        data["stop_detail"],
        data["error"],
    )


def _apply_release(reporter: RunReporter, _data: dict[str, Any], _file: Path | None) -> bool:
    return reporter.release()


APPLY: dict[str, Callable[[RunReporter, dict[str, Any], Path | None], bool]] = {
    "reset": _apply_reset,
    "info": _apply_info,
    "phase": _apply_phase,
    "epoch": _apply_epoch,
    "evaluation": _apply_evaluation,
    "model": _apply_model,
    "finish": _apply_finish,
    "release": _apply_release,
}


def apply_record(reporter: RunReporter, record: Record, file: Path | None) -> bool:
    """Write one record through `reporter` (which must be its run and attempt); idempotent."""
    data = record.data
    if (data.get("run"), data.get("attempt")) != (reporter.run_id, reporter.attempt):
        raise ValueError(f"record {record.seq} belongs to another run or attempt")
    return APPLY[record.kind](reporter, data, file)


def _zip_thumbnails(thumbnails: Sequence[bytes | None]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for position, data in enumerate(thumbnails):
            if data is not None:
                archive.writestr(str(position), data)
    return buffer.getvalue()


def _unzip_thumbnails(file: Path | None, count: int) -> list[bytes | None]:
    found: dict[str, bytes] = {}
    if file is not None:
        with zipfile.ZipFile(file) as archive:
            found = {name: archive.read(name) for name in archive.namelist()}
    return [found.get(str(position)) for position in range(count)]


# --- outbox folders of this machine's workers -----------------------------------------------


def outbox_name(run_id: int, attempt: int) -> str:
    """`run-12-a1-host-4242`: whose outbox it is, so leftovers of dead processes are found."""
    return f"run-{run_id}-a{attempt}-{socket.gethostname()}-{os.getpid()}"


def remove_stale_outboxes(spool: Path) -> list[Path]:
    """Delete outboxes that killed workers of this host left (their runs' leases recover them).

    Returns the folders removed.
    """
    removed = []
    host = socket.gethostname()
    for folder in spool.glob("run-*"):
        _run, _id, _attempt, *rest = folder.name.split("-")
        if not rest or "-".join(rest[:-1]) != host or not rest[-1].isdigit():
            continue
        if not _alive(int(rest[-1])):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

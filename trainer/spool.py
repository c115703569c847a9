"""A script's run on its way to the database: records in an outbox, sent by a thread or later.

`LabCallback` (trainer/tracking.py) appends every write to an outbox (trainer/outbox.py) in
the spool folder, one folder per run key, and a `ScriptLink` thread sends them in order. When
the database does not answer, the records stay on disk; `python -m trainer sync`
(trainer/sync_command.py) replays the folders later with the same `apply_record`. Each
record names the run by its client key and applying one twice is harmless (db/scripts.py).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from db.artifact_store import ArtifactStore, open_store
from db.artifacts import artifact_key, point_artifact
from db.entities import NewRun
from db.migrate import check_schema
from db.models import ArtifactKind, RunSource, RunStatus, StopReason
from db.scripts import (
    SCRIPT_ATTEMPT,
    FitStart,
    beat_script_run,
    finish_fit,
    record_fit_epoch,
    record_fit_steps,
    script_run_id,
    start_fit,
)
from db.session import Database, describe_unavailable
from experiment.foreign import knob_values
from trainer.outage import is_transient
from trainer.outbox import Outbox, Record

SYNC_COMMAND = "python -m trainer sync"


class ScriptRunError(RuntimeError):
    """A record cannot be written (it names no started run, say); retrying will not help."""


def new_run(data: dict[str, Any]) -> NewRun:
    """The run a start record creates: its name, grouping and config, knobs from the config."""
    config = dict(data["config"])
    knobs = knob_values(config)
    return NewRun(
        name=str(data["name"]),
        config=config,
        dataset=knobs.get("dataset"),
        architecture=knobs.get("architecture"),
        optimizer=knobs.get("optimizer"),
        learning_rate=knobs.get("learning_rate"),
        batch_size=knobs.get("batch_size"),
        epochs=int(data.get("epochs") or 0),
        image_size=knobs.get("image_size"),
        augmented=None,
        seed=knobs.get("seed"),
        tags=tuple(data.get("tags") or ()),
        study=data.get("study"),
        source=RunSource.SCRIPT,
    )


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def apply_record(
    database: Database, store: ArtifactStore, record: Record, file: Path | None
) -> bool:
    """Write one spooled record; True once the database has it (also when it already had)."""
    data = record.data
    key = str(data["key"])
    try:
        if record.kind == "model":
            return _apply_model(database, store, key, data, file)
        with database.begin() as session:
            if record.kind == "start":
                start_fit(session, key, _fit_start(data))
            elif record.kind == "epoch":
                record_fit_epoch(
                    session, key, data["fit"], int(data["fit_epoch"]), data["metrics"],
                    _when(data.get("recorded_at")),
                )  # fmt: skip
            elif record.kind == "steps":
                steps = [(int(s), values, _when(at)) for s, values, at in data["steps"]]
                record_fit_steps(session, key, data["fit"], steps)
            elif record.kind == "finish":
                finish_fit(
                    session,
                    key,
                    data["fit"],
                    status=RunStatus(data["status"]),
                    stop_reason=StopReason(data["stop_reason"]),
                    stop_detail=data.get("stop_detail"),
                    error=data.get("error"),
                    finished_at=_when(data["finished_at"]) or datetime.now().astimezone(),
                )
            else:
                raise ScriptRunError(f"record {record.seq} is of an unknown kind {record.kind!r}")
    except LookupError as error:
        raise ScriptRunError(f"run {key}: {error}") from None
    return True


def _fit_start(data: dict[str, Any]) -> FitStart:
    started = _when(data["started_at"])
    assert started is not None
    return FitStart(
        fit=str(data["fit"]),
        new=new_run(data),
        started_at=started,
        initial_epoch=int(data["initial_epoch"]),
        epochs=int(data["epochs"]),
        steps_per_epoch=data.get("steps_per_epoch"),
        total_params=data.get("total_params"),
        trainable_params=data.get("trainable_params"),
        learning_rate=data.get("learning_rate"),
        environment=data.get("environment") or {},
    )


def _apply_model(
    database: Database, store: ArtifactStore, key: str, data: dict[str, Any], file: Path | None
) -> bool:
    """Store the model's bytes, then point the (still running) run at them."""
    if file is None:
        raise ScriptRunError(f"run {key}: the model record lost its file")
    with database.read() as session:
        run_id = script_run_id(session, key)
    if run_id is None:
        raise ScriptRunError(f"run {key} was never started")
    location = artifact_key(run_id, ArtifactKind.MODEL, SCRIPT_ATTEMPT)
    stored = store.put(run_id, location, file)
    with database.begin() as session:
        pointed = point_artifact(
            session, run_id, SCRIPT_ATTEMPT, ArtifactKind.MODEL, stored, data["meta"]
        )
    if pointed.orphan is not None:
        store.delete(pointed.orphan.location)
    if not pointed.held:
        raise ScriptRunError(f"run {key} ({run_id}) is not running: its model was not stored")
    return True


class ScriptLink:
    """Sends a script run's outbox in a thread, heartbeating while the script trains.

    Training never waits for it: `append` writes a line to local disk. When the database does
    not answer, the thread retries with back-off (0.5 s doubling to `most`); on an error
    retrying cannot fix (a schema that needs `python -m db upgrade`, say) it stops sending.
    Either way the records stay in the spool and the script is told once, in one line.
    """

    def __init__(
        self,
        outbox: Outbox,
        key: str,
        *,
        database_url: str,
        busy_timeout: float | None = None,
        artifacts: str | None = None,
        interval: float = 2.0,
        most: float = 10.0,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.outbox = outbox
        self.key = key
        self._url = database_url
        self._busy_timeout = busy_timeout
        self._artifacts = artifacts
        self._interval = interval
        self._most = most
        self._say = say or (lambda line: print(line, file=sys.stderr, flush=True))
        self._database: Database | None = None
        self._store: ArtifactStore | None = None
        self._delay = 0.5
        self.down: BaseException | None = None
        self.broken: BaseException | None = None
        self.run_id: int | None = None
        self._told = False
        self._training = False
        self._tries = 0
        self._changed = threading.Condition()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lab-{key}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def append(self, kind: str, data: dict[str, Any], blob: Path | bytes | None = None) -> None:
        self.outbox.append(kind, {"key": self.key, **data}, blob=blob)
        self._wake.set()

    def training(self, active: bool) -> None:
        """Heartbeat the run while a fit is on."""
        self._training = active
        self._wake.set()

    def settle(self, timeout: float) -> bool:
        """Wait until every record is sent (True), or the database failed once more since this
        call (False: the records stay spooled) or `timeout` seconds passed."""
        deadline = time.monotonic() + timeout
        with self._changed:
            tries = self._tries
            self._wake.set()  # a thread waiting out its back-off tries again now
            while len(self.outbox) and self.broken is None:
                if self.down is not None and self._tries > tries:
                    return False
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 1.0))
            return not len(self.outbox)

    def close(self) -> bool:
        """Stop the thread; remove the outbox folder if everything was sent (True), else keep
        it for `python -m trainer sync` and say so (once)."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        sent = not len(self.outbox)
        if sent:
            self.outbox.remove()
        else:
            self.outbox.close()
            self._tell(self.broken or self.down)
        if self._database is not None:
            self._database.dispose()
        return sent

    # --- the sending thread ----------------------------------------------------------------

    def _run(self) -> None:
        next_beat = 0.0
        while not self._stop.is_set() and self.broken is None:
            self._wake.clear()
            wait = self._interval
            try:
                database = self._connect()
                while (record := self.outbox.head()) is not None:
                    self._deliver(database, record)
                if self._training and time.monotonic() >= next_beat:
                    with database.begin() as session:
                        beat_script_run(session, self.key)
                    next_beat = time.monotonic() + self._interval
                if self.down is not None and self._told:
                    self._say(f"LabCallback: database back; run {self.key}'s spooled records sent")
                self.down = None
                self._delay = 0.5
            except Exception as error:
                if is_transient(error):
                    self.down = error
                    wait = self._delay
                    self._delay = min(self._delay * 2, self._most)
                else:
                    self.broken = error
                self._tell(error)
            with self._changed:
                self._tries += 1
                self._changed.notify_all()
            self._wake.wait(wait)

    def _connect(self) -> Database:
        if self._database is None:
            database = Database(self._url, busy_timeout=self._busy_timeout)
            try:
                database.check_connection()
                check_schema(database.engine)
            except BaseException:
                database.dispose()
                raise
            self._database = database
            self._store = open_store(self._artifacts, database)
        return self._database

    def _deliver(self, database: Database, record: Record) -> None:
        assert self._store is not None
        try:
            apply_record(database, self._store, record, self.outbox.blob_path(record))
        except BaseException:
            self.outbox.failed(record)
            raise
        self.outbox.done(record)
        if record.kind == "start" and self.run_id is None:
            with database.read() as session:
                self.run_id = script_run_id(session, self.key)

    def _tell(self, error: BaseException | None) -> None:
        """One line, once: the records are spooled, where, and how to send them."""
        if self._told or error is None:
            return
        self._told = True
        cause = describe_unavailable(error) if is_transient(error) else str(error)
        cause = (cause.splitlines() or [type(error).__name__])[0]
        where = _where(self._url)
        self._say(
            f"LabCallback: cannot write run {self.key} to {where} ({cause}); training goes on "
            f"and its records are spooled in {self.outbox.folder}; send them later with: "
            f"{SYNC_COMMAND}"
        )


def _where(url: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "DATABASE_URL"


def spooled_runs(spool: Path) -> list[Path]:
    """The run folders waiting in the spool, oldest first."""
    if not spool.is_dir():
        return []
    folders = [path for path in spool.iterdir() if path.is_dir() and (path / "lock").exists()]
    return sorted(folders, key=lambda path: (path.stat().st_mtime, path.name))

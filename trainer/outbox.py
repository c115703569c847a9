"""An ordered write-ahead outbox: writes kept on local disk until the database has them.

A folder holds `journal.jsonl`, one JSON record per line in the order they were made, the
files some records carry (`blobs/`: a checkpoint, a model, thumbnails) and `applied`, the
sequence number of the last record the database has. Records are plain data (a kind and a
JSON object), so any process can replay a folder: the worker's run link (trainer/link.py)
does while it trains, and a script's spool can be replayed later by a command. Replay stops
at the first record that fails and starts there again next time, so what it applies must be
idempotent: each kind's handler checks whether its write already landed (a commit whose
acknowledgement was lost), keyed by what the record names (run, attempt, epoch).

Files can be bounded by a `slot`: a record appended in a slot makes the files of earlier
pending records in that slot obsolete (only the latest checkpoint is kept); those records
replay without their file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

_JOURNAL = "journal.jsonl"
_APPLIED = "applied"
_BLOBS = "blobs"
_SCRATCH = "scratch"
_LOCK = "lock"


class OutboxError(RuntimeError):
    """The outbox folder is unusable (held by another process, or a record's file is gone)."""


@dataclass(frozen=True)
class Record:
    """One write, as plain data.

    Attributes:
        seq: position in the outbox, from 1; replay applies records in this order.
        kind: what the write is ("epoch", "finish", ...); the replayer maps it to a handler.
        data: the write's arguments as JSON values, naming everything the handler needs
            (the worker's records name their run and attempt).
        blob: file name under `blobs/` of the file the record carries, if any.
        slot: records in one slot share a bound: only the latest one keeps its file.
    """

    seq: int
    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    blob: str | None = None
    slot: str | None = None

    def to_json(self) -> str:
        values = {"seq": self.seq, "kind": self.kind, "data": self.data}
        if self.blob is not None:
            values["blob"] = self.blob
        if self.slot is not None:
            values["slot"] = self.slot
        return json.dumps(values, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, line: str) -> Record:
        values = json.loads(line)
        return cls(
            seq=int(values["seq"]),
            kind=str(values["kind"]),
            data=dict(values.get("data") or {}),
            blob=values.get("blob"),
            slot=values.get("slot"),
        )


class Outbox:
    """A folder of pending records; one process uses it at a time (an exclusive file lock).

    Thread-safe: a training thread appends while a sender thread takes the head, applies it
    and marks it done.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        (folder / _BLOBS).mkdir(parents=True, exist_ok=True)
        (folder / _SCRATCH).mkdir(exist_ok=True)
        self._lock_file: IO[str] | None = _lock(folder / _LOCK)
        self._mutex = threading.Lock()
        self._applied = _read_applied(folder / _APPLIED)
        self._pending = [r for r in _read_journal(folder / _JOURNAL) if r.seq > self._applied]
        # Start from a journal of exactly the pending records: applied ones and a torn last
        # line (a crash mid-append) go, so new lines never follow a broken one.
        _rewrite_journal(folder / _JOURNAL, self._pending)
        last = self._pending[-1].seq if self._pending else self._applied
        self._next = last + 1
        self._in_flight: int | None = None
        self._obsolete: set[int] = set()  # pending records whose file a later one replaced
        self._journal = (folder / _JOURNAL).open("a", encoding="utf-8")

    # --- writing ---------------------------------------------------------------------------

    def scratch(self, suffix: str = "") -> Path:
        """A fresh path inside the outbox to write a file into, then `append` it (a rename)."""
        return self.folder / _SCRATCH / f"{uuid.uuid4().hex}{suffix}"

    def append(
        self,
        kind: str,
        data: dict[str, Any],
        *,
        blob: Path | bytes | None = None,
        slot: str | None = None,
    ) -> Record:
        """Add a record after every earlier one, durably (the line is fsynced).

        `blob` is a file to carry (moved into the outbox: write it at `scratch()`) or bytes.
        """
        with self._mutex:
            seq = self._next
            name = None
            if blob is not None:
                suffix = "".join(Path(blob).suffixes) if isinstance(blob, Path) else ""
                name = f"{seq:08d}-{kind}{suffix}"
                _place(blob, self.folder / _BLOBS / name)
            record = Record(seq, kind, data, name, slot)
            self._journal.write(record.to_json() + "\n")
            self._journal.flush()
            os.fsync(self._journal.fileno())
            self._next += 1
            if slot is not None and name is not None:
                self._make_obsolete(slot)
            self._pending.append(record)
            return record

    def _make_obsolete(self, slot: str) -> None:
        """Earlier pending files in `slot` go now, except the one being applied (later)."""
        for record in self._pending:
            if record.slot == slot and record.blob and record.seq not in self._obsolete:
                self._obsolete.add(record.seq)
                if record.seq != self._in_flight:
                    self._remove_blob(record)

    # --- replaying -------------------------------------------------------------------------

    def __len__(self) -> int:
        with self._mutex:
            return len(self._pending)

    def pending(self) -> list[Record]:
        with self._mutex:
            return list(self._pending)

    def head(self) -> Record | None:
        """The oldest pending record, pinned (its file stays) until `done` or `failed`."""
        with self._mutex:
            if not self._pending:
                return None
            record = self._pending[0]
            self._in_flight = record.seq
            if record.seq in self._obsolete:
                return replace(record, blob=None)
            return record

    def blob_path(self, record: Record) -> Path | None:
        """The file `record` carries; None when it has none or a later one replaced it."""
        if record.blob is None:
            return None
        path = self.folder / _BLOBS / record.blob
        if path.exists():
            return path
        if record.slot is not None:  # replaced by a later record in its slot before a crash
            return None
        raise OutboxError(f"record {record.seq} ({record.kind}) lost its file {path}")

    def done(self, record: Record) -> None:
        """The database has `record` (the head): never apply it again."""
        with self._mutex:
            if not self._pending or self._pending[0].seq != record.seq:
                raise OutboxError(f"record {record.seq} is not the next one to apply")
            stored = self._pending.pop(0)
            _write_applied(self.folder / _APPLIED, record.seq)
            self._applied = record.seq
            self._in_flight = None
            self._obsolete.discard(record.seq)
            self._remove_blob(stored)
            if not self._pending:
                self._journal.truncate(0)  # everything applied: start the journal afresh

    def failed(self, record: Record) -> None:
        """Applying `record` failed; it stays the head. Its file goes if it was replaced."""
        with self._mutex:
            self._in_flight = None
            if record.seq in self._obsolete:
                for stored in self._pending:
                    if stored.seq == record.seq:
                        self._remove_blob(stored)

    def drop(self) -> int:
        """Forget every pending record and its file (the writes can never apply); how many."""
        with self._mutex:
            count = len(self._pending)
            for record in self._pending:
                self._remove_blob(record)
            if self._pending:
                last = self._pending[-1].seq
                _write_applied(self.folder / _APPLIED, last)
                self._applied = last
                self._journal.truncate(0)
            self._pending.clear()
            self._obsolete.clear()
            self._in_flight = None
            return count

    def _remove_blob(self, record: Record) -> None:
        if record.blob is not None:
            (self.folder / _BLOBS / record.blob).unlink(missing_ok=True)

    # --- lifetime --------------------------------------------------------------------------

    def close(self) -> None:
        with self._mutex:
            self._journal.close()
            if self._lock_file is not None:
                self._lock_file.close()  # releases the lock
                self._lock_file = None

    def remove(self) -> None:
        """Close and delete the whole folder (its writes landed or can never land)."""
        self.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def replay(outbox: Outbox, apply: Callable[[Record, Path | None], bool]) -> tuple[int, bool]:
    """Apply pending records in order until done or one is refused; raises what `apply` raises.

    `apply(record, file)` returns True once the write is in the database (or already was) and
    False when the database refuses it for good (a fenced write whose run moved on).
    Returns (records applied, whether every pending record was).
    """
    applied = 0
    while (record := outbox.head()) is not None:
        try:
            accepted = apply(record, outbox.blob_path(record))
        except BaseException:
            outbox.failed(record)
            raise
        if not accepted:
            outbox.failed(record)
            return applied, False
        outbox.done(record)
        applied += 1
    return applied, True


def _place(blob: Path | bytes, target: Path) -> None:
    if isinstance(blob, bytes):
        temporary = target.with_suffix(target.suffix + ".tmp")
        with temporary.open("wb") as handle:
            handle.write(blob)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    else:
        with blob.open("rb") as handle:  # the file's data reaches the disk before the journal
            os.fsync(handle.fileno())
        os.replace(blob, target)


def _lock(path: Path) -> IO[str]:
    handle = path.open("a")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise OutboxError(f"{path.parent} is in use by another process") from None
    return handle


def _read_applied(path: Path) -> int:
    try:
        return int(path.read_text().strip() or 0)
    except FileNotFoundError:
        return 0


def _write_applied(path: Path, seq: int) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(str(seq))
    os.replace(temporary, path)


def _rewrite_journal(path: Path, records: list[Record]) -> None:
    temporary = path.with_suffix(".tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        handle.writelines(record.to_json() + "\n" for record in records)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _read_journal(path: Path) -> Iterator[Record]:
    """The journal's records; a torn last line (a crash mid-append) is ignored."""
    with contextlib.suppress(FileNotFoundError), path.open(encoding="utf-8") as handle:
        lines = handle.read().splitlines()
        for number, line in enumerate(lines):
            try:
                yield Record.from_json(line)
            except (ValueError, KeyError):
                if number == len(lines) - 1:
                    return  # the append that was cut short: it never happened
                raise OutboxError(f"{path} line {number + 1} is not a record") from None

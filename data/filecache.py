"""What the dataset scan learned about each file, kept so the next run need not learn it again.

Checking a training image decodes it twice (``data.images.check_training_image``) and the
dataset's fingerprint reads every byte, so on 30,000 JPEGs a scan took 26-47 s per run. Both
results depend only on the file's bytes, so they are kept per file, keyed by its absolute path,
and trusted while the file's size and modification time are unchanged: the rule make, rsync and
git use. A file whose modification time is within ``RACY_SECONDS`` of the scan is not kept (git's
"racily clean" rule): a write in the same timestamp tick would otherwise go unnoticed.

The store is one SQLite file in WAL mode, so every worker on a machine can share it: readers
never wait, writers take turns (``busy_timeout``), and a worker killed mid-write leaves the file
consistent. WAL needs shared memory between the processes, so the file must be on a local
disk, not NFS. It is a cache: when it cannot be opened or is damaged, the scan checks every
file and says so; nothing depends on it being there. (``db/`` knows the lab's own database; this is
a local file next to it.)
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

__all__ = ["RACY_SECONDS", "FileCache", "FileCacheError", "FileFacts"]

log = logging.getLogger("data.filecache")

# FAT keeps modification times to 2 s; NFS and ext4 far finer. Files newer than this are
# checked every time until they are older.
RACY_SECONDS = 2.0
_SCHEMA_VERSION = 1  # PRAGMA user_version; a file of another version is rebuilt
_BUSY_TIMEOUT_MS = 30_000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    checker TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    problem TEXT,
    reason TEXT
) WITHOUT ROWID
"""


class FileCacheError(RuntimeError):
    """The cache file cannot be opened or written; the message names it and why."""


class FileFacts(NamedTuple):
    """One file's check result and content hash, and the state of the file they describe.

    A named tuple rather than a dataclass: a cached scan makes one per file, and at 30,000
    files the dataclass's slower construction showed in the 2 s budget.

    Attributes:
        path: absolute path.
        size: bytes, from ``os.stat`` before the file was read.
        mtime_ns: modification time in nanoseconds, likewise.
        checker: which rules judged the file (``data.loader.checker_version``); facts from other
            rules count as unknown.
        sha256: hex digest of the file's bytes.
        problem: the ``ImageProblem`` value that excluded the file, or None when it is usable.
        reason: why, in the words the run's warnings show; None when usable.
    """

    path: str
    size: int
    mtime_ns: int
    checker: str
    sha256: str
    problem: str | None = None
    reason: str | None = None

    def describes(self, stat: os.stat_result, checker: str) -> bool:
        """Whether these facts still hold for a file now in the state ``stat`` reports."""
        return (
            self.size == stat.st_size
            and self.mtime_ns == stat.st_mtime_ns
            and self.checker == checker
        )

    def settled(self, now: float | None = None) -> bool:
        """Whether the file was last written long enough ago for its timestamp to be trusted."""
        now_ns = time.time_ns() if now is None else int(now * 1e9)
        return now_ns - self.mtime_ns >= RACY_SECONDS * 1e9


class FileCache:
    """The per-file facts of every dataset scanned on this machine, in one SQLite file.

    Open it with ``FileCache.open(path)``; use it from one thread (the scan's main thread).
    """

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._connection = connection

    @classmethod
    def open(cls, path: Path) -> FileCache:
        """Open (or create) the cache file, rebuilding it if it is damaged or of another version.

        Raises:
            FileCacheError: the folder cannot be created or the file cannot be opened or
                written (a read-only disk, permissions); the message says which and why.
        """
        path = path.expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FileCacheError(
                f"dataset file cache {path}: cannot create the folder {path.parent} "
                f"({exc.strerror or exc})"
            ) from exc
        try:
            return cls(path, _connect(path))
        except sqlite3.DatabaseError as exc:
            if not _is_damage(exc):
                raise FileCacheError(f"dataset file cache {path}: {exc}") from exc
            log.warning("dataset file cache %s is damaged (%s); starting a new one", path, exc)
        try:
            _set_aside(path)
            return cls(path, _connect(path))
        except (sqlite3.DatabaseError, OSError) as exc:
            raise FileCacheError(f"dataset file cache {path}: {exc}") from exc

    def facts_under(self, folder: str) -> dict[str, FileFacts]:
        """Everything known about files inside ``folder`` (an absolute path), by path."""
        prefix = folder.rstrip(os.sep) + os.sep
        # A range on the primary key: exactly the strings that start with the prefix.
        upper = prefix[:-1] + chr(ord(os.sep) + 1)
        rows = self._connection.execute(
            "SELECT path, size, mtime_ns, checker, sha256, problem, reason FROM files "
            "WHERE path >= ? AND path < ?",
            (prefix, upper),
        )
        return {row[0]: FileFacts(*row) for row in rows}

    def store(self, facts: Iterable[FileFacts]) -> None:
        """Keep ``facts``, replacing what was known about the same paths, in one transaction."""
        rows = [
            (f.path, f.size, f.mtime_ns, f.checker, f.sha256, f.problem, f.reason) for f in facts
        ]
        if rows:
            self._write("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    def forget(self, paths: Iterable[str]) -> None:
        """Drop what is known about ``paths`` (files that no longer exist)."""
        rows = [(path,) for path in paths]
        if rows:
            self._write("DELETE FROM files WHERE path = ?", rows)

    def count(self) -> int:
        """How many files the cache knows (for the benchmark and tests)."""
        return int(self._connection.execute("SELECT count(*) FROM files").fetchone()[0])

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> FileCache:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _write(self, statement: str, rows: Sequence[tuple[object, ...]]) -> None:
        # BEGIN IMMEDIATE takes the write lock up front, so a busy file waits for
        # busy_timeout instead of failing halfway through a deferred transaction.
        connection = self._connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.executemany(statement, rows)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")


def _connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, schema in place."""
    connection = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        connection.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA journal_mode = WAL")
        # A cache can lose its last transactions in a power cut, never its consistency.
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute("BEGIN IMMEDIATE")
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, _SCHEMA_VERSION):
            connection.execute("DROP TABLE IF EXISTS files")
        connection.execute(_SCHEMA)
        connection.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        connection.execute("COMMIT")
    except BaseException:
        connection.close()
        raise
    return connection


def _is_damage(exc: sqlite3.DatabaseError) -> bool:
    """A file that is not a database or is corrupt, as opposed to a locked or read-only one."""
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text or "corrupt" in text


def _set_aside(path: Path) -> None:
    """Rename a damaged cache (and its WAL files) out of the way, keeping it for inspection."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for suffix in ("", "-wal", "-shm"):
        damaged = Path(f"{path}{suffix}")
        if damaged.exists():
            os.replace(damaged, f"{path}.damaged-{stamp}{suffix}")

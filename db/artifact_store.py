"""Artifact stores: where the bytes of models and checkpoints live.

`DatabaseStore` keeps them in the `artifact_blobs` table (the default: one machine, or a
database every machine reaches). `FolderStore` keeps them in a folder every worker and the
dashboard see (a local or network path) or any fsspec URL (`s3://bucket/prefix` with s3fs
installed), and the database keeps only the pointer, size and sha256 (db/artifacts.py).

Both store an object under a key (`runs/<run>/<file>`) in their own step, outside any metrics
transaction; the caller then moves the run's pointer. `open_store` builds the one the settings
name (`LAB_ARTIFACTS`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import Collection
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import delete

from db.artifacts import (
    ArtifactUnavailable,
    blob_data,
    delete_blobs,
    prune_blobs,
    put_blob,
    run_prefix,
)
from db.entities import StoredObject
from db.models import ArtifactBlob, StoreKind
from db.queue import delete_run
from db.session import Database

_CHUNK = 1 << 20


class ArtifactStoreError(RuntimeError):
    """`LAB_ARTIFACTS` cannot be used; the message says why and what to do."""


class ArtifactStore(Protocol):
    """Puts, gets and deletes objects by key; `kind` is recorded on each pointer."""

    kind: StoreKind

    def describe(self) -> str: ...

    def put(self, run_id: int, key: str, source: Path | bytes) -> StoredObject: ...

    def get(self, location: str) -> bytes: ...

    def delete(self, location: str) -> None: ...

    def prune(self, run_id: int, keep: Collection[str]) -> None: ...

    def delete_run(self, run_id: int) -> None: ...


def file_digest(source: Path | bytes) -> tuple[str, int]:
    """sha256 and size of bytes or of a file, read in 1 MB chunks."""
    if isinstance(source, bytes):
        return hashlib.sha256(source).hexdigest(), len(source)
    hasher = hashlib.sha256()
    size = 0
    with source.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            hasher.update(chunk)
            size += len(chunk)
    return hasher.hexdigest(), size


class DatabaseStore:
    """Objects as rows of `artifact_blobs`, each put in its own transaction."""

    kind = StoreKind.DATABASE

    def __init__(self, database: Database) -> None:
        self.database = database

    def describe(self) -> str:
        return "the database"

    def put(self, run_id: int, key: str, source: Path | bytes) -> StoredObject:
        data = source if isinstance(source, bytes) else source.read_bytes()
        with self.database.begin() as session:
            put_blob(session, key, run_id, data)
        return StoredObject(StoreKind.DATABASE, key, hashlib.sha256(data).hexdigest(), len(data))

    def get(self, location: str) -> bytes:
        with self.database.read() as session:
            data = blob_data(session, location)
        if data is None:
            raise ArtifactUnavailable(f"{location} is not in the database")
        return data

    def delete(self, location: str) -> None:
        with self.database.begin() as session:
            delete_blobs(session, [location])

    def prune(self, run_id: int, keep: Collection[str]) -> None:
        """Delete the run's blobs no pointer names (`keep` is what the pointers name)."""
        with self.database.begin() as session:
            prune_blobs(session, run_id)

    def delete_run(self, run_id: int) -> None:
        with self.database.begin() as session:
            session.execute(delete(ArtifactBlob).where(ArtifactBlob.run_id == run_id))


class FolderStore:
    """Objects as files under a folder or an fsspec URL; local writes are atomic renames."""

    kind = StoreKind.FOLDER

    def __init__(self, url: str) -> None:
        import fsspec
        from fsspec.implementations.local import LocalFileSystem

        self.url = url
        try:
            self._fs, root = fsspec.core.url_to_fs(url)
        except ImportError as error:  # e.g. s3:// without s3fs
            raise ArtifactStoreError(f"LAB_ARTIFACTS={url}: {error}") from None
        except ValueError as error:  # an unknown protocol
            raise ArtifactStoreError(f"LAB_ARTIFACTS={url} is not usable: {error}") from None
        self._root = str(root).rstrip("/")
        self._local = isinstance(self._fs, LocalFileSystem)
        if self._local and not Path(self._root).is_dir():
            raise ArtifactStoreError(
                f"LAB_ARTIFACTS folder {self._root} does not exist; create it "
                f"(mkdir -p {self._root}) on a disk every worker and the dashboard can reach"
            )

    def describe(self) -> str:
        return self.url

    def _path(self, key: str) -> str:
        return f"{self._root}/{key}"

    def put(self, run_id: int, key: str, source: Path | bytes) -> StoredObject:
        path = self._path(key)
        if self._local:
            sha256, size = _write_atomically(Path(path), source)
        else:
            sha256, size = file_digest(source)
            if isinstance(source, bytes):
                self._fs.pipe_file(path, source)
            else:
                self._fs.put_file(str(source), path)
        return StoredObject(StoreKind.FOLDER, key, sha256, size)

    def get(self, location: str) -> bytes:
        try:
            return bytes(self._fs.cat_file(self._path(location)))
        except FileNotFoundError:
            raise ArtifactUnavailable(
                f"{location} is not in {self.url}: does LAB_ARTIFACTS name the folder the "
                "workers store into?"
            ) from None

    def delete(self, location: str) -> None:
        with contextlib.suppress(FileNotFoundError):  # already gone: deleting is idempotent
            self._fs.rm_file(self._path(location))

    def prune(self, run_id: int, keep: Collection[str]) -> None:
        """Delete the run's objects not in `keep` (and temporary files of broken uploads)."""
        for key in self.keys(run_id):
            if key not in keep:
                self.delete(key)

    def keys(self, run_id: int) -> list[str]:
        prefix = self._path(run_prefix(run_id))
        try:
            found: list[Any] = self._fs.find(prefix)
        except FileNotFoundError:
            return []
        start = len(self._root) + 1
        return sorted(str(path)[start:] for path in found)

    def delete_run(self, run_id: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._fs.rm(self._path(run_prefix(run_id)), recursive=True)


def _write_atomically(path: Path, source: Path | bytes) -> tuple[str, int]:
    """Copy into a temporary file beside `path`, fsync, rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    hasher = hashlib.sha256()
    size = 0
    try:
        with temporary.open("wb") as out:
            if isinstance(source, bytes):
                out.write(source)
                hasher.update(source)
                size = len(source)
            else:
                with source.open("rb") as handle:
                    while chunk := handle.read(_CHUNK):
                        out.write(chunk)
                        hasher.update(chunk)
                        size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return hasher.hexdigest(), size


def open_store(artifacts: str | None, database: Database) -> ArtifactStore:
    """The store `LAB_ARTIFACTS` names: None for the database, else a folder or URL."""
    if artifacts is None:
        return DatabaseStore(database)
    return FolderStore(artifacts)


def remove_run(database: Database, store: ArtifactStore, run_id: int) -> bool:
    """Delete a run that is not running, with its rows (cascade), then its stored objects.

    The rows go first, in one transaction; the objects after it commits, so a failure
    in between leaves unreferenced files, never a pointer to nothing.
    """
    with database.begin() as session:
        deleted = delete_run(session, run_id)
    if deleted:
        store.delete_run(run_id)
    return deleted

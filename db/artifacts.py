"""Artifact pointers (a run's model and checkpoint) and the database store's blobs.

A pointer names a store, the object's key there, its size and sha256; the bytes live in
`artifact_blobs` (the database store) or in an artifact folder (db/artifact_store.py). Writers
store the bytes first, then move the pointer in a short fenced transaction; readers verify the
sha256 of whatever they read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.entities import ArtifactPointer, StoredArtifact, StoredObject
from db.models import Artifact, ArtifactBlob, ArtifactKind, Run, RunStatus, StoreKind

if TYPE_CHECKING:
    from db.artifact_store import ArtifactStore


class ArtifactIntegrityError(RuntimeError):
    """Stored bytes no longer match their recorded sha256: refuse to load them."""


class ArtifactUnavailable(LookupError):
    """An artifact's bytes cannot be read here (no such object, or no store configured)."""


_SUFFIX = {ArtifactKind.MODEL: ".keras", ArtifactKind.CHECKPOINT: ".zip"}


def run_prefix(run_id: int) -> str:
    """Every object of a run lives under this key prefix, in every store."""
    return f"runs/{run_id}/"


def artifact_key(run_id: int, kind: ArtifactKind, attempt: int, epoch: int | None = None) -> str:
    """The key an attempt stores its model (or an epoch's checkpoint) under.

    One key per attempt and epoch: a retried upload rewrites the same bytes under the same key,
    and a worker whose lease was taken over never overwrites the new holder's objects.
    """
    epoch_part = f"-e{epoch}" if epoch is not None else ""
    return f"{run_prefix(run_id)}{kind.value}-a{attempt}{epoch_part}{_SUFFIX[kind]}"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- the database store's blobs -------------------------------------------------------------


def put_blob(session: Session, key: str, run_id: int, data: bytes) -> None:
    """Store bytes under `key`, replacing what a retry may have left there."""
    session.execute(delete(ArtifactBlob).where(ArtifactBlob.key == key))
    session.add(ArtifactBlob(key=key, run_id=run_id, data=data, size_bytes=len(data)))
    session.flush()


def blob_data(session: Session, key: str) -> bytes | None:
    return session.scalar(select(ArtifactBlob.data).where(ArtifactBlob.key == key))


def delete_blobs(session: Session, keys: Collection[str]) -> None:
    if keys:
        session.execute(delete(ArtifactBlob).where(ArtifactBlob.key.in_(list(keys))))


def prune_blobs(session: Session, run_id: int) -> None:
    """Delete a run's blobs no pointer names (left by a crash between storing and pointing)."""
    pointed = select(Artifact.location).where(
        Artifact.run_id == run_id, Artifact.store == StoreKind.DATABASE
    )
    session.execute(
        delete(ArtifactBlob).where(ArtifactBlob.run_id == run_id, ArtifactBlob.key.not_in(pointed))
    )


# --- pointers -------------------------------------------------------------------------------


def _held_for_update(session: Session, run_id: int, attempt: int) -> bool:
    held = session.scalar(
        select(Run.id)
        .where(Run.id == run_id, Run.attempt == attempt, Run.status == RunStatus.RUNNING)
        .with_for_update()
    )
    return held is not None


def artifact_pointer(session: Session, run_id: int, kind: ArtifactKind) -> ArtifactPointer | None:
    row = session.scalar(select(Artifact).where(Artifact.run_id == run_id, Artifact.kind == kind))
    return ArtifactPointer.from_row(row) if row is not None else None


@dataclass(frozen=True)
class Pointed:
    """What moving a pointer did: whether the run was still held, and the object it replaced,
    which the caller deletes after its transaction commits (a big blob's delete then does not
    lengthen the epoch's transaction)."""

    held: bool
    orphan: StoredObject | None = None


def point_artifact(
    session: Session,
    run_id: int,
    attempt: int,
    kind: ArtifactKind,
    stored: StoredObject,
    meta: dict[str, Any] | None = None,
) -> Pointed:
    """Make `stored` the run's artifact of `kind`, if the worker still holds the run."""
    if not _held_for_update(session, run_id, attempt):
        return Pointed(held=False)
    orphan = _drop_pointer(session, run_id, kind, keep=stored.location)
    session.add(
        Artifact(
            run_id=run_id,
            kind=kind,
            store=stored.store,
            location=stored.location,
            sha256=stored.sha256,
            size_bytes=stored.size_bytes,
            meta=meta or {},
        )
    )
    session.flush()
    return Pointed(held=True, orphan=orphan)


def _drop_pointer(
    session: Session, run_id: int, kind: ArtifactKind, keep: str | None = None
) -> StoredObject | None:
    """Delete a pointer; returns the object it named, for the caller to delete after commit."""
    old = artifact_pointer(session, run_id, kind)
    if old is None:
        return None
    session.execute(delete(Artifact).where(Artifact.run_id == run_id, Artifact.kind == kind))
    return None if old.location == keep else old.stored


def save_artifact(
    session: Session,
    run_id: int,
    attempt: int,
    kind: ArtifactKind,
    data: bytes,
    meta: dict[str, Any] | None = None,
) -> bool:
    """Store small bytes in the database store and point the run at them, in the caller's
    transaction (fenced; replaces). Workers store big ones outside it (trainer/reporting.py)."""
    if not _held_for_update(session, run_id, attempt):
        return False
    key = artifact_key(run_id, kind, attempt)
    put_blob(session, key, run_id, data)
    stored = StoredObject(StoreKind.DATABASE, key, digest(data), len(data))
    pointed = point_artifact(session, run_id, attempt, kind, stored, meta)
    if pointed.orphan is not None and pointed.orphan.store is StoreKind.DATABASE:
        delete_blobs(session, [pointed.orphan.location])
    return pointed.held


def delete_artifact(session: Session, run_id: int, kind: ArtifactKind) -> StoredObject | None:
    """Forget a run's artifact of `kind`; returns the object to delete after commit."""
    return _drop_pointer(session, run_id, kind)


def read_bytes(
    session: Session, pointer: ArtifactPointer, store: ArtifactStore | None = None
) -> bytes:
    """The pointer's bytes from its store, verified against its sha256.

    Raises:
        ArtifactUnavailable: the object is missing, or it is in a folder store and `store`
            (this process's `LAB_ARTIFACTS`) is not one.
        ArtifactIntegrityError: the bytes do not match the recorded sha256.
    """
    what = f"run {pointer.run_id}'s {pointer.kind}"
    if pointer.store is StoreKind.DATABASE:
        data = blob_data(session, pointer.location)
        if data is None:
            raise ArtifactUnavailable(f"{what} is missing from the database ({pointer.location})")
    elif store is None or store.kind is not StoreKind.FOLDER:
        raise ArtifactUnavailable(
            f"{what} is in an artifact folder ({pointer.location}) and LAB_ARTIFACTS is not set "
            "here; set it to the folder or URL the workers store into"
        )
    else:
        data = store.get(pointer.location)
    if digest(data) != pointer.sha256:
        raise ArtifactIntegrityError(f"{what} does not match its checksum; it will not be loaded")
    return data


def load_artifact(
    session: Session, run_id: int, kind: ArtifactKind, store: ArtifactStore | None = None
) -> StoredArtifact | None:
    """Fetch a run's artifact, verifying its checksum; None if the run has none.

    `store` is needed only for artifacts in an artifact folder (see `read_bytes`).
    """
    pointer = artifact_pointer(session, run_id, kind)
    if pointer is None:
        return None
    data = read_bytes(session, pointer, store)
    return StoredArtifact(run_id, pointer.kind, data, pointer.sha256, dict(pointer.meta))


def load_artifact_meta(session: Session, run_id: int, kind: ArtifactKind) -> dict[str, Any] | None:
    """An artifact's metadata (e.g. the model summary) without reading its bytes."""
    meta = session.scalar(
        select(Artifact.meta).where(Artifact.run_id == run_id, Artifact.kind == kind)
    )
    return None if meta is None else dict(meta)


def artifact_kinds(session: Session, run_ids: list[int]) -> dict[int, set[str]]:
    """Which artifacts each run has, without loading their bytes."""
    result: dict[int, set[str]] = {run_id: set() for run_id in run_ids}
    if not run_ids:
        return result
    rows = session.execute(
        select(Artifact.run_id, Artifact.kind).where(Artifact.run_id.in_(run_ids))
    )
    for run_id, kind in rows:
        result[run_id].add(kind.value)
    return result

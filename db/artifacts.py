"""Model files and checkpoints stored in the database, with a sha256 checked on every read."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.entities import StoredArtifact
from db.models import Artifact, ArtifactKind, Run, RunStatus


class ArtifactIntegrityError(RuntimeError):
    """Stored bytes no longer match their recorded sha256: refuse to load them."""


def save_artifact(
    session: Session,
    run_id: int,
    attempt: int,
    kind: ArtifactKind,
    data: bytes,
    meta: dict[str, Any] | None = None,
) -> bool:
    """Store (or replace) a run's artifact of `kind`, if the worker still holds the run."""
    held = session.scalar(
        select(Run.id)
        .where(Run.id == run_id, Run.attempt == attempt, Run.status == RunStatus.RUNNING)
        .with_for_update()
    )
    if held is None:
        return False
    session.execute(delete(Artifact).where(Artifact.run_id == run_id, Artifact.kind == kind))
    session.add(
        Artifact(
            run_id=run_id,
            kind=kind,
            data=data,
            sha256=hashlib.sha256(data).hexdigest(),
            size_bytes=len(data),
            meta=meta or {},
        )
    )
    session.flush()
    return True


def delete_artifact(session: Session, run_id: int, kind: ArtifactKind) -> None:
    session.execute(delete(Artifact).where(Artifact.run_id == run_id, Artifact.kind == kind))


def load_artifact(session: Session, run_id: int, kind: ArtifactKind) -> StoredArtifact | None:
    """Fetch a run's artifact, verifying its checksum; None if the run has none."""
    row = session.scalar(select(Artifact).where(Artifact.run_id == run_id, Artifact.kind == kind))
    if row is None:
        return None
    if hashlib.sha256(row.data).hexdigest() != row.sha256:
        raise ArtifactIntegrityError(
            f"run {run_id}'s stored {kind.value} does not match its checksum; it will not be loaded"
        )
    return StoredArtifact.from_row(row)


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

"""Artifacts: stored bytes round-trip, are checksum-verified and fenced."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from db.artifacts import ArtifactIntegrityError, load_artifact, save_artifact
from db.models import ArtifactBlob, ArtifactKind
from db.session import Database
from tests.db.factories import running_run


def test_model_round_trips_with_meta(database: Database) -> None:
    """Saved bytes and meta come back unchanged."""
    run_id, attempt = running_run(database)
    with database.begin() as session:
        assert save_artifact(session, run_id, attempt, ArtifactKind.MODEL, b"\x00model", {"k": 1})
    with database.read() as session:
        stored = load_artifact(session, run_id, ArtifactKind.MODEL)
    assert stored is not None and stored.data == b"\x00model" and stored.meta == {"k": 1}


def test_saving_again_replaces_the_artifact(database: Database) -> None:
    """A second save of the same kind replaces the first."""
    run_id, attempt = running_run(database)
    for payload in (b"one", b"two"):
        with database.begin() as session:
            save_artifact(session, run_id, attempt, ArtifactKind.CHECKPOINT, payload)
    with database.read() as session:
        stored = load_artifact(session, run_id, ArtifactKind.CHECKPOINT)
    assert stored is not None and stored.data == b"two"


def test_tampered_bytes_are_refused(database: Database) -> None:
    """Bytes that no longer match their sha256 are not returned."""
    run_id, attempt = running_run(database)
    with database.begin() as session:
        save_artifact(session, run_id, attempt, ArtifactKind.MODEL, b"good")
    with database.begin() as session:
        session.execute(update(ArtifactBlob).values(data=b"evil"))
    with pytest.raises(ArtifactIntegrityError), database.read() as session:
        load_artifact(session, run_id, ArtifactKind.MODEL)


def test_a_worker_that_lost_the_run_cannot_save(database: Database) -> None:
    """A save under a stale attempt writes nothing."""
    run_id, attempt = running_run(database)
    with database.begin() as session:
        assert not save_artifact(session, run_id, attempt + 1, ArtifactKind.MODEL, b"x")
    with database.read() as session:
        assert load_artifact(session, run_id, ArtifactKind.MODEL) is None

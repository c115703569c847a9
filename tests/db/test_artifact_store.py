"""Artifact stores: a folder keeps the bytes and the database the pointer, size and sha256;
loading verifies the hash; replaced, finished and deleted runs leave no files behind."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import pytest
from sqlalchemy import select

from db.artifact_store import (
    ArtifactStoreError,
    DatabaseStore,
    FolderStore,
    open_store,
    remove_run,
)
from db.artifacts import (
    ArtifactIntegrityError,
    ArtifactUnavailable,
    artifact_pointer,
    load_artifact,
)
from db.entities import EpochRecord
from db.models import ArtifactBlob, ArtifactKind, RunStatus, StopReason, StoreKind
from db.session import Database
from settings import PROJECT_ROOT, Settings, SettingsError
from tests.db.factories import running_run
from trainer.reporting import RunReporter


@pytest.fixture
def folder(tmp_path: Path) -> FolderStore:
    root = tmp_path / "artifacts"
    root.mkdir()
    return FolderStore(str(root))


def _files(store: FolderStore, run_id: int) -> list[str]:
    return store.keys(run_id)


def _blob_keys(database: Database, run_id: int) -> list[str]:
    with database.read() as session:
        return sorted(
            session.scalars(select(ArtifactBlob.key).where(ArtifactBlob.run_id == run_id))
        )


def test_folder_store_round_trips_files_and_bytes(folder: FolderStore, tmp_path: Path) -> None:
    """A file and plain bytes come back unchanged, with their sha256 and size recorded."""
    source = tmp_path / "model.keras"
    source.write_bytes(b"\x00weights" * 1000)
    stored = folder.put(7, "runs/7/model-a1.keras", source)
    assert stored.store is StoreKind.FOLDER and stored.location == "runs/7/model-a1.keras"
    assert stored.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert stored.size_bytes == 8000
    assert folder.get(stored.location) == source.read_bytes()
    folder.put(7, "runs/7/x.zip", b"abc")
    assert folder.get("runs/7/x.zip") == b"abc"
    assert _files(folder, 7) == ["runs/7/model-a1.keras", "runs/7/x.zip"]  # no temp files


def test_a_missing_folder_is_refused_with_the_command_to_create_it(tmp_path: Path) -> None:
    """LAB_ARTIFACTS naming a folder that does not exist is an error naming mkdir."""
    with pytest.raises(ArtifactStoreError, match="mkdir -p"):
        FolderStore(str(tmp_path / "nope"))


@pytest.mark.skipif(importlib.util.find_spec("s3fs") is not None, reason="s3fs is installed")
def test_an_object_store_without_its_driver_says_what_to_install() -> None:
    """s3:// without s3fs names the package to install."""
    with pytest.raises(ArtifactStoreError, match="s3fs"):
        FolderStore("s3://bucket/lab")


def test_settings_read_the_artifact_store_and_busy_timeout(tmp_path: Path) -> None:
    """LAB_ARTIFACTS: unset or "database" is the database, a relative folder is the project's."""
    base = {"LAB_VAR_DIR": str(tmp_path)}
    assert Settings.from_env(base).artifacts is None
    assert Settings.from_env({**base, "LAB_ARTIFACTS": "database"}).artifacts is None
    relative = Settings.from_env({**base, "LAB_ARTIFACTS": "var/artifacts"})
    assert relative.artifacts == str(PROJECT_ROOT / "var/artifacts")
    s3 = Settings.from_env({**base, "LAB_ARTIFACTS": "s3://bucket/lab"})
    assert s3.artifacts == "s3://bucket/lab"
    assert Settings.from_env({**base, "LAB_SQLITE_BUSY_TIMEOUT": "0.5"}).sqlite_busy_timeout == 0.5
    with pytest.raises(SettingsError, match="LAB_SQLITE_BUSY_TIMEOUT"):
        Settings.from_env({**base, "LAB_SQLITE_BUSY_TIMEOUT": "soon"})


def test_open_store_picks_the_database_or_a_folder(database: Database, tmp_path: Path) -> None:
    """No LAB_ARTIFACTS keeps artifacts in the database; a folder path opens a folder store."""
    assert isinstance(open_store(None, database), DatabaseStore)
    assert isinstance(open_store(str(tmp_path), database), FolderStore)


def test_checkpoints_go_to_the_folder_and_only_the_latest_stays(
    database: Database, folder: FolderStore, tmp_path: Path
) -> None:
    """Each epoch's checkpoint file is stored, pointed at with its hash, and replaces the last."""
    run_id, attempt = running_run(database)
    reporter = RunReporter(database, run_id, attempt, store=folder)
    for epoch in (1, 2):
        assert reporter.commit_epoch(EpochRecord(epoch=epoch, loss=1.0), f"ck{epoch}".encode())
    with database.read() as session:
        pointer = artifact_pointer(session, run_id, ArtifactKind.CHECKPOINT)
        assert _blob_keys(database, run_id) == []  # nothing in the database but the pointer
    assert pointer is not None and pointer.store is StoreKind.FOLDER
    assert pointer.location == f"runs/{run_id}/checkpoint-a{attempt}-e2.zip"
    assert (pointer.sha256, pointer.size_bytes) == (hashlib.sha256(b"ck2").hexdigest(), 3)
    assert pointer.meta == {"epoch": 2}
    assert _files(folder, run_id) == [pointer.location]


def test_loading_verifies_the_files_hash(
    database: Database, folder: FolderStore, tmp_path: Path
) -> None:
    """A file changed after it was stored is refused on load."""
    run_id, attempt = running_run(database)
    reporter = RunReporter(database, run_id, attempt, store=folder)
    assert reporter.save_artifact(ArtifactKind.MODEL, b"good model", {"image_size": 32})
    with database.read() as session:
        stored = load_artifact(session, run_id, ArtifactKind.MODEL, folder)
    assert stored is not None and stored.data == b"good model"
    (tmp_path / "artifacts" / f"runs/{run_id}/model-a{attempt}.keras").write_bytes(b"evil")
    with pytest.raises(ArtifactIntegrityError), database.read() as session:
        load_artifact(session, run_id, ArtifactKind.MODEL, folder)


def test_a_folder_artifact_without_a_configured_store_says_how_to_fix_it(
    database: Database, folder: FolderStore
) -> None:
    """A process without LAB_ARTIFACTS cannot read a folder artifact and is told to set it."""
    run_id, attempt = running_run(database)
    assert RunReporter(database, run_id, attempt, store=folder).save_artifact(
        ArtifactKind.MODEL, b"m", {}
    )
    with pytest.raises(ArtifactUnavailable, match="LAB_ARTIFACTS"), database.read() as session:
        load_artifact(session, run_id, ArtifactKind.MODEL)


def test_finishing_deletes_the_checkpoint_and_leftovers_but_keeps_the_model(
    database: Database, folder: FolderStore
) -> None:
    """At the end only the model's file is left, even a crash's unreferenced upload goes."""
    run_id, attempt = running_run(database)
    reporter = RunReporter(database, run_id, attempt, store=folder)
    assert reporter.commit_epoch(EpochRecord(epoch=1), b"checkpoint")
    folder.put(run_id, f"runs/{run_id}/checkpoint-a{attempt}-e2.zip", b"crash before pointing")
    assert reporter.save_artifact(ArtifactKind.MODEL, b"model", {})
    assert reporter.finish(RunStatus.SUCCEEDED, StopReason.COMPLETED, "done")
    assert _files(folder, run_id) == [f"runs/{run_id}/model-a{attempt}.keras"]


def test_a_worker_that_lost_the_run_leaves_no_file(database: Database, folder: FolderStore) -> None:
    """An upload by a stale attempt is refused by the fence and deleted again."""
    run_id, attempt = running_run(database)
    zombie = RunReporter(database, run_id, attempt + 1, store=folder)
    assert not zombie.commit_epoch(EpochRecord(epoch=1), b"stale")
    assert not zombie.save_artifact(ArtifactKind.MODEL, b"stale", {})
    assert _files(folder, run_id) == []


def test_the_database_store_replaces_and_prunes_blobs(database: Database) -> None:
    """In the database store too, a new checkpoint's blob replaces the old one's."""
    run_id, attempt = running_run(database)
    reporter = RunReporter(database, run_id, attempt)
    for epoch in (1, 2, 3):
        assert reporter.commit_epoch(EpochRecord(epoch=epoch), f"ck{epoch}".encode())
    assert _blob_keys(database, run_id) == [f"runs/{run_id}/checkpoint-a{attempt}-e3.zip"]
    checkpoint = DatabaseStore(database).get(f"runs/{run_id}/checkpoint-a{attempt}-e3.zip")
    assert checkpoint == b"ck3"
    assert reporter.save_artifact(ArtifactKind.MODEL, b"model", {})
    assert reporter.finish(RunStatus.SUCCEEDED, StopReason.COMPLETED)
    assert _blob_keys(database, run_id) == [f"runs/{run_id}/model-a{attempt}.keras"]


def test_replayed_writes_land_once(database: Database) -> None:
    """An epoch, a finish or a release written again by the same attempt is not an error."""
    run_id, attempt = running_run(database)
    reporter = RunReporter(database, run_id, attempt)
    record = EpochRecord(epoch=1, loss=0.5, val_accuracy=0.25)
    assert reporter.commit_epoch(record, b"ck") and reporter.commit_epoch(record, b"ck")
    assert reporter.finish(RunStatus.SUCCEEDED, StopReason.COMPLETED)
    assert reporter.finish(RunStatus.SUCCEEDED, StopReason.COMPLETED)
    assert not reporter.finish(RunStatus.FAILED, StopReason.FAILED)  # not what landed
    other_id, other_attempt = running_run(database, "b")
    releaser = RunReporter(database, other_id, other_attempt)
    assert releaser.release() and releaser.release()


def test_deleting_a_run_deletes_its_files(database: Database, folder: FolderStore) -> None:
    """Removing a finished run deletes its rows and every file under its folder."""
    run_id, attempt = running_run(database)
    reporter = RunReporter(database, run_id, attempt, store=folder)
    assert reporter.save_artifact(ArtifactKind.MODEL, b"model", {})
    assert reporter.finish(RunStatus.SUCCEEDED, StopReason.COMPLETED)
    other_id, _ = running_run(database, "still running")
    assert not remove_run(database, folder, other_id)  # a running run is not deleted
    assert remove_run(database, folder, run_id)
    assert _files(folder, run_id) == []
    with database.read() as session:
        assert artifact_pointer(session, run_id, ArtifactKind.MODEL) is None


def test_deleting_a_run_deletes_its_database_blobs(database: Database) -> None:
    """With the database store, the run's blobs go with it."""
    run_id, attempt = running_run(database)
    reporter = RunReporter(database, run_id, attempt)
    assert reporter.save_artifact(ArtifactKind.MODEL, b"model", {})
    assert reporter.finish(RunStatus.CANCELLED, StopReason.CANCELLED)
    assert remove_run(database, DatabaseStore(database), run_id)
    assert _blob_keys(database, run_id) == []

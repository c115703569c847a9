"""The dashboard and the artifact store `LAB_ARTIFACTS` names: Predict loads models through it
(sha256-checked), the Run page says where the model is and downloads it, Delete removes the
run's files with its rows."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pytest

from dashboard.text import md_escape
from data.memory import format_bytes
from db.artifact_store import FolderStore
from db.artifacts import artifact_key, point_artifact
from db.models import ArtifactKind
from db.queue import claim_next
from db.runs import get_run
from tests.dashboard.conftest import Lab, open_page, queue_one, succeed


@dataclass(frozen=True)
class FolderModel:
    run_id: int
    store: FolderStore
    key: str
    sha256: str
    size: int

    @property
    def path(self) -> Path:
        return Path(self.store.describe()) / self.key


@pytest.fixture
def folder_model(
    lab: Lab, tiny_model: tuple[bytes, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> FolderModel:
    """A succeeded run whose model a worker stored in the artifact folder LAB_ARTIFACTS names."""
    folder = tmp_path / "artifacts"
    folder.mkdir()
    monkeypatch.setenv("LAB_ARTIFACTS", str(folder))
    store = FolderStore(str(folder))
    queue_one(lab.database, "folder-run", architecture="resnet20", image_size=32, priority=9)
    with lab.database.begin() as session:
        claimed = claim_next(session, "gpu-box")
    assert claimed is not None and claimed.name == "folder-run"
    data, meta = tiny_model
    key = artifact_key(claimed.id, ArtifactKind.MODEL, claimed.attempt)
    stored = store.put(claimed.id, key, data)
    with lab.database.begin() as session:
        assert point_artifact(
            session, claimed.id, claimed.attempt, ArtifactKind.MODEL, stored, meta
        )
        succeed(session, claimed)
    return FolderModel(claimed.id, store, key, stored.sha256, stored.size_bytes)


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 40), (90, 140, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def _predict(run_id: int):
    at = open_page("predict", runs=str(run_id))
    at.file_uploader(key="predict.files").set_value([("sky.png", _png(), "image/png")])
    return at.run()


def test_predict_loads_a_model_from_the_artifact_folder(folder_model: FolderModel) -> None:
    """A model kept in LAB_ARTIFACTS's folder predicts, with its Grad-CAM."""
    at = _predict(folder_model.run_id)
    assert not at.exception and not at.error
    assert len(at.get("plotly_chart")) == 1
    captions = [c for image in at.get("image") for c in image.captions if c]
    assert any(c.startswith("Grad-CAM for ") for c in captions)


def test_changed_model_bytes_are_refused_naming_run_and_store(folder_model: FolderModel) -> None:
    """Bytes that no longer match their sha256: one error naming the run and the folder."""
    folder_model.path.write_bytes(b"not the model the worker stored")
    at = _predict(folder_model.run_id)
    assert not at.exception
    [error] = [e.value for e in at.error]
    where = md_escape(folder_model.store.describe())  # the message is Markdown
    assert error.startswith(f"Run {folder_model.run_id}, model in {where}: ")
    assert "does not match its checksum" in error


def test_missing_model_file_says_which_store(folder_model: FolderModel) -> None:
    """A model file gone from the folder: the error names the run, the store and the key."""
    folder_model.path.unlink()
    at = _predict(folder_model.run_id)
    [error] = [e.value for e in at.error]
    assert f"Run {folder_model.run_id}" in error and md_escape(folder_model.key) in error
    assert md_escape(folder_model.store.describe()) in error


def test_dashboard_without_the_setting_says_to_set_it(
    folder_model: FolderModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dashboard started without LAB_ARTIFACTS says the model is in a folder and to set it."""
    monkeypatch.delenv("LAB_ARTIFACTS")
    at = _predict(folder_model.run_id)
    [error] = [e.value for e in at.error]
    assert error.startswith(f"Run {folder_model.run_id}, model in an artifact folder: ")
    assert md_escape("LAB_ARTIFACTS is not set here; set it") in error


def test_a_missing_artifact_folder_is_named(
    folder_model: FolderModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LAB_ARTIFACTS naming no folder: Predict says so, with the command that makes it."""
    monkeypatch.setenv("LAB_ARTIFACTS", str(tmp_path / "elsewhere"))
    at = _predict(folder_model.run_id)
    assert not at.exception
    [error] = [e.value for e in at.error]
    assert "does not exist" in error and "mkdir -p" in error


def test_run_page_shows_store_size_and_sha256(folder_model: FolderModel) -> None:
    """The Model tab says where the model is, its size and sha256; the download gives its size."""
    at = open_page("run", id=str(folder_model.run_id), tab="Model")
    assert not at.exception
    stored = [c.value for c in at.caption if c.value.startswith("Stored in")]
    size = folder_model.size
    assert stored == [
        f"Stored in {md_escape(folder_model.store.describe())} as `{folder_model.key}` · "
        f"{format_bytes(size)} ({size:,} bytes) · sha256 `{folder_model.sha256}`"
    ]
    [download] = at.get("download_button")
    assert download.proto.label == f"Download model (.keras, {format_bytes(size)})"
    assert folder_model.sha256 in download.proto.help


def test_model_bytes_come_from_the_store_checked(lab: Lab, folder_model: FolderModel) -> None:
    """What the download button serves: the folder's bytes, refused once they change."""
    from dashboard.queries import model_bytes
    from db.artifacts import ArtifactIntegrityError

    run_id = folder_model.run_id
    assert model_bytes(lab.database, folder_model.store, run_id) == folder_model.path.read_bytes()
    folder_model.path.write_bytes(b"changed")
    with pytest.raises(ArtifactIntegrityError):
        model_bytes(lab.database, folder_model.store, run_id)


def test_delete_removes_the_runs_artifact_files(lab: Lab, folder_model: FolderModel) -> None:
    """Delete for good on the run's page removes its rows and its files in the folder."""
    assert folder_model.path.is_file()
    at = open_page("run", id=str(folder_model.run_id))
    at.button(key="run.delete").click().run()
    assert not at.exception
    with lab.database.read() as session:
        assert get_run(session, folder_model.run_id) is None
    assert not folder_model.path.exists()
    assert folder_model.store.keys(folder_model.run_id) == []

"""A worker with LAB_ARTIFACTS set stores its model and checkpoints in the folder; predict
reads the model from there (hash-checked), and `delete` removes the run's files too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from db.artifacts import artifact_pointer
from db.models import ArtifactKind, StoreKind
from db.session import Database
from settings import PROJECT_ROOT

pytestmark = pytest.mark.slow


def _cli(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_a_folder_store_end_to_end(tmp_path: Path, tiny_sample: Path) -> None:
    """Train with a folder store, predict from it, delete the run and its files."""
    url = f"sqlite:///{tmp_path / 'lab.db'}"
    folder = tmp_path / "shared-artifacts"
    folder.mkdir()
    env = {"DATABASE_URL": url, "LAB_VAR_DIR": str(tmp_path), "LAB_ARTIFACTS": str(folder)}
    assert _cli("db", "upgrade", env=env).returncode == 0
    config = tmp_path / "run.yaml"
    config.write_text(f"name: folder\ndataset: {tiny_sample}\nimage_size: 106\nepochs: 2\n")
    run_id = int(_cli("trainer", "queue", str(config), env=env).stdout.strip())
    worker = _cli("trainer", "worker", "--until-idle", env=env, timeout=300)
    assert worker.returncode == 0, worker.stderr[-2000:]
    assert f"artifacts in {folder}" in worker.stderr

    database = Database(url)
    with database.read() as session:
        model = artifact_pointer(session, run_id, ArtifactKind.MODEL)
        checkpoint = artifact_pointer(session, run_id, ArtifactKind.CHECKPOINT)
    database.dispose()
    assert model is not None and model.store is StoreKind.FOLDER and checkpoint is None
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert (
        files == [model.location] and (folder / model.location).stat().st_size == model.size_bytes
    )

    image = str(next((tiny_sample / "rain").iterdir()))
    predicted = _cli("trainer", "predict", str(run_id), image, env=env)
    assert predicted.returncode == 0, predicted.stderr
    assert "rain" in predicted.stdout

    deleted = _cli("trainer", "delete", str(run_id), env=env)
    assert deleted.returncode == 0, deleted.stderr
    assert not any(p.is_file() for p in folder.rglob("*"))

"""LabCallback's arguments, and Predict on a script's model that takes no images."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import keras
import pytest
from sqlalchemy import select

from db.artifacts import save_artifact
from db.entities import NewRun
from db.models import ArtifactKind, Run, RunSource, RunStatus, StopReason
from db.scripts import FitStart, finish_fit, start_fit
from db.session import Database
from settings import PROJECT_ROOT
from trainer.model_io import model_to_bytes
from trainer.outbox import Outbox
from trainer.predict import ModelNotAvailable, load_run_model
from trainer.spool import ScriptLink
from trainer.tracking import LabCallback


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"run_id": "no spaces"}, "run_id 'no spaces'"),
        ({"run_id": "x" * 65}, "1 to 64 letters"),
        ({"config": {"when": datetime.now()}}, "plain JSON"),
        ({"config": {"lr": float("nan")}}, "plain JSON"),
        ({"name": " "}, "name: 1 to 200 characters"),
        ({"log_every_n_batches": 0}, "log_every_n_batches"),
    ],
)
def test_bad_arguments_are_refused_at_once(arguments: dict, message: str) -> None:
    """A key, config or option the run could not be stored with fails before training."""
    with pytest.raises(ValueError, match=message):
        LabCallback(**arguments)


def test_a_run_key_names_the_spool_folder(tmp_path, monkeypatch) -> None:
    """The callback's spool folder is the run key's folder in LAB_SCRIPT_SPOOL_DIR."""
    monkeypatch.setenv("LAB_SCRIPT_SPOOL_DIR", str(tmp_path))
    callback = LabCallback(run_id="exp-1.a_b")
    assert callback.spool_folder == tmp_path / "exp-1.a_b"
    assert len(LabCallback().run_id) == 32


def test_predict_refuses_a_model_that_takes_no_images(database: Database) -> None:
    """A script's model over vectors is stored, but Predict says it cannot feed it images."""
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    new = NewRun(
        name="vectors", config={}, dataset=None, architecture=None, optimizer=None,
        learning_rate=None, batch_size=None, epochs=1, image_size=None, augmented=None,
        seed=None, source=RunSource.SCRIPT,
    )  # fmt: skip
    now = datetime.now(UTC)
    meta = {"class_names": ["a", "b"], "image_size": None, "architecture": "vectors"}
    with database.begin() as session:
        run_id = start_fit(session, "vec", FitStart("f", new, now, epochs=1))
        assert save_artifact(session, run_id, 1, ArtifactKind.MODEL, model_to_bytes(model), meta)
        finish_fit(
            session, "vec", "f", status=RunStatus.SUCCEEDED, stop_reason=StopReason.COMPLETED,
            stop_detail=None, error=None, finished_at=now,
        )  # fmt: skip
    with pytest.raises(ModelNotAvailable, match="does not take square images"):
        load_run_model(database, run_id)


def _sync(spool: Path, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "LAB_SCRIPT_SPOOL_DIR": str(spool)}
    return subprocess.run(
        [sys.executable, "-m", "trainer", "sync"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _spool_an_orphan_epoch(spool: Path) -> Path:
    outbox = Outbox(spool / "orphan")
    outbox.append("epoch", {"key": "orphan", "fit": "f", "fit_epoch": 1, "metrics": {}})
    outbox.close()
    return spool / "orphan"


def test_sync_keeps_the_spool_when_the_database_is_away(tmp_path: Path) -> None:
    """An unreachable database: sync exits 75 (try later) and sends nothing."""
    folder = _spool_an_orphan_epoch(tmp_path / "spool")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = _sync(tmp_path / "spool", f"postgresql+psycopg://postgres@127.0.0.1:{port}/lab")
    assert result.returncode == 75 and result.stderr.startswith("error: cannot connect")
    assert (folder / "journal.jsonl").read_text().count("\n") == 1


def test_sync_names_a_run_it_cannot_write_and_keeps_it(
    sqlite_database_url: str, tmp_path: Path
) -> None:
    """Records of a run whose start was lost cannot be written: one error naming the folder,
    exit 2, and the folder stays."""
    folder = _spool_an_orphan_epoch(tmp_path / "spool")
    result = _sync(tmp_path / "spool", sqlite_database_url)
    assert result.returncode == 2
    assert "orphan: run orphan: script run orphan was never started" in result.stderr
    assert folder.exists()


def _heartbeat(database: Database) -> datetime | None:
    with database.read() as session:
        return session.scalar(select(Run.heartbeat_at))


def test_the_link_heartbeats_only_while_a_fit_is_on(
    sqlite_database_url: str, tmp_path: Path
) -> None:
    """The sending thread renews the run's heartbeat while training, and stops after."""
    link = ScriptLink(Outbox(tmp_path / "k"), "k", database_url=sqlite_database_url, interval=0.1)
    link.start()
    start = {
        "fit": "f", "name": "beats", "study": None, "tags": [], "config": {},
        "started_at": datetime.now(UTC).isoformat(), "initial_epoch": 0, "epochs": 1,
    }  # fmt: skip
    link.append("start", start)
    link.training(True)
    assert link.settle(30) and link.run_id is not None
    database = Database(sqlite_database_url)
    first = _heartbeat(database)
    time.sleep(0.5)
    second = _heartbeat(database)
    assert first is not None and second is not None and second > first
    link.training(False)
    time.sleep(0.3)
    third = _heartbeat(database)
    time.sleep(0.5)
    assert _heartbeat(database) == third
    assert link.close() and not (tmp_path / "k").exists()

"""Dashboard fixtures: a migrated SQLite file seeded with runs in every state, and AppTest pages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from db.entities import EpochRecord
from db.metrics import record_epoch
from db.migrate import upgrade
from db.models import RunStatus, StopReason
from db.queue import claim_next, enqueue, finish_run
from db.session import Database
from tests.databases import sqlite_url
from trainer.config import parse_config

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
TRACEBACK = 'Traceback (most recent call last):\n  File "train.py"\nValueError: <b>boom</b>'


@dataclass(frozen=True)
class Lab:
    """The seeded database and the id of each kind of run in it."""

    url: str
    database: Database
    adam: int  # succeeded, study "optim", 3 epochs
    sgd: int  # succeeded, study "optim", 3 epochs
    running: int  # running, batch 32, 2 epochs so far
    failed: int  # failed after 1 epoch, with a traceback
    queued: int

    def count_runs(self) -> int:
        from db.runs import list_runs

        with self.database.read() as session:
            return len(list_runs(session))


def queue_one(database: Database, name: str, **fields: object) -> int:
    config = parse_config({"name": name, "image_size": 112, "epochs": 3, **fields})
    with database.begin() as session:
        return enqueue(session, config.to_new_run())


def train_one(
    database: Database, epochs: int, status: RunStatus | None, error: str | None = None
) -> int:
    """Claim the only queued run, record `epochs` epochs, and finish it with `status`."""
    with database.begin() as session:
        claimed = claim_next(session, "test-worker")
    assert claimed is not None
    for epoch in range(1, epochs + 1):
        record = EpochRecord(
            epoch=epoch,
            loss=1.0 / epoch,
            accuracy=0.5 + 0.1 * epoch,
            val_loss=1.2 / epoch,
            val_accuracy=0.45 + 0.1 * epoch,
            learning_rate=0.001,
            epoch_seconds=1.0,
        )
        with database.begin() as session:
            assert record_epoch(session, claimed.id, claimed.attempt, record)
    if status is not None:
        reason = StopReason.COMPLETED if status is RunStatus.SUCCEEDED else StopReason.FAILED
        with database.begin() as session:
            finish_run(
                session,
                claimed.id,
                claimed.attempt,
                status=status,
                stop_reason=reason,
                stop_detail=f"{reason.value} after {epochs} epochs",
                error=error,
            )
    return claimed.id


def seed(database: Database, url: str) -> Lab:
    adam = queue_one(database, "adam-run", optimizer="adam", study="optim")
    train_one(database, 3, RunStatus.SUCCEEDED)
    sgd = queue_one(database, "sgd-run", optimizer="sgd", study="optim")
    train_one(database, 3, RunStatus.SUCCEEDED)
    running = queue_one(database, "running-run", batch_size=32)
    train_one(database, 2, None)
    failed = queue_one(database, "failed-run", learning_rate=0.1)
    train_one(database, 1, RunStatus.FAILED, error=TRACEBACK)
    queued = queue_one(database, "queued-run")
    return Lab(url, database, adam, sgd, running, failed, queued)


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    """Each test starts with empty Streamlit caches (they are process-wide)."""
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def empty_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """A migrated database with no runs, named by DATABASE_URL."""
    url = sqlite_url(tmp_path)
    database = Database(url)
    upgrade(database.engine)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("LAB_VAR_DIR", str(tmp_path / "var"))
    yield database
    database.dispose()


@pytest.fixture
def lab(empty_lab: Database) -> Lab:
    """A database holding succeeded, running, failed and queued runs with curves."""
    return seed(empty_lab, empty_lab.url.render_as_string(hide_password=False))


def open_page(view: str, **query_params: str) -> AppTest:
    """Run the app on one page (`views/<view>.py`) with the given URL query parameters."""
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params.update(query_params)
    at.switch_page(f"views/{view}.py")
    return at.run()


CLASS_NAMES = ["cloudy", "rain", "shine", "sunrise"]


@pytest.fixture(scope="session")
def tiny_model() -> tuple[bytes, dict]:
    """A real, untrained 32 px ResNet-20 as stored bytes plus its metadata (built once)."""
    from trainer.architectures import build_model
    from trainer.model_io import model_to_bytes
    from trainer.train import assemble_model, model_summary

    core = build_model("resnet20", 32, len(CLASS_NAMES))
    model = assemble_model(core, 32, augment=None, seed=0)
    meta = {
        "class_names": CLASS_NAMES,
        "image_size": 32,
        "architecture": "resnet20",
        "summary": model_summary(core),
        "format": "keras",
    }
    return model_to_bytes(model), meta


@pytest.fixture
def model_run(lab: Lab, tiny_model: tuple[bytes, dict]) -> int:
    """A succeeded run (added to `lab`) that stored the tiny model."""
    from db.artifacts import save_artifact
    from db.models import ArtifactKind

    queue_one(lab.database, "resnet-run", architecture="resnet20", image_size=32)
    # The seeded queued run is claimed first (same priority, older); finish it, then ours.
    train_one(lab.database, 1, RunStatus.SUCCEEDED)
    with lab.database.begin() as session:
        claimed = claim_next(session, "test-worker")
    assert claimed is not None and claimed.name == "resnet-run"
    data, meta = tiny_model
    with lab.database.begin() as session:
        assert save_artifact(session, claimed.id, claimed.attempt, ArtifactKind.MODEL, data, meta)
        finish_run(
            session,
            claimed.id,
            claimed.attempt,
            status=RunStatus.SUCCEEDED,
            stop_reason=StopReason.COMPLETED,
            stop_detail="all 1 epochs done",
        )
    return claimed.id

"""Dashboard fixtures: a migrated SQLite file seeded with runs in every state, and AppTest pages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from db.entities import ClaimedRun, EpochRecord
from db.metrics import record_epoch
from db.models import RunStatus, StopReason
from db.queue import claim_next, enqueue, finish_run
from db.session import Database
from experiment.config import parse_config
from tests.databases import migrated_sqlite_url

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


def succeed(session: Session, claimed: ClaimedRun, detail: str | None = None) -> None:
    """Finish a claimed run as a worker does when every epoch is done."""
    finish_run(
        session,
        claimed.id,
        claimed.attempt,
        status=RunStatus.SUCCEEDED,
        stop_reason=StopReason.COMPLETED,
        stop_detail=detail,
    )


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
    url = migrated_sqlite_url(tmp_path)
    database = Database(url)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("LAB_VAR_DIR", str(tmp_path / "var"))
    yield database
    database.dispose()


@pytest.fixture
def lab(empty_lab: Database) -> Lab:
    """A database holding succeeded, running, failed and queued runs with curves."""
    return seed(empty_lab, empty_lab.url.render_as_string(hide_password=False))


def open_page(view: str, **query_params: str) -> AppTest:
    """Run the app on one page (`views/<view>/page.py`) with the given URL query parameters."""
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params.update(query_params)
    # Before its first run AppTest finds a page by its file name, and every page script is
    # `page.py`; a real session finds it by its url_path, as `st.Page` hashes it. Open it so.
    assert (APP.parent / "views" / view / "page.py").is_file(), view
    at._page_hash = calc_hash(view)
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
        succeed(session, claimed, "all 1 epochs done")
    return claimed.id


# Evaluated runs, workers and attempts: the Run, Predict, Reports and Workers pages.

VALIDATION_FILES = tuple(f"{name}/{name}{i}.jpg" for name in CLASS_NAMES for i in (1, 2))
VALIDATION_LABELS = (0, 0, 1, 1, 2, 2, 3, 3)
PREDICTED_A = (0, 0, 0, 1, 2, 2, 3, 3)  # gets position 2 (a rain photo) wrong
PREDICTED_B = (1, 0, 1, 1, 2, 3, 3, 3)  # gets positions 0 and 5 wrong
_THUMB_COLOURS = ((120, 120, 130), (60, 70, 110), (250, 220, 90), (240, 120, 60))


@dataclass(frozen=True)
class EvaluatedLab:
    """`lab` plus evaluated runs, two workers and a run that was handed back once."""

    lab: Lab
    a: int  # succeeded, study "evald", evaluated, stored the tiny model, augmented
    b: int  # succeeded, study "evald", same validation files as `a`, stored the tiny model
    other: int  # succeeded, study "arch", evaluated on 3 classes: not comparable with a or b
    urgent: int  # queued with priority 5: claimed before lab.queued
    handed_back: int  # lab.queued: claimed once, handed back by its worker, queued again

    @property
    def database(self) -> Database:
        return self.lab.database


def _thumbnail(colour: tuple[int, int, int]) -> bytes:
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    Image.new("RGB", (24, 24), colour).save(buffer, format="JPEG")
    return buffer.getvalue()


def _evaluation(class_names: list[str], true: tuple[int, ...], predicted: tuple[int, ...]) -> dict:
    """The summary a worker stores (trainer/evaluate.py's format), computed by hand."""
    import numpy as np

    size = len(class_names)
    matrix = np.zeros((size, size), dtype=int)
    for t, p in zip(true, predicted, strict=True):
        matrix[t, p] += 1
    per_class = []
    for i, name in enumerate(class_names):
        tp, predicted_n, actual = matrix[i, i], matrix[:, i].sum(), matrix[i].sum()
        precision = tp / predicted_n if predicted_n else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append(
            {
                "class": name,
                "precision": float(precision),
                "recall": float(recall),
                "f1": float(f1),
                "support": int(actual),
            }
        )
    return {
        "class_names": class_names,
        "accuracy": float(np.mean(np.asarray(true) == np.asarray(predicted))),
        "confusion_matrix": matrix.tolist(),
        "per_class": per_class,
        "images": len(true),
    }


def evaluated_run(
    database: Database,
    name: str,
    predicted: tuple[int, ...],
    *,
    class_names: list[str] = CLASS_NAMES,
    true: tuple[int, ...] = VALIDATION_LABELS,
    files: tuple[str, ...] = VALIDATION_FILES,
    model: tuple[bytes, dict] | None = None,
    **fields: object,
) -> int:
    """Queue (priority 10, so it is claimed first), train 2 epochs, evaluate and succeed."""
    from db.artifacts import save_artifact
    from db.entities import PredictionRecord
    from db.evaluation import save_evaluation
    from db.models import ArtifactKind
    from db.queue import set_run_info

    queue_one(database, name, priority=10, epochs=2, **fields)
    with database.begin() as session:
        claimed = claim_next(session, "gpu-box")
    assert claimed is not None and claimed.name == name
    for epoch in (1, 2):
        record = EpochRecord(
            epoch=epoch,
            loss=1.0 / epoch,
            accuracy=0.6 + 0.1 * epoch,
            val_loss=1.1 / epoch,
            val_accuracy=0.55 + 0.1 * epoch,
            learning_rate=0.001 / epoch,
            epoch_seconds=2.0,
        )
        with database.begin() as session:
            assert record_epoch(session, claimed.id, claimed.attempt, record)
    predictions = [
        PredictionRecord(
            run_id=claimed.id,
            position=i,
            file=file,
            true_label=t,
            predicted_label=p,
            confidence=0.8 if t == p else 0.6,
            probabilities=tuple(
                0.8 if c == p else 0.2 / (len(class_names) - 1) for c in range(len(class_names))
            ),
        )
        for i, (file, t, p) in enumerate(zip(files, true, predicted, strict=True))
    ]
    thumbnails = [_thumbnail(_THUMB_COLOURS[t % 4]) for t in true]
    environment = {
        "python": "3.11",
        "tensorflow": "2.21.0",
        "keras": "3.15.1",
        "device": "CPU",
        "host": "gpu-box",
        "git_commit": None,
    }
    with database.begin() as session:
        assert set_run_info(
            session, claimed.id, claimed.attempt, class_names=class_names, environment=environment
        )
        summary = _evaluation(class_names, true, predicted)
        assert save_evaluation(
            session, claimed.id, claimed.attempt, summary, predictions, thumbnails
        )
        if model is not None:
            data, meta = model
            assert save_artifact(
                session, claimed.id, claimed.attempt, ArtifactKind.MODEL, data, meta
            )
        succeed(session, claimed, "all 2 epochs done")
    return claimed.id


@pytest.fixture
def evaluated_lab(lab: Lab, tiny_model: tuple[bytes, dict], tmp_path: Path) -> EvaluatedLab:
    """`lab` plus runs of several studies with evaluations, workers and a handed-back run."""
    from datetime import timedelta

    from sqlalchemy import update

    from db.clock import db_now
    from db.models import Worker
    from db.queue import release_run
    from db.workers import beat_worker, register_worker

    database = lab.database
    nowhere = str(tmp_path / "not-on-this-machine")  # dataset unreadable: thumbnails are used
    resnet = {"architecture": "resnet20", "image_size": 32, "dataset": nowhere}
    a = evaluated_run(
        database,
        "adam <b>A</b>",
        PREDICTED_A,
        model=tiny_model,
        study="evald",
        augmentation={"horizontal_flip": True, "rotation_range": 10},
        **resnet,
    )
    b = evaluated_run(
        database, "sgd-b", PREDICTED_B, model=tiny_model, study="evald", optimizer="sgd", **resnet
    )
    other = evaluated_run(
        database,
        "three-classes",
        (0, 1, 2),
        class_names=["a", "b", "c"],
        true=(0, 1, 1),
        files=("a/1.jpg", "b/1.jpg", "b/2.jpg"),
        study="arch",
        dataset=nowhere,
        image_size=128,  # its epoch times stay out of the 112 px runs' estimates
    )
    # The seeded queued run: claimed once, then its worker shut down and handed it back.
    with database.begin() as session:
        claimed = claim_next(session, "old-box")
        assert claimed is not None and claimed.id == lab.queued
        assert release_run(session, claimed.id, claimed.attempt)
    urgent = queue_one(database, "urgent-run", priority=5)
    with database.begin() as session:
        alive = register_worker(session, "gpu-box", "gpu-host", 4242, "GPU:0 (RTX)")
        beat_worker(session, alive, lab.running)
        lost = register_worker(session, "old-box", "old-host", 99, "CPU")
        long_ago = db_now(session) - timedelta(minutes=10)
        session.execute(update(Worker).where(Worker.id == lost).values(heartbeat_at=long_ago))
    return EvaluatedLab(lab, a, b, other, urgent, lab.queued)


@pytest.fixture(scope="session")
def custom_layer_model() -> tuple[bytes, dict]:
    """A tiny model with a registered custom layer, as stored bytes plus its metadata; the
    registration is removed once saved, so this process, like a dashboard without the user's
    code, cannot load it."""
    import uuid

    import keras

    from trainer.model_io import custom_objects_in, model_to_bytes

    package = f"dashboard_test_{uuid.uuid4().hex[:8]}"

    @keras.saving.register_keras_serializable(package=package)
    class Brighten(keras.layers.Layer):
        def call(self, inputs):  # type: ignore[no-untyped-def]
            return inputs * 1.5

    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(Brighten()(inputs))
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(len(CLASS_NAMES), activation="softmax")(x)
    data = model_to_bytes(keras.Model(inputs, outputs, name="brightened"))
    keras.saving.get_custom_objects().pop(f"{package}>Brighten")
    meta = {
        "class_names": CLASS_NAMES,
        "image_size": 32,
        "architecture": f"{package}.nets:brightened",
        "summary": {"name": "brightened", "total_params": 0, "layers": []},
        "format": "keras",
        "custom_objects": custom_objects_in(data),
    }
    return data, meta


FROZEN = (1, "frozen", 2_260_000, 5_124, 0.001, None)
FINE_TUNED = (3, "fine_tune", 2_260_000, 1_865_000, 1e-5, 30)


def fine_tuned_run(database: Database, name: str = "mobilenet-ft", **fields: object) -> int:
    """A succeeded MobileNetV2 run (4 epochs unless `fields` say) from ImageNet, frozen,
    fine-tuning from epoch 3, its two phases recorded as a worker records them."""
    from db.entities import TrainingPhase
    from db.phases import record_phase

    config = {
        "architecture": "mobilenet_v2",
        "weights": "imagenet",
        "freeze_backbone": True,
        "fine_tune": {"at_epoch": 3, "layers": 30, "learning_rate": 1e-5},
        "head_dropout": 0.2,
        "epochs": 4,
        "priority": 20,
        **fields,
    }
    queue_one(database, name, **config)
    with database.begin() as session:
        claimed = claim_next(session, "gpu-box")
    assert claimed is not None and claimed.name == name
    epochs = int(config["epochs"])  # type: ignore[call-overload]
    for epoch in range(1, epochs + 1):
        tuning = epoch >= 3
        if epoch in (1, 3):
            values = FINE_TUNED if tuning else FROZEN
            phase = TrainingPhase(*values)  # type: ignore[arg-type]
            with database.begin() as session:
                assert record_phase(session, claimed.id, claimed.attempt, phase)
        record = EpochRecord(
            epoch=epoch,
            loss=1.0 / epoch,
            accuracy=0.5 + 0.1 * epoch,
            val_loss=1.2 / epoch,
            val_accuracy=0.45 + 0.1 * epoch,
            learning_rate=1e-5 if tuning else 0.001,
            epoch_seconds=3.0,
        )
        with database.begin() as session:
            assert record_epoch(session, claimed.id, claimed.attempt, record)
    with database.begin() as session:
        succeed(session, claimed, f"all {epochs} epochs done")
    return claimed.id

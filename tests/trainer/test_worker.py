"""The worker in-process on a SQLite file: stop reasons, failures, cancel, stored models."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from data.memory import MemorySetting
from db import queue
from db.metrics import load_curves
from db.models import RunStatus, StopReason
from db.runs import get_run
from db.session import Database
from experiment.config import parse_config
from settings import Settings
from trainer.predict import ModelNotAvailable, load_run_model, predict_images
from trainer.worker import WorkerOptions, run_worker

pytestmark = pytest.mark.slow


def _settings(url: str, dataset: Path) -> Settings:
    return Settings(database_url=url, dataset_dir=dataset, var_dir=dataset.parent)


def _queue(url: str, **fields: Any) -> int:
    config = parse_config({"name": "t", "image_size": 106, "batch_size": 8, "epochs": 2, **fields})
    database = Database(url)
    with database.begin() as session:
        run_id = queue.enqueue(session, config.to_new_run())
    database.dispose()
    return run_id


def _run(url: str, run_id: int) -> Any:
    database = Database(url)
    with database.read() as session:
        run = get_run(session, run_id)
        curves = load_curves(session, [run_id])
    database.dispose()
    return run, curves


def _work(url: str, dataset: Path) -> int:
    return run_worker(_settings(url, dataset), WorkerOptions(until_idle=True, name="test"))


def test_run_trains_records_epochs_and_stores_a_model(
    sqlite_database_url: str, tiny_sample: Path
) -> None:
    """A run completes its epochs, writes one row each with the LR, and stores a usable model."""
    run_id = _queue(
        sqlite_database_url,
        dataset=str(tiny_sample),
        augmentation={"horizontal_flip": True, "rotation_range": 5},
    )
    assert _work(sqlite_database_url, tiny_sample) == 1
    run, curves = _run(sqlite_database_url, run_id)
    assert run.status is RunStatus.SUCCEEDED and run.stop_reason is StopReason.COMPLETED
    assert [c.epoch for c in curves] == [1, 2]
    assert all(c.learning_rate == pytest.approx(0.001) and c.loss is not None for c in curves)
    assert run.class_names == ("cloudy", "rain", "shine", "sunrise")
    assert run.environment["dataset_fingerprint"] and run.environment["tensorflow"]
    assert run.environment["input_pipeline"] == "memory"
    loaded = load_run_model(Database(sqlite_database_url), run_id)
    image = (tiny_sample / "rain").iterdir().__next__().read_bytes()
    probabilities = predict_images(loaded, [image, image])
    assert probabilities.shape == (2, 4)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_runs_share_the_file_cache_and_train_from_decoded_files_over_budget(
    sqlite_database_url: str, tiny_sample: Path, tmp_path: Path
) -> None:
    """With LAB_DATA_MEMORY=0 runs train from decoded files, say so, and remove them; the
    second run takes every image's check from the file cache."""
    stamp = time.time() - 600  # files copied in a while ago: their timestamps can be trusted
    for path in tiny_sample.rglob("*.jpg"):
        os.utime(path, (stamp, stamp))
    first = _queue(sqlite_database_url, dataset=str(tiny_sample), epochs=1)
    second = _queue(sqlite_database_url, dataset=str(tiny_sample), epochs=1)
    settings = replace(
        _settings(sqlite_database_url, tiny_sample),
        cache_dir=tmp_path / "cache",
        data_memory=MemorySetting(size=0),
    )
    assert run_worker(settings, WorkerOptions(until_idle=True, name="test")) == 2
    (run, curves), (again, _) = _run(sqlite_database_url, first), _run(sqlite_database_url, second)
    assert run.status is RunStatus.SUCCEEDED and len(curves) == 1
    assert run.environment["input_pipeline"] == "disk"
    assert "over the memory budget of 0 bytes" in run.environment["input_pipeline_reason"]
    assert run.environment["dataset_images"] == 24
    assert "24 images, 0 from the file cache, 24 checked" in run.environment["dataset_scan"]
    assert "24 images, 24 from the file cache, 0 checked" in again.environment["dataset_scan"]
    assert again.environment["dataset_fingerprint"] == run.environment["dataset_fingerprint"]
    assert list((tmp_path / "cache" / "decoded").iterdir()) == []


def test_min_accuracy_stop_is_recorded(sqlite_database_url: str, tiny_sample: Path) -> None:
    """A threshold passed at epoch 1 stops the run there with that reason."""
    run_id = _queue(
        sqlite_database_url, dataset=str(tiny_sample), epochs=5, min_accuracy={"threshold": 0.0001}
    )
    _work(sqlite_database_url, tiny_sample)
    run, curves = _run(sqlite_database_url, run_id)
    assert run.stop_reason is StopReason.MIN_ACCURACY and len(curves) == 1
    assert "epoch 1" in run.stop_detail


def test_early_stopping_is_recorded(sqlite_database_url: str, tiny_sample: Path) -> None:
    """An impossible min_delta stops after patience epochs, saying which epoch was best."""
    run_id = _queue(
        sqlite_database_url,
        dataset=str(tiny_sample),
        epochs=6,
        early_stopping={
            "monitor": "loss",
            "patience": 1,
            "min_delta": 0.99,
            "restore_best_weights": True,
        },
    )
    _work(sqlite_database_url, tiny_sample)
    run, curves = _run(sqlite_database_url, run_id)
    assert run.stop_reason is StopReason.EARLY_STOPPING
    assert len(curves) == 2 and "epoch 2" in run.stop_detail and "restored" in run.stop_detail


def test_a_failing_run_is_marked_failed_and_the_worker_goes_on(
    sqlite_database_url: str, tiny_sample: Path, tmp_path: Path
) -> None:
    """A run on a missing dataset fails with its traceback; the next run still trains."""
    bad = _queue(sqlite_database_url, dataset=str(tmp_path / "missing"))
    good = _queue(sqlite_database_url, dataset=str(tiny_sample), epochs=1)
    assert _work(sqlite_database_url, tiny_sample) == 2
    failed, _ = _run(sqlite_database_url, bad)
    assert failed.status is RunStatus.FAILED and failed.stop_reason is StopReason.FAILED
    assert "Traceback" in failed.error and "missing" in failed.error
    assert _run(sqlite_database_url, good)[0].status is RunStatus.SUCCEEDED


def test_a_failed_run_has_no_model(
    sqlite_database_url: str, tiny_sample: Path, tmp_path: Path
) -> None:
    """Predicting with a failed run says why instead of loading anything."""
    bad = _queue(sqlite_database_url, dataset=str(tmp_path / "missing"))
    _work(sqlite_database_url, tiny_sample)
    with pytest.raises(ModelNotAvailable, match="failed"):
        load_run_model(Database(sqlite_database_url), bad)


def test_queued_cancelled_run_is_never_trained(sqlite_database_url: str, tiny_sample: Path) -> None:
    """A run cancelled while queued is skipped by the worker."""
    run_id = _queue(sqlite_database_url, dataset=str(tiny_sample))
    database = Database(sqlite_database_url)
    with database.begin() as session:
        queue.cancel_run(session, run_id)
    assert _work(sqlite_database_url, tiny_sample) == 0
    run, curves = _run(sqlite_database_url, run_id)
    assert run.status is RunStatus.CANCELLED and curves == []


def test_evaluation_is_stored_for_every_validation_image(
    sqlite_database_url: str, tiny_sample: Path
) -> None:
    """A finished run stores a confusion matrix, per-class metrics and one verdict per image."""
    from db.evaluation import load_predictions, load_thumbnails

    run_id = _queue(sqlite_database_url, dataset=str(tiny_sample), epochs=1, validation_split=0.5)
    _work(sqlite_database_url, tiny_sample)
    run, _ = _run(sqlite_database_url, run_id)
    database = Database(sqlite_database_url)
    with database.read() as session:
        predictions = load_predictions(session, [run_id])
        thumbs = load_thumbnails(session, run_id, [0, 1])
    assert len(predictions) == 12  # half of 4 classes x 6 images
    matrix = run.evaluation["confusion_matrix"]
    assert sum(map(sum, matrix)) == 12
    correct = sum(p.correct for p in predictions)
    assert sum(matrix[i][i] for i in range(4)) == correct
    assert run.evaluation["accuracy"] == pytest.approx(correct / 12)
    assert [row["class"] for row in run.evaluation["per_class"]] == list(run.class_names)
    assert all(0 <= p.confidence <= 1 and len(p.probabilities) == 4 for p in predictions)
    assert set(thumbs) == {0, 1} and all(t.startswith(b"\xff\xd8") for t in thumbs.values())


def test_a_handed_back_run_resumes_from_its_last_epoch(
    sqlite_database_url: str, tiny_sample: Path
) -> None:
    """Shut down after epoch 2 of 4, the run is requeued; the next attempt trains 3 and 4 only."""
    from sqlalchemy import select

    from db.artifacts import load_artifact
    from db.models import ArtifactKind, EpochMetric
    from trainer.devices import Device
    from trainer.link import RunLink
    from trainer.reporting import RunReporter
    from trainer.train import train

    run_id = _queue(
        sqlite_database_url,
        dataset=str(tiny_sample),
        epochs=4,
        early_stopping={"patience": 10},
        reduce_lr={"patience": 10},
    )
    database = Database(sqlite_database_url)
    with database.begin() as session:
        claimed = queue.claim_next(session, "first")
    assert claimed is not None

    reporter = RunReporter(database, run_id, claimed.attempt)
    with RunLink.open(reporter, tiny_sample.parent / "spool") as link:
        committed: list[int] = []
        hand_over = link.commit_epoch

        def counting(record: Any, checkpoint: Any) -> bool:
            committed.append(record.epoch)
            return hand_over(record, checkpoint)

        link.commit_epoch = counting  # type: ignore[method-assign]
        outcome = train(
            parse_config(claimed.config),
            link,
            Device("CPU", "test"),
            shutdown=lambda: len(committed) >= 2,
        )
        assert link.settle(timeout=60)
    assert outcome.status is None
    run, curves = _run(sqlite_database_url, run_id)
    assert run.status is RunStatus.QUEUED and [c.epoch for c in curves] == [1, 2]

    assert _work(sqlite_database_url, tiny_sample) == 1
    run, curves = _run(sqlite_database_url, run_id)
    assert run.status is RunStatus.SUCCEEDED and run.attempt == 2
    with database.read() as session:
        attempts = session.execute(
            select(EpochMetric.epoch, EpochMetric.attempt)
            .where(EpochMetric.run_id == run_id)
            .order_by(EpochMetric.epoch)
        ).all()
        assert load_artifact(session, run_id, ArtifactKind.CHECKPOINT) is None
    assert [tuple(row) for row in attempts] == [(1, 1), (2, 1), (3, 2), (4, 2)]


def test_same_config_and_seed_give_the_same_first_epoch(
    sqlite_database_url: str, tiny_sample: Path
) -> None:
    """Two deterministic runs of one config and seed record identical first-epoch metrics."""
    fields = {
        "dataset": str(tiny_sample),
        "epochs": 1,
        "deterministic": True,
        "seed": 7,
        "augmentation": {"horizontal_flip": True, "rotation_range": 5, "zoom_range": [0.8, 1.2]},
    }
    first = _queue(sqlite_database_url, **fields)
    second = _queue(sqlite_database_url, **fields)
    _work(sqlite_database_url, tiny_sample)
    (_, [a]), (_, [b]) = _run(sqlite_database_url, first), _run(sqlite_database_url, second)
    assert (a.loss, a.accuracy, a.val_loss, a.val_accuracy) == (
        b.loss,
        b.accuracy,
        b.val_loss,
        b.val_accuracy,
    )

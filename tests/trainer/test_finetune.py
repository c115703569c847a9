"""Transfer learning end to end: a backbone from a weights file, frozen, then fine-tuned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from db import queue
from db.metrics import load_curves
from db.models import RunStatus
from db.runs import get_run
from db.session import Database
from experiment.config import parse_config
from settings import Settings
from trainer.finetune import backbone_of, parameter_counts
from trainer.gradcam import grad_cam
from trainer.predict import load_run_model, predict_images
from trainer.worker import WorkerOptions, run_worker

pytestmark = pytest.mark.slow

UNFROZEN = 10


@pytest.fixture
def mobilenet_weights(tmp_path: Path) -> Path:
    """What a user gets from `save_weights` on Keras's MobileNet built with include_top=False."""
    backbone = keras.applications.MobileNet(
        include_top=False, weights=None, input_shape=(32, 32, 3)
    )
    path = tmp_path / "mobilenet.weights.h5"
    backbone.save_weights(path)
    keras.backend.clear_session()
    return path


def fine_tune_config(dataset: Path, weights: Path, **fields: Any) -> dict[str, Any]:
    return {
        "name": "fine-tune",
        "dataset": str(dataset),
        "image_size": 32,
        "batch_size": 8,
        "architecture": "mobilenet",
        "weights": str(weights),
        "freeze_backbone": True,
        "head_dropout": 0.2,
        "fine_tune": {"at_epoch": 2, "layers": UNFROZEN, "learning_rate": 1e-4},
        "epochs": 2,
        **fields,
    }


def _queue(url: str, config: dict[str, Any]) -> int:
    database = Database(url)
    with database.begin() as session:
        run_id = queue.enqueue(session, parse_config(config).to_new_run())
    database.dispose()
    return run_id


def test_frozen_then_fine_tuned_from_a_weights_file(
    sqlite_database_url: str, tiny_sample: Path, mobilenet_weights: Path
) -> None:
    """Epoch 1 trains the head only, epoch 2 the last layers too at the fine-tuning rate; the
    stored model predicts and explains, and its still-frozen layers hold the file's weights."""
    run_id = _queue(sqlite_database_url, fine_tune_config(tiny_sample, mobilenet_weights))
    settings = Settings(sqlite_database_url, tiny_sample, tiny_sample.parent)
    assert run_worker(settings, WorkerOptions(until_idle=True, name="test")) == 1
    database = Database(sqlite_database_url)
    with database.read() as session:
        run = get_run(session, run_id)
        curves = load_curves(session, [run_id])
    assert run is not None and run.status is RunStatus.SUCCEEDED, run and run.error
    frozen, tuned = run.phases
    head = 1024 * 4 + 4
    assert (frozen.epoch, frozen.kind, frozen.trainable_params) == (1, "frozen", head)
    assert (tuned.epoch, tuned.kind, tuned.unfrozen_layers) == (2, "fine_tune", UNFROZEN)
    assert tuned.trainable_params > head and tuned.total_params == frozen.total_params
    assert (run.total_params, run.trainable_params) == (tuned.total_params, tuned.trainable_params)
    assert [c.learning_rate for c in curves] == pytest.approx([1e-3, 1e-4])

    loaded = load_run_model(database, run_id)
    assert parameter_counts(loaded.model)[1] == tuned.trainable_params
    image = next((tiny_sample / "rain").iterdir()).read_bytes()
    probabilities = predict_images(loaded, [image])
    np.testing.assert_allclose(probabilities.sum(), 1.0, rtol=1e-5)
    pixels = np.random.default_rng(0).uniform(0, 255, (32, 32, 3)).astype(np.float32)
    assert grad_cam(loaded.model, pixels).shape == (32, 32)

    backbone = backbone_of(loaded.model)
    assert backbone is not None
    reference = keras.applications.MobileNet(
        include_top=False, weights=None, input_shape=(32, 32, 3)
    )
    reference.load_weights(mobilenet_weights)
    first_conv = backbone.layers[1]
    assert not first_conv.trainable
    np.testing.assert_array_equal(first_conv.get_weights()[0], reference.layers[1].get_weights()[0])
    database.dispose()

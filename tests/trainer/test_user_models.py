"""Architectures of your own: `package.module:function` checked before the first epoch, trained
by a worker that has the code, predicted and explained where the code is not."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from db import queue
from db.artifacts import load_artifact_meta
from db.models import ArtifactKind, RunStatus
from db.runs import get_run
from db.session import Database
from experiment.config import ConfigError, parse_config
from settings import PROJECT_ROOT
from trainer.architectures import build_model

CLASSES = 3

# Standard layers only: the stored model loads without this code.
NETS = """
import keras


def small_cnn(input_shape, num_classes, width=8):
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(width, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="small_cnn")


def wrong_size(input_shape, num_classes):
    return small_cnn(input_shape, num_classes + 7)


def logits(input_shape, num_classes):
    inputs = keras.Input(input_shape)
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
    return keras.Model(inputs, keras.layers.Dense(num_classes)(x))


def with_lambda(input_shape, num_classes):
    inputs = keras.Input(input_shape)
    x = keras.layers.Lambda(lambda t: t * 2.0)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(x))
    return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(x))


def broken(input_shape, num_classes):
    raise RuntimeError("out of ideas")


def not_a_model(input_shape, num_classes):
    return "a model"
"""

# A custom layer, registered: trains and resumes on workers that import it, nowhere else.
CUSTOM = """
import keras

from {package}.nets import small_cnn


@keras.saving.register_keras_serializable(package="{package}")
class Scale(keras.layers.Layer):
    def call(self, inputs):
        return inputs * 2.0


class Unregistered(keras.layers.Layer):
    def call(self, inputs):
        return inputs * 2.0


def _wrapped(input_shape, num_classes, layer):
    inner = small_cnn(input_shape, num_classes)
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, inner(layer(inputs)), name="with_custom")


def with_custom(input_shape, num_classes):
    return _wrapped(input_shape, num_classes, Scale())


def with_unregistered(input_shape, num_classes):
    return _wrapped(input_shape, num_classes, Unregistered())
"""


def write_package(folder: Path, package: str) -> Path:
    """A user's package of builders in `folder` (what they would put on PYTHONPATH)."""
    root = folder / package
    root.mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "nets.py").write_text(NETS)
    (root / "custom.py").write_text(textwrap.dedent(CUSTOM.format(package=package)))
    (root / "syntax_error.py").write_text("def build(:\n")
    return folder


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh package name on this process's path (fresh: imports are cached per name)."""
    name = f"lab_user_{uuid.uuid4().hex[:8]}"
    monkeypatch.syspath_prepend(str(write_package(tmp_path / "users", name)))
    return name


def _architecture_error(architecture: str) -> str:
    with pytest.raises(ConfigError) as info:
        build_model(architecture, 16, CLASSES)
    [(field, message)] = info.value.problems
    assert field == "architecture"
    return message


def test_a_builder_gets_the_shape_classes_and_parameters(package: str) -> None:
    """`build(input_shape, num_classes, **architecture_params)` as the config names it."""
    model = build_model(f"{package}.nets:small_cnn", 16, CLASSES, params={"width": 5})
    assert model.get_layer("conv").filters == 5
    assert tuple(model.outputs[0].shape) == (None, CLASSES)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("missing_package_{uuid}.nets:build", "cannot import missing_package_"),
        ("{package}.syntax_error:build", "SyntaxError"),
        ("{package}.nets:nothing_here", "has no function 'nothing_here'"),
        ("{package}.nets:broken", "raised RuntimeError: out of ideas"),
        ("{package}.nets:not_a_model", "returned str, not a keras.Model"),
        ("{package}.nets:wrong_size", "(None, 10); it must be (None, 3)"),
        ("{package}.nets:logits", "must end with a softmax"),
        ("{package}.nets:with_lambda", "uses Lambda layers"),
        ("{package}.custom:with_unregistered", "cannot be saved and loaded again"),
    ],
)
def test_unusable_builders_are_named_under_architecture(
    package: str, target: str, expected: str
) -> None:
    """Each way a builder can fail gives one config error on `architecture` saying which."""
    architecture = target.format(package=package, uuid=uuid.uuid4().hex[:8])
    message = _architecture_error(architecture)
    assert expected in message
    assert architecture.split(":")[0] in message or architecture in message


@pytest.mark.slow
def test_a_workers_own_architecture_trains_predicts_and_explains(
    tmp_path: Path, sqlite_database_url: str, tiny_sample: Path
) -> None:
    """A package on the worker's PYTHONPATH only: its runs train there; here, where the code is
    not importable, the standard-layer model predicts and draws Grad-CAM, the custom-layer one
    says why it cannot, and builders that cannot work failed naming `architecture`."""
    from trainer.gradcam import grad_cam
    from trainer.predict import ModelNeedsUserCode, load_run_model, predict_images

    package = f"lab_worker_{uuid.uuid4().hex[:8]}"
    users = write_package(tmp_path / "worker-only", package)
    database = Database(sqlite_database_url)
    base = {"dataset": str(tiny_sample), "image_size": 32, "batch_size": 8, "epochs": 2}
    architectures = {
        "standard": (f"{package}.nets:small_cnn", {"width": 6}),
        "custom": (f"{package}.custom:with_custom", {}),
        "wrong size": (f"{package}.nets:wrong_size", {}),
        "missing": (f"{package}_missing.nets:small_cnn", {}),
    }
    ids = {}
    with database.begin() as session:
        for name, (architecture, params) in architectures.items():
            config = {"name": name, "architecture": architecture, **base}
            config["architecture_params"] = params
            ids[name] = queue.enqueue(session, parse_config(config).to_new_run())
    env = {
        **os.environ,
        "DATABASE_URL": sqlite_database_url,
        "PYTHONPATH": os.pathsep.join([str(users), str(PROJECT_ROOT)]),
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    worker = subprocess.run(
        [sys.executable, "-m", "trainer", "worker", "--until-idle"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert worker.returncode == 0, worker.stderr[-3000:]
    assert not any(module.startswith(package) for module in sys.modules)

    with database.read() as session:
        runs = {name: get_run(session, run_id) for name, run_id in ids.items()}
        metas = {
            name: load_artifact_meta(session, run_id, ArtifactKind.MODEL)
            for name, run_id in ids.items()
        }
    statuses = {name: run.status for name, run in runs.items() if run is not None}
    assert statuses == {
        "standard": RunStatus.SUCCEEDED,
        "custom": RunStatus.SUCCEEDED,
        "wrong size": RunStatus.FAILED,
        "missing": RunStatus.FAILED,
    }, worker.stderr[-3000:]
    wrong, missing = runs["wrong size"], runs["missing"]
    assert wrong is not None and missing is not None
    assert wrong.stop_detail is not None and "architecture:" in wrong.stop_detail
    assert "it must be (None, 4)" in (wrong.error or "")
    assert f"cannot import {package}_missing.nets" in (missing.error or "")

    standard_meta, custom_meta = metas["standard"], metas["custom"]
    assert standard_meta is not None and custom_meta is not None
    assert standard_meta["custom_objects"] == [] and standard_meta["summary"]["name"] == "small_cnn"
    loaded = load_run_model(database, ids["standard"])
    image = next((tiny_sample / "shine").iterdir()).read_bytes()
    assert predict_images(loaded, [image]).shape == (1, 4)
    heatmap = grad_cam(loaded.model, np.full((32, 32, 3), 128.0, np.float32))
    assert heatmap.shape == (32, 32)

    assert custom_meta["custom_objects"] == [f"{package}>Scale"]
    with pytest.raises(ModelNeedsUserCode, match=f"uses {package}>Scale"):
        load_run_model(database, ids["custom"])
    database.dispose()


def _stored_custom_model(
    database: Database, architecture: str, stored_as: str | None = None
) -> int:
    """A succeeded run whose stored model has the package's registered `Scale` layer; the run
    names `stored_as` as its architecture (default: the one that built it)."""
    from db.artifacts import save_artifact
    from db.models import StopReason
    from trainer.model_io import custom_objects_in, model_to_bytes

    data = model_to_bytes(build_model(architecture, 16, CLASSES))
    meta = {
        "class_names": ["a", "b", "c"],
        "image_size": 16,
        "architecture": stored_as or architecture,
        "custom_objects": custom_objects_in(data),
    }
    named = stored_as or architecture
    config = parse_config({"name": "custom", "architecture": named, "image_size": 16})
    with database.begin() as session:
        queue.enqueue(session, config.to_new_run())
        claimed = queue.claim_next(session, "worker")
        assert claimed is not None
        assert save_artifact(session, claimed.id, claimed.attempt, ArtifactKind.MODEL, data, meta)
        queue.finish_run(
            session,
            claimed.id,
            claimed.attempt,
            status=RunStatus.SUCCEEDED,
            stop_reason=StopReason.COMPLETED,
            stop_detail="done",
        )
    return claimed.id


def test_custom_layers_load_only_where_asked_to_import_the_builder(
    package: str, sqlite_database_url: str
) -> None:
    """A model with a registered custom layer: refused by default (the dashboard's way), with
    the command that predicts on a worker; loaded and predicting with `user_code=True`."""
    from trainer.predict import ModelNeedsUserCode, load_run_model, predict_images

    database = Database(sqlite_database_url)
    run_id = _stored_custom_model(database, f"{package}.custom:with_custom")
    with pytest.raises(ModelNeedsUserCode) as refused:
        load_run_model(database, run_id)
    assert refused.value.custom_objects == (f"{package}>Scale",)
    assert f"python -m trainer predict {run_id} IMAGE" in str(refused.value)
    loaded = load_run_model(database, run_id, user_code=True)
    buffer = BytesIO()
    Image.fromarray(np.full((16, 16, 3), 100, np.uint8)).save(buffer, format="PNG")
    assert predict_images(loaded, [buffer.getvalue()]).shape == (1, CLASSES)
    database.dispose()


def test_custom_layers_whose_builder_does_not_import_say_why(
    package: str, sqlite_database_url: str
) -> None:
    """`user_code=True` where the run's builder does not import: the error names the import."""
    from trainer.predict import ModelNeedsUserCode, load_run_model

    database = Database(sqlite_database_url)
    gone = f"gone_{uuid.uuid4().hex[:8]}.custom:with_custom"
    run_id = _stored_custom_model(database, f"{package}.custom:with_custom", stored_as=gone)
    with pytest.raises(ModelNeedsUserCode, match="does not import here: cannot import gone_"):
        load_run_model(database, run_id, user_code=True)
    database.dispose()

"""keras.applications backbones: the Keras-free table agrees with Keras, weights load offline."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import keras
import numpy as np
import pytest
from keras.src.backend import config as keras_config
from keras.src.utils import file_utils

from experiment.architectures import BUILT_IN, ArchitectureInfo
from experiment.config import ConfigError
from trainer.architectures import build_model
from trainer.finetune import backbone_of, freeze, parameter_counts, unfreeze
from trainer.gradcam import last_conv_layer
from trainer.model_io import model_from_bytes, model_to_bytes
from trainer.preprocessing import preprocessing_layers
from trainer.train import assemble_model
from trainer.weights import WeightsUnavailable

CLASSES = 3
APPLICATIONS = [info for info in BUILT_IN.values() if info.is_application]
ONE_PER_MODULE = list({info.module: info for info in APPLICATIONS}.values())


def _constructor(info: ArchitectureInfo) -> keras.Model:
    assert info.application is not None
    return getattr(keras.applications, info.application)


@pytest.fixture(autouse=True)
def _fresh_session() -> None:
    keras.backend.clear_session()


def test_the_table_lists_every_application_keras_ships() -> None:
    """Each image classification constructor in keras.applications has exactly one name."""
    shipped = {name for name in dir(keras.applications) if name[0].isupper()}
    assert sorted(info.application for info in APPLICATIONS) == sorted(shipped)


@pytest.mark.parametrize("info", APPLICATIONS, ids=lambda info: info.name)
def test_each_backbone_builds_at_its_minimum_as_keras_builds_it(
    info: ArchitectureInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At the table's minimum size: Keras's include_top=False model plus one Dense, no more.

    The constructor is watched rather than built a second time for reference (the builds are
    what the suite's time goes on): ours calls it with include_top=False, no weights and the
    size, and nests exactly the model it returns. Built inside a StatelessScope (variables
    created, not initialised), so the counts are exact and nothing is computed. Keras refuses
    one pixel less, as the table says.
    """
    size = info.min_image_size
    constructor = _constructor(info)
    calls: list[tuple[dict[str, object], keras.Model]] = []

    def watched(**kwargs: object) -> keras.Model:
        model = constructor(**kwargs)
        calls.append((kwargs, model))
        return model

    monkeypatch.setattr(keras.applications, str(info.application), watched)
    with keras.StatelessScope():
        ours = build_model(info.name, size, CLASSES)
        [(arguments, reference)] = calls
        assert arguments == {"include_top": False, "weights": None, "input_shape": (size, size, 3)}
        assert [type(layer).__name__ for layer in ours.layers[2:]] == [
            "GlobalAveragePooling2D",
            "Dense",
        ]
        assert ours.layers[1] is reference
        features = reference.outputs[0].shape[-1]
        assert ours.count_params() == reference.count_params() + features * CLASSES + CLASSES
        assert tuple(ours.outputs[0].shape) == (None, CLASSES)
        assert last_conv_layer(ours) is reference  # what Grad-CAM explains
        if info.preprocessing == "builtin":
            first = {type(layer).__name__ for layer in reference.layers[:3]}
            assert "Rescaling" in first or "Normalization" in first
    with pytest.raises(ValueError, match=f"at least {size}"):
        constructor(include_top=False, weights=None, input_shape=(size - 1, size - 1, 3))
    with pytest.raises(ValueError, match=f">= {size}"):
        build_model(info.name, size - 1, CLASSES)


@pytest.mark.parametrize(
    ("name", "total"),
    [("mobilenet_v2", 2_257_984 + 1280 * CLASSES + CLASSES), ("vgg16", 14_714_688 + 1539)],
)
def test_parameter_counts_match_a_separate_keras_build(name: str, total: int) -> None:
    """Two backbones against a reference built on its own (and Keras's documented counts:
    MobileNetV2 2,257,984 and VGG16 14,714,688 without their tops)."""
    info = BUILT_IN[name]
    with keras.StatelessScope():
        reference = _constructor(info)(include_top=False, weights=None, input_shape=(32, 32, 3))
        ours = build_model(name, 32, CLASSES)
        features = reference.outputs[0].shape[-1]
        assert ours.count_params() == reference.count_params() + features * CLASSES + CLASSES
        assert ours.count_params() == total


def test_mobilenet_v2_keeps_its_parameter_count() -> None:
    """mobilenet_v2 has the parameters it had as include_top=True MobileNetV2 (same head)."""
    with keras.StatelessScope():
        before = keras.applications.MobileNetV2(
            input_shape=(64, 64, 3), weights=None, classes=4, include_top=True
        )
        assert build_model("mobilenet_v2", 64, 4).count_params() == before.count_params()


@pytest.mark.parametrize("info", ONE_PER_MODULE, ids=lambda info: info.module)
def test_preprocessing_is_kerass_preprocess_input(info: ArchitectureInfo) -> None:
    """Each family's layers give what its keras.applications preprocess_input gives; the
    "builtin" families' preprocess_input is a pass-through (the model rescales itself)."""
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype(np.float32)
    module = getattr(keras.applications, str(info.module))
    expected = np.asarray(module.preprocess_input(pixels.copy()))
    x = keras.ops.convert_to_tensor(pixels)
    for layer in preprocessing_layers(info.preprocessing, 8):
        x = layer(x)
    np.testing.assert_allclose(np.asarray(x), expected, rtol=1e-5, atol=1e-4)


def test_a_stored_backbone_model_loads_safely_and_predicts_the_same() -> None:
    """ResNet50's caffe preprocessing (a channel flip op) survives a safe_mode round trip."""
    core = build_model("resnet50", 32, CLASSES)
    model = assemble_model(core, 32, augment=None, seed=0, preprocessing="caffe")
    pixels = np.random.default_rng(1).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    loaded = model_from_bytes(model_to_bytes(model), compile=False)
    np.testing.assert_allclose(loaded.predict(pixels, verbose=0), model.predict(pixels, verbose=0))


def _mobilenet_backbone(size: int = 32) -> keras.Model:
    return keras.applications.MobileNet(
        include_top=False, weights=None, input_shape=(size,) * 2 + (3,)
    )


def _same_weights(a: keras.Model, b: keras.Model) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights(), strict=True))


def test_a_weights_file_from_the_same_constructor_is_loaded(tmp_path: Path) -> None:
    """`weights: PATH` to a .weights.h5 saved with include_top=False loads, at another size."""
    source = _mobilenet_backbone()
    path = tmp_path / "mobilenet.weights.h5"
    source.save_weights(path)
    core = build_model("mobilenet", 48, CLASSES, weights=path)
    assert _same_weights(
        next(layer for layer in core.layers if isinstance(layer, keras.Model)), source
    )


def test_a_weights_file_of_another_backbone_is_refused_by_name(tmp_path: Path) -> None:
    """VGG16's weights for MobileNet: a config error naming `weights` and the file."""
    path = tmp_path / "vgg16.weights.h5"
    keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3)).save_weights(
        path
    )
    with pytest.raises(ConfigError) as info:
        build_model("mobilenet", 32, CLASSES, weights=path)
    field, message = info.value.problems[0]
    assert field == "weights" and str(path) in message and "include_top=False" in message


def test_a_runs_stored_model_gives_its_backbone(tmp_path: Path) -> None:
    """`weights:` a .keras model of ours copies its backbone; the new head has its own classes."""
    trained = assemble_model(build_model("mobilenet", 32, 4), 32, augment=None, seed=0)
    path = tmp_path / "run7.keras"
    path.write_bytes(model_to_bytes(trained))
    core = build_model("mobilenet", 32, CLASSES, weights=path)
    stored_backbone = backbone_of(trained)
    assert stored_backbone is not None
    assert _same_weights(
        next(layer for layer in core.layers if isinstance(layer, keras.Model)), stored_backbone
    )
    assert tuple(core.outputs[0].shape) == (None, CLASSES)
    with pytest.raises(ConfigError, match="holds no backbone like mobilenet_v3_small"):
        build_model("mobilenet_v3_small", 32, CLASSES, weights=path)


def test_imagenet_without_network_names_the_file_and_where_to_put_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offline, `weights: imagenet` fails at once naming Keras's file, its folder and its URL.

    A dead proxy makes sure nothing is downloaded even on a machine with network access.
    """
    for variable in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(variable, "http://127.0.0.1:9")
    monkeypatch.setenv("no_proxy", "")
    monkeypatch.setenv("NO_PROXY", "")
    assert urllib.request.getproxies()["https"] == "http://127.0.0.1:9"
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path))
    original = file_utils.get_file
    with pytest.raises(WeightsUnavailable) as info:
        build_model("mobilenet", 32, CLASSES, weights="imagenet")
    message = str(info.value)
    target = tmp_path / "models" / "mobilenet_1_0_224_tf_no_top.h5"
    assert message.startswith(
        "weights: imagenet for mobilenet needs mobilenet_1_0_224_tf_no_top.h5"
    )
    assert f"put it at {target}" in message and "https://" in message
    assert not target.exists() and file_utils.get_file is original


def test_freezing_trains_the_head_and_unfreezing_keeps_batch_norm_frozen() -> None:
    """Frozen: only the Dense head trains. Unfrozen (last K or all): batch norm stays frozen."""
    model = assemble_model(build_model("mobilenet", 32, CLASSES), 32, augment=None, seed=0)
    backbone = backbone_of(model)
    assert backbone is not None
    features = backbone.outputs[0].shape[-1]
    freeze(backbone)
    assert parameter_counts(model)[1] == features * CLASSES + CLASSES
    assert unfreeze(backbone, 6) == 6
    trainable = {layer.name for layer in backbone.layers if layer.trainable and layer.weights}
    assert trainable == {
        layer.name
        for layer in backbone.layers[-6:]
        if layer.weights and not isinstance(layer, keras.layers.BatchNormalization)
    }
    assert unfreeze(backbone, "all") == len(backbone.layers)
    batch_norm = sum(
        layer.count_params()
        for layer in backbone.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    )
    total, trainable_count = parameter_counts(model)
    assert batch_norm > 0 and trainable_count == total - batch_norm


def test_a_weights_file_missing_on_the_worker_is_named(tmp_path: Path) -> None:
    """A path that is not on this worker fails before building, naming `weights` and the file."""
    import socket

    from experiment.config import parse_config
    from trainer.train import weights_source

    missing = tmp_path / "nowhere" / "r50.weights.h5"
    config = parse_config({"name": "x", "architecture": "resnet50", "weights": str(missing)})
    with pytest.raises(ConfigError) as info:
        weights_source(config)
    [(field, message)] = info.value.problems
    assert field == "weights" and str(missing) in message and socket.gethostname() in message

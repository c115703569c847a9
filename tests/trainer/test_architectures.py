"""Architectures: the report CNN's table exactly, ResNet-20 as in the Keras example."""

from __future__ import annotations

import numpy as np
import pytest

from experiment.architectures import BUILT_IN
from trainer.architectures import build_model

REPORT_TABLE = [
    ("Conv2D", (75, 75, 32), 896),
    ("Dropout", (75, 75, 32), 0),
    ("Conv2D", (25, 25, 32), 9_248),
    ("MaxPooling2D", (12, 12, 32), 0),
    ("Conv2D", (4, 4, 64), 18_496),
    ("MaxPooling2D", (2, 2, 64), 0),
    ("Flatten", (256,), 0),
    ("Dense", (512,), 131_584),
    ("Dense", (4,), 2_052),
]


def test_report_cnn_reproduces_the_summary_table() -> None:
    """At 224x224x3 and 4 classes: the report's layers, output shapes and 162,276 parameters."""
    model = build_model("report_cnn", 224, 4)
    rows = [
        (type(layer).__name__, tuple(layer.output.shape[1:]), layer.count_params())
        for layer in model.layers[1:]
    ]
    assert rows == REPORT_TABLE
    assert model.count_params() == 162_276


def test_resnet20_matches_the_keras_cifar10_example() -> None:
    """ResNet-20 v1 at 32x32x3 with 10 classes has the example's 274,442 parameters."""
    assert build_model("resnet20", 32, 10).count_params() == 274_442


def test_resnet20_takes_any_input_size() -> None:
    """Global average pooling lets ResNet-20 take 224 px images and 4 classes."""
    model = build_model("resnet20", 224, 4)
    assert model.output.shape[1:] == (4,)


def test_mobilenet_v2_builds_with_random_weights() -> None:
    """MobileNetV2 builds offline (no weights download) for 4 classes."""
    model = build_model("mobilenet_v2", 64, 4)
    out = model.predict(np.zeros((1, 64, 64, 3), dtype=np.float32), verbose=0)
    assert out.shape == (1, 4)


def test_too_small_images_are_refused_with_the_minimum() -> None:
    """A size below the architecture's minimum names the minimum."""
    with pytest.raises(ValueError, match="106"):
        build_model("report_cnn", 64, 4)


def test_the_labs_architectures_train_a_step() -> None:
    """report_cnn, resnet20 and mobilenet_v2 compile and train one step at their minimum size.

    Eager mode: tracing MobileNetV2's graph costs half a minute, and one eager step proves
    the same thing (gradients flow, the loss is finite). Every other backbone is built, not
    trained, in test_backbones.py.
    """
    rng = np.random.default_rng(0)
    for name in ("report_cnn", "resnet20", "mobilenet_v2"):
        size = max(BUILT_IN[name].min_image_size, 32)
        model = build_model(name, size, 3)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", run_eagerly=True)
        x = rng.random((4, size, size, 3), dtype=np.float32)
        history = model.fit(x, np.array([0, 1, 2, 0]), epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0]), name

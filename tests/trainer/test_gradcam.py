"""Grad-CAM on stored-model structures: image-sized maps in [0, 1] that point at the evidence."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from data.augment import AugmentSpec
from trainer.gradcam import GradCamUnavailable, grad_cam, grad_cams, has_conv
from trainer.model_io import model_from_bytes, model_to_bytes
from trainer.train import assemble_model

SIZE = 16


def _stored(core: keras.Model) -> keras.Model:
    """`core` wrapped as training stores it (augment + rescale), through a save and load."""
    model = assemble_model(core, SIZE, augment=AugmentSpec(horizontal_flip=True), seed=0)
    return model_from_bytes(model_to_bytes(model), compile=False)


@pytest.fixture(scope="module")
def brightness_model() -> keras.Model:
    """Conv features = local brightness; class 0 rises with them, class 1 falls."""
    inputs = keras.Input((SIZE, SIZE, 3))
    conv = keras.layers.Conv2D(2, 3, padding="same", activation="relu", name="conv")
    x = conv(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    dense = keras.layers.Dense(2, activation="softmax", name="probabilities")
    outputs = dense(x)
    core = keras.Model(inputs, outputs, name="tiny")
    conv.set_weights([np.full((3, 3, 3, 2), 1.0 / 27, np.float32), np.zeros(2, np.float32)])
    dense.set_weights([np.array([[1.0, -1.0], [1.0, -1.0]], np.float32), np.zeros(2, np.float32)])
    return _stored(core)


def _bright_corner() -> np.ndarray:
    pixels = np.zeros((SIZE, SIZE, 3), np.float32)
    pixels[:6, :6] = 255.0
    return pixels


def test_heatmap_is_image_sized_and_scaled_to_one(brightness_model: keras.Model) -> None:
    """The map has the image's (H, W), float32 values in [0, 1], and peaks at 1."""
    heatmap = grad_cam(brightness_model, _bright_corner())
    assert heatmap.shape == (SIZE, SIZE) and heatmap.dtype == np.float32
    assert heatmap.min() >= 0.0 and heatmap.max() == pytest.approx(1.0)


def test_heatmap_points_at_the_evidence(brightness_model: keras.Model) -> None:
    """For the class that bright pixels raise, the bright corner is hotter than the dark rest."""
    heatmap = grad_cam(brightness_model, _bright_corner(), class_index=0)
    assert heatmap[1:5, 1:5].min() > 0.9 and heatmap[10:, 10:].max() < 0.05


def test_a_class_nothing_raises_gives_zeros(brightness_model: keras.Model) -> None:
    """Class 1 only falls with brightness: the map is all zeros, still within [0, 1]."""
    heatmap = grad_cam(brightness_model, _bright_corner(), class_index=1)
    assert not heatmap.any()


def test_batch_matches_one_image_at_a_time(brightness_model: keras.Model) -> None:
    """`grad_cams` on a batch gives each image the map `grad_cam` gives it alone."""
    rng = np.random.default_rng(0)
    batch = rng.uniform(0, 255, (3, SIZE, SIZE, 3)).astype(np.float32)
    together = grad_cams(brightness_model, batch, [0, 0, 0])
    alone = np.stack([grad_cam(brightness_model, image, 0) for image in batch])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_report_cnn_heatmap_shape_and_range() -> None:
    """On the report's CNN (stride-3 convolutions) the map is still image-sized, in [0, 1]."""
    from trainer.architectures import build_model

    model = assemble_model(build_model("report_cnn", 112, 4), 112, augment=None, seed=0)
    pixels = np.random.default_rng(1).uniform(0, 255, (112, 112, 3)).astype(np.float32)
    heatmap = grad_cam(model, pixels)
    assert heatmap.shape == (112, 112)
    assert heatmap.min() >= 0.0 and heatmap.max() <= 1.0


def test_model_without_convolution_is_refused() -> None:
    """A dense-only architecture has nothing to explain: has_conv is False, grad_cam raises."""
    inputs = keras.Input((SIZE, SIZE, 3))
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(inputs))
    model = _stored(keras.Model(inputs, outputs, name="flat"))
    assert not has_conv(model)
    with pytest.raises(GradCamUnavailable, match="no convolution"):
        grad_cam(model, np.zeros((SIZE, SIZE, 3), np.float32))


def _brightness_backbone() -> keras.Model:
    """A nested "backbone" whose one feature is local brightness."""
    inputs = keras.Input((SIZE, SIZE, 3))
    conv = keras.layers.Conv2D(2, 3, padding="same", activation="relu", name="conv")
    backbone = keras.Model(inputs, conv(inputs), name="backbone")
    conv.set_weights([np.full((3, 3, 3, 2), 1.0 / 27, np.float32), np.zeros(2, np.float32)])
    return backbone


def _brightness_head() -> list[keras.layers.Layer]:
    """Pooling, then a softmax whose class 0 rises with brightness and class 1 falls."""
    dense = keras.layers.Dense(2, activation="softmax", name="probabilities")
    dense.build((None, 2))
    dense.set_weights([np.array([[1.0, -1.0], [1.0, -1.0]], np.float32), np.zeros(2, np.float32)])
    return [keras.layers.GlobalAveragePooling2D(), dense]


def test_the_feature_map_of_a_nested_backbone_points_at_the_evidence() -> None:
    """A functional model nested in the architecture (as keras.applications backbones are) is
    explained at its output, after a save and load."""
    inputs = keras.Input((SIZE, SIZE, 3))
    x = _brightness_backbone()(inputs)
    for layer in _brightness_head():
        x = layer(x)
    model = _stored(keras.Model(inputs, x))
    heatmap = grad_cam(model, _bright_corner(), class_index=0)
    assert heatmap[1:5, 1:5].min() > 0.9 and heatmap[10:, 10:].max() < 0.05


def test_a_sequential_user_model_around_a_backbone_is_explained() -> None:
    """A user's Sequential [backbone, pooling, softmax] works too (no InputLayer in its list)."""
    sequential = keras.Sequential(
        [keras.Input((SIZE, SIZE, 3)), _brightness_backbone(), *_brightness_head()], name="users"
    )
    model = _stored(sequential)
    assert has_conv(model)
    heatmap = grad_cam(model, _bright_corner(), class_index=0)
    assert heatmap[1:5, 1:5].min() > 0.9 and heatmap[10:, 10:].max() < 0.05


@pytest.mark.parametrize("name", ["mobilenet_v3_small", "mobilenet", "vgg16"])
def test_built_in_backbones_give_image_sized_heatmaps(name: str) -> None:
    """Built-in, "tf" and "caffe" preprocessing (VGG16: no batch norm either), at 32 px."""
    from experiment.architectures import BUILT_IN
    from trainer.architectures import build_model

    core = build_model(name, 32, 3)
    preprocessing = BUILT_IN[name].preprocessing
    model = assemble_model(core, 32, augment=None, seed=0, preprocessing=preprocessing)
    model = model_from_bytes(model_to_bytes(model), compile=False)
    pixels = np.random.default_rng(2).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    assert has_conv(model)
    heatmaps = grad_cams(model, pixels)
    assert heatmaps.shape == (2, 32, 32) and heatmaps.dtype == np.float32
    assert heatmaps.min() >= 0.0 and heatmaps.max() <= 1.0

"""Model builders: pure functions `(input_shape, num_classes, ...) -> keras.Model`.

The architecture is the model after preprocessing: `trainer.train.assemble_model` puts the
layers `experiment.architectures` names for it in front (the lab's own models and users' get
pixels in [0, 1]; each keras.applications backbone gets its own `preprocess_input`). No Lambda
layers anywhere, so every stored model loads with `safe_mode=True`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import keras
from keras import layers, regularizers

from experiment.architectures import (
    ArchitectureInfo,
    Preprocessing,
    architecture_info,
    is_user_architecture,
    unknown_architecture_message,
)
from trainer.user_models import build_user_model, load_builder
from trainer.weights import copy_backbone_from, imagenet_download, weights_error

Builder = Callable[[tuple[int, int, int], int], keras.Model]
# None: random; "imagenet": Keras's download; a Path: a file on this worker.
WeightsSource = str | Path | None


def build_report_cnn(input_shape: tuple[int, int, int], num_classes: int) -> keras.Model:
    """The study's 3-conv CNN, reproducing its summary table exactly.

    The report wrote Keras 1's `Convolution2D(32, 3, 3)`, which Keras 2+ reads as 32 filters,
    kernel 3, *stride 3*; that is what produced its 75x75 / 25x25 / 4x4 shapes and 162,276
    parameters at 224x224x3, so the strides are kept.
    """
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Conv2D(32, 3, strides=3, padding="same", activation="relu", name="conv1")(inputs)
    x = layers.Dropout(0.2, name="dropout")(x)
    x = layers.Conv2D(32, 3, strides=3, activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(64, 3, strides=3, activation="relu", name="conv3")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(512, activation="relu", name="dense")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="report_cnn")


def _resnet_layer(
    x: keras.KerasTensor,
    filters: int,
    *,
    kernel_size: int = 3,
    strides: int = 1,
    activation: str | None = "relu",
    batch_norm: bool = True,
) -> keras.KerasTensor:
    x = layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        kernel_initializer="he_normal",
        kernel_regularizer=regularizers.l2(1e-4),
    )(x)
    if batch_norm:
        x = layers.BatchNormalization()(x)
    if activation is not None:
        x = layers.Activation(activation)(x)
    return x


def build_resnet20(input_shape: tuple[int, int, int], num_classes: int) -> keras.Model:
    """ResNet v1, depth 20, as in the Keras CIFAR-10 ResNet example the report cites.

    Three stages of 16/32/64 filters with three residual blocks each, batch norm, 1x1
    projection shortcuts where the shape changes, then global average pooling (the example's
    8x8 average pool at 32 px, generalised to any input size).
    """
    blocks_per_stage = 3  # (depth - 2) / 6 with depth 20
    inputs = keras.Input(shape=input_shape, name="image")
    x = _resnet_layer(inputs, 16)
    filters = 16
    for stage in range(3):
        for block in range(blocks_per_stage):
            strides = 2 if stage > 0 and block == 0 else 1
            y = _resnet_layer(x, filters, strides=strides)
            y = _resnet_layer(y, filters, activation=None)
            if stage > 0 and block == 0:
                x = _resnet_layer(
                    x, filters, kernel_size=1, strides=strides, activation=None, batch_norm=False
                )
            x = layers.Activation("relu")(layers.add([x, y]))
        filters *= 2
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = layers.Dense(
        num_classes, activation="softmax", kernel_initializer="he_normal", name="probabilities"
    )(x)
    return keras.Model(inputs, outputs, name="resnet20")


OWN_BUILDERS: dict[str, Builder] = {"report_cnn": build_report_cnn, "resnet20": build_resnet20}


def build_backbone(info: ArchitectureInfo, image_size: int, weights: WeightsSource) -> keras.Model:
    """The keras.applications model, as Keras builds it with `include_top=False`.

    Keras loads `imagenet` and weights files itself (`weights=`); a `.keras` model's backbone
    is copied in after building.
    """
    assert info.application is not None
    constructor = getattr(keras.applications, info.application)
    from_model = isinstance(weights, Path) and weights.suffix == ".keras"
    keras_weights = None if from_model or weights is None else str(weights)
    guard = imagenet_download(info.name) if weights == "imagenet" else nullcontext()
    try:
        with guard:
            backbone = constructor(
                include_top=False, weights=keras_weights, input_shape=(image_size, image_size, 3)
            )
    except (ValueError, OSError) as error:
        if isinstance(weights, Path):
            raise weights_error(
                f"{weights} does not fit {info.name} built with include_top=False "
                f"({str(error)[:200]})"
            ) from None
        raise
    if from_model:
        assert isinstance(weights, Path)
        copy_backbone_from(backbone, weights, info.name)
    return backbone


def build_application(
    info: ArchitectureInfo,
    image_size: int,
    num_classes: int,
    *,
    head_dropout: float = 0.0,
    weights: WeightsSource = None,
) -> keras.Model:
    """The backbone, nested, plus the lab's head and nothing else.

    Head: global average pooling, optional dropout, one softmax Dense, so the parameter count
    is the backbone's plus one dense layer's. The backbone stays one nested model so that it
    can be frozen and unfrozen as a whole, and Grad-CAM finds its last feature map.
    """
    backbone = build_backbone(info, image_size, weights)
    inputs = keras.Input(shape=(image_size, image_size, 3), name="image")
    x = backbone(inputs)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if head_dropout > 0:
        x = layers.Dropout(head_dropout, name="head_dropout")(x)
    # float32 probabilities under mixed precision, as Keras's mixed-precision guide advises.
    outputs = layers.Dense(
        num_classes, activation="softmax", dtype="float32", name="probabilities"
    )(x)
    return keras.Model(inputs, outputs, name=info.name)


def preprocessing_of(architecture: str) -> Preprocessing:
    """What `assemble_model` puts in front of the architecture (users' builders: [0, 1])."""
    info = architecture_info(architecture)
    return info.preprocessing if info is not None else "unit"


def import_architecture(architecture: str) -> None:
    """Import a user's builder module (its custom layers must be registered before one of the
    run's checkpoints can be loaded); nothing for built-in names."""
    if architecture_info(architecture) is None and is_user_architecture(architecture):
        load_builder(architecture)


def build_model(
    architecture: str,
    image_size: int,
    num_classes: int,
    *,
    head_dropout: float = 0.0,
    weights: WeightsSource = None,
    params: dict[str, Any] | None = None,
) -> keras.Model:
    """Build an architecture for square RGB images of `image_size` pixels."""
    info = architecture_info(architecture)
    shape = (image_size, image_size, 3)
    if info is None:
        if not is_user_architecture(architecture):
            raise ValueError(unknown_architecture_message(architecture))
        return build_user_model(architecture, shape, num_classes, dict(params or {}))
    if image_size < info.min_image_size:
        raise ValueError(
            f"{architecture} needs image_size >= {info.min_image_size}, got {image_size}"
        )
    if info.is_application:
        return build_application(
            info, image_size, num_classes, head_dropout=head_dropout, weights=weights
        )
    return OWN_BUILDERS[architecture](shape, num_classes)

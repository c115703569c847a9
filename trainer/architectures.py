"""Model builders: pure functions `(input_shape, num_classes) -> keras.Model`.

No Lambda layers anywhere, so every stored model loads with `safe_mode=True`. Inputs are images
already rescaled to [0, 1] by the data pipeline (data/loader.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
from keras import layers, regularizers

from experiment.config import MIN_IMAGE_SIZE

Builder = Callable[[tuple[int, int, int], int], keras.Model]


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


def build_mobilenet_v2(input_shape: tuple[int, int, int], num_classes: int) -> keras.Model:
    """MobileNetV2 from keras.applications with random initial weights (nothing downloaded)."""
    return keras.applications.MobileNetV2(
        input_shape=input_shape, weights=None, classes=num_classes, include_top=True
    )


@dataclass(frozen=True)
class Architecture:
    name: str
    build: Builder
    min_image_size: int
    description: str


ARCHITECTURES: dict[str, Architecture] = {
    "report_cnn": Architecture(
        "report_cnn",
        build_report_cnn,
        MIN_IMAGE_SIZE["report_cnn"],
        "the report's 3-conv CNN (162,276 parameters at 224 px, 4 classes)",
    ),
    "resnet20": Architecture(
        "resnet20",
        build_resnet20,
        MIN_IMAGE_SIZE["resnet20"],
        "ResNet v1 depth 20 (Keras CIFAR-10 example)",
    ),
    "mobilenet_v2": Architecture(
        "mobilenet_v2",
        build_mobilenet_v2,
        MIN_IMAGE_SIZE["mobilenet_v2"],
        "keras.applications MobileNetV2, random weights",
    ),
}


def build_model(architecture: str, image_size: int, num_classes: int) -> keras.Model:
    """Build a registered architecture for square RGB images of `image_size` pixels."""
    try:
        spec = ARCHITECTURES[architecture]
    except KeyError:
        raise ValueError(
            f"unknown architecture {architecture!r}; choose one of {', '.join(ARCHITECTURES)}"
        ) from None
    if image_size < spec.min_image_size:
        raise ValueError(
            f"{architecture} needs image_size >= {spec.min_image_size}, got {image_size}"
        )
    return spec.build((image_size, image_size, 3), num_classes)

"""Grad-CAM: which parts of an image drove a stored model's class score.

A stored model is `pixels (0..255) -> [RandomAugment] -> preprocessing -> architecture`, the
architecture being a nested `keras.Model` and the last layer. Gradients are needed at a layer
inside that nested model, so the outer preprocessing layers run first (in inference mode, as
in prediction) and a functional model is rebuilt from the architecture's input to
[last convolutional feature map, class scores].

The feature map is the output of the architecture's last convolution, or of a model nested in
it (a keras.applications backbone, whose output with `include_top=False` is its last
convolutional block's activation, the layer Keras's own Grad-CAM example explains), whichever
comes last.

Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based
Localization" (2017): weights are the spatial mean of d score / d feature map, the map is the
ReLU of the weighted sum of feature maps, upsampled to the image.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf


class GradCamUnavailable(ValueError):
    """The model has no convolution to explain (or is not a stored model's shape)."""


CONVOLUTIONS = (
    keras.layers.Conv2D,
    keras.layers.SeparableConv2D,
    keras.layers.DepthwiseConv2D,
)


def architecture_of(model: keras.Model) -> keras.Model:
    """The nested architecture model a stored model ends with."""
    core = model.layers[-1]
    if not isinstance(core, keras.Model):
        raise GradCamUnavailable(f"{model.name} does not end with a nested architecture model")
    return core


def _is_feature_map(layer: keras.layers.Layer) -> bool:
    if isinstance(layer, CONVOLUTIONS):
        return True
    return isinstance(layer, keras.Model) and len(layer.outputs[0].shape) == 4


def last_conv_layer(core: keras.Model) -> keras.layers.Layer:
    """The last convolution of the architecture, or the last nested model (a backbone) whose
    output is a feature map."""
    for layer in reversed(core.layers):
        if _is_feature_map(layer):
            return layer
    raise GradCamUnavailable(f"{core.name} has no convolution and no nested convolutional model")


def has_conv(model: keras.Model) -> bool:
    """Whether Grad-CAM can explain this stored model."""
    try:
        core = architecture_of(model)
        _score_model(core, last_conv_layer(core))
    except GradCamUnavailable:
        return False
    return True


def _preprocess(model: keras.Model, pixels: tf.Tensor) -> tf.Tensor:
    """Run the outer layers between the input and the architecture, in inference mode."""
    x = pixels
    for layer in model.layers[:-1]:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        x = layer(x, training=False)
    return x


def _chain(core: keras.Model, nested: keras.Model, softmax_head: bool) -> keras.Model:
    """[nested model's output, scores] by calling the architecture's layers again in order.

    A nested model's `output` is its own inner tensor, not the one it produced inside the
    architecture, so the architecture is re-traced as a chain (as Keras builds its own
    applications' heads): each layer takes the previous one's output.
    """
    inputs = keras.Input(shape=tuple(core.inputs[0].shape[1:]))
    x, features = inputs, None
    layers = [layer for layer in core.layers if not isinstance(layer, keras.layers.InputLayer)]
    if softmax_head:
        layers = layers[:-1]
    try:
        for layer in layers:
            x = layer(x)
            if layer is nested:
                features = x
    except Exception as error:
        raise GradCamUnavailable(
            f"{core.name}: the layers around {nested.name} are not one chain ({error})"
        ) from None
    assert features is not None
    return keras.Model(inputs, [features, x])


# One score model per architecture: re-tracing a nested backbone adds a node to its layers each
# time, which a dashboard that explains many uploads with one cached model would accumulate.
_SCORE_MODELS: weakref.WeakKeyDictionary[keras.Model, tuple[keras.Model, bool]] = (
    weakref.WeakKeyDictionary()
)


def _score_model(core: keras.Model, conv: keras.layers.Layer) -> tuple[keras.Model, bool]:
    """A model from the architecture's input to [feature map, class scores] (built once).

    When the architecture ends with a softmax Dense, its input is returned instead of its
    output, and the caller applies the kernel: Grad-CAM differentiates the class's logit, since
    a saturated softmax has almost no gradient.
    """
    if core not in _SCORE_MODELS:
        _SCORE_MODELS[core] = _build_score_model(core, conv)
    return _SCORE_MODELS[core]


def _build_score_model(core: keras.Model, conv: keras.layers.Layer) -> tuple[keras.Model, bool]:
    head = core.layers[-1]
    softmax_head = (
        isinstance(head, keras.layers.Dense)
        and keras.activations.serialize(head.activation) == "softmax"
    )
    if isinstance(conv, keras.Model):
        return _chain(core, conv, softmax_head), softmax_head
    scores = head.input if softmax_head else core.output
    return keras.Model(core.inputs, [conv.output, scores]), softmax_head


def grad_cam(model: keras.Model, pixels: np.ndarray, class_index: int | None = None) -> np.ndarray:
    """A Grad-CAM heatmap of one image for one class, the image's size, scaled to [0, 1].

    Args:
        model: a stored model (`trainer.train.assemble_model`'s structure).
        pixels: (H, W, 3) float pixels in 0..255, as `load_image_for_prediction` returns.
        class_index: the class to explain; None explains the predicted class.

    Returns:
        float32 (H, W) in [0, 1]; all zeros when no location raises the class score.

    Raises:
        GradCamUnavailable: the architecture has no convolution to explain.
    """
    pixels = np.asarray(pixels, dtype=np.float32)
    return grad_cams(model, pixels[None], None if class_index is None else [class_index])[0]


def grad_cams(
    model: keras.Model, pixels: np.ndarray, class_indices: Sequence[int] | None = None
) -> np.ndarray:
    """Grad-CAM for a batch in one forward and backward pass: (N, H, W, 3) -> (N, H, W).

    The images do not interact (batch norm runs in inference mode), so the gradient of the sum
    of the chosen scores gives each image its own gradients. Each map is scaled to [0, 1] on
    its own. `class_indices` gives one class per image; None explains each predicted class.
    """
    core = architecture_of(model)
    conv = last_conv_layer(core)
    score_model, softmax_head = _score_model(core, conv)
    batch = tf.convert_to_tensor(np.asarray(pixels, dtype=np.float32))
    if class_indices is not None and len(class_indices) != batch.shape[0]:
        raise ValueError(f"{len(class_indices)} class indices for {batch.shape[0]} images")
    inputs = _preprocess(model, batch)
    with tf.GradientTape() as tape:
        tape.watch(inputs)  # records the forward pass even if no weight is trainable
        features, scores = score_model(inputs, training=False)
        features = tf.cast(features, tf.float32)
        scores = tf.cast(scores, tf.float32)
        if softmax_head:
            scores = _logits(core.layers[-1], scores)
        chosen = tf.argmax(scores, axis=1) if class_indices is None else list(class_indices)
        score = tf.reduce_sum(tf.gather(scores, chosen, axis=1, batch_dims=1))
    gradients = tape.gradient(score, features)
    height, width = int(batch.shape[1]), int(batch.shape[2])
    if gradients is None:  # the score does not depend on these features at all
        return np.zeros((int(batch.shape[0]), height, width), dtype=np.float32)
    weights = tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)
    cams = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1))
    return np.stack([_normalised(cam) for cam in _upsampled(cams, height, width)])


def _logits(head: keras.layers.Dense, hidden: tf.Tensor) -> tf.Tensor:
    """The softmax Dense's pre-activation: hidden @ kernel + bias."""
    logits = tf.matmul(hidden, tf.cast(head.kernel, tf.float32))
    return logits + tf.cast(head.bias, tf.float32) if head.use_bias else logits


def _upsampled(cams: tf.Tensor, height: int, width: int) -> np.ndarray:
    resized = tf.image.resize(cams[..., None], (height, width), method="bilinear")
    return np.asarray(resized[..., 0], dtype=np.float32)


def _normalised(cam: np.ndarray) -> np.ndarray:
    cam = np.nan_to_num(np.maximum(cam, 0.0), nan=0.0, posinf=0.0)
    peak = float(cam.max()) if cam.size else 0.0
    if peak <= 0.0:
        return np.zeros_like(cam, dtype=np.float32)
    return np.clip(cam / peak, 0.0, 1.0).astype(np.float32)

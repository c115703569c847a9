"""The layers that turn raw [0, 255] pixels into what an architecture expects.

Every stored model carries its preprocessing (`trainer.train.assemble_model` puts these layers
in front of the architecture), so Predict and Grad-CAM feed raw pixels to any model and cannot
drift from training. Each kind reproduces a `keras.applications` `preprocess_input` mode with
standard Keras layers only, so the stored `.keras` file loads anywhere with `safe_mode=True`
(tests compare every family against Keras's own `preprocess_input`).
"""

from __future__ import annotations

import keras

from experiment.architectures import Preprocessing

# keras.applications.imagenet_utils: the ImageNet statistics its "caffe" and "torch" modes use.
_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)


def _caffe(image_size: int) -> keras.Model:
    """RGB -> BGR, then minus the ImageNet mean per channel, without scaling.

    A nested model, so the outer model's layer list stays a simple chain (Grad-CAM runs the
    layers in front of the architecture one by one); the channel flip is a Keras op, which
    serialises without a Lambda layer.
    """
    inputs = keras.Input((image_size, image_size, 3), name="rgb")
    bgr = keras.ops.flip(inputs, axis=-1)
    centred = keras.layers.Rescaling(1.0, offset=[-m for m in _CAFFE_BGR_MEAN], name="centre")(bgr)
    return keras.Model(inputs, centred, name="preprocess")


def preprocessing_layers(kind: Preprocessing, image_size: int) -> list[keras.layers.Layer]:
    """The layers, in order, that take [0, 255] pixels to the architecture's input."""
    if kind == "unit":
        return [keras.layers.Rescaling(1.0 / 255, name="rescale")]
    if kind == "tf":
        return [keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="preprocess")]
    if kind == "torch":
        scale = [1.0 / (255.0 * std) for std in _TORCH_STD]
        offset = [-mean / std for mean, std in zip(_TORCH_MEAN, _TORCH_STD, strict=True)]
        return [keras.layers.Rescaling(scale, offset=offset, name="preprocess")]
    if kind == "caffe":
        return [_caffe(image_size)]
    if kind == "builtin":
        return []  # the Keras application rescales and normalises inside itself
    raise ValueError(f"unknown preprocessing {kind!r}")

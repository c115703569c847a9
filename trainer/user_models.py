"""Architectures of the user's own: `architecture: "package.module:function"`.

The function is imported on the worker (it must be installed there or on its `PYTHONPATH`) and
called as `build(input_shape, num_classes, **architecture_params) -> keras.Model`. Everything
that would make a run fail later, or make its stored model unusable, is checked before the
first epoch and reported as a config error naming `architecture`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any

import keras
import numpy as np

from experiment.architectures import split_user_architecture
from experiment.config import ConfigError
from trainer.model_io import model_from_bytes, model_to_bytes


def architecture_error(message: str) -> ConfigError:
    return ConfigError([("architecture", message)])


def load_builder(architecture: str) -> Callable[..., Any]:
    """Import the builder; importing also registers the module's custom Keras layers, which a
    checkpoint of the run needs before it can be loaded."""
    module_name, function = split_user_architecture(architecture)
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        raise architecture_error(
            f"cannot import {module_name} for {architecture} ({type(error).__name__}: {error}); "
            "install it on the workers or put its folder on their PYTHONPATH"
        ) from None
    builder = getattr(module, function, None)
    if not callable(builder):
        raise architecture_error(f"module {module_name} has no function {function!r}")
    return builder


def build_user_model(
    architecture: str,
    input_shape: tuple[int, int, int],
    num_classes: int,
    params: dict[str, Any],
) -> keras.Model:
    """Call the user's builder and check what it returned (see `check_user_model`)."""
    builder = load_builder(architecture)
    try:
        model = builder(input_shape, num_classes, **params)
    except Exception as error:
        raise architecture_error(
            f"{architecture}({input_shape}, {num_classes}, **architecture_params) raised "
            f"{type(error).__name__}: {error}"
        ) from None
    check_user_model(architecture, model, input_shape, num_classes)
    return model


def _layers(model: keras.Model) -> Iterator[keras.layers.Layer]:
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _layers(layer)


def _fits(shape: tuple[int | None, ...], wanted: tuple[int, ...]) -> bool:
    return len(shape) == len(wanted) and all(
        s in (None, w) for s, w in zip(shape, wanted, strict=True)
    )


def check_user_model(
    architecture: str, model: Any, input_shape: tuple[int, int, int], num_classes: int
) -> None:
    """A Keras model with one image input, one softmax output per class, and no Lambda layer,
    that survives a save and a `safe_mode` load (what every checkpoint of the run does)."""
    if not isinstance(model, keras.Model):
        raise architecture_error(
            f"{architecture} returned {type(model).__name__}, not a keras.Model"
        )
    if len(model.inputs) != 1 or not _fits(tuple(model.inputs[0].shape[1:]), input_shape):
        shapes = [tuple(i.shape) for i in model.inputs]
        raise architecture_error(
            f"{architecture} returned a model whose inputs are {shapes}; it must take one "
            f"image batch of shape (None, {', '.join(map(str, input_shape))})"
        )
    if len(model.outputs) != 1 or tuple(model.outputs[0].shape[1:]) != (num_classes,):
        shapes = [tuple(o.shape) for o in model.outputs]
        raise architecture_error(
            f"{architecture} returned a model whose output shape is "
            f"{shapes[0] if len(shapes) == 1 else shapes}; it must be (None, {num_classes}), "
            "one probability per class of the dataset"
        )
    lambdas = [layer.name for layer in _layers(model) if isinstance(layer, keras.layers.Lambda)]
    if lambdas:
        raise architecture_error(
            f"{architecture} uses Lambda layers ({', '.join(lambdas)}), which a stored model "
            "cannot load safely; use keras.ops in the functional graph or a layer subclass "
            "registered with @keras.saving.register_keras_serializable()"
        )
    probe = np.zeros((1, *input_shape), dtype=np.float32)
    output = np.asarray(model(probe, training=False), dtype=np.float64)
    total = float(output.sum())
    if not np.all(output >= -1e-6) or abs(total - 1.0) > 1e-3:
        raise architecture_error(
            f"{architecture} must end with a softmax: its outputs for a blank image sum to "
            f"{total:.3g}, not 1 (the lab trains with sparse categorical cross-entropy on "
            "probabilities)"
        )
    try:
        model_from_bytes(model_to_bytes(model), compile=False)
    except Exception as error:
        raise architecture_error(
            f"{architecture}'s model cannot be saved and loaded again ({type(error).__name__}: "
            f"{str(error)[:200]}); register custom layers with "
            "@keras.saving.register_keras_serializable() and give them get_config()"
        ) from None

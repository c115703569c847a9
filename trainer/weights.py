"""Where a backbone's initial weights come from: `weights: imagenet | null | PATH`.

`imagenet` goes through Keras's own download and cache (`~/.keras/models`, or `$KERAS_HOME`).
Keras's applications fetch their file with `keras.utils.get_file` while the model is built;
`imagenet_download` wraps that one call so that a worker without network access fails at once
with the file's name, the folder Keras looks in and the address to fetch it from, instead of a
bare URL error. A PATH is either a weights file for the same constructor with
`include_top=False` (what Keras's `weights=` argument takes: `.weights.h5`, or the legacy `.h5`
files Keras downloads) or a `.keras` model whose backbone matches, e.g. a run's stored model.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import keras
from keras.src.backend import config as keras_config
from keras.src.utils import file_utils

from experiment.config import ConfigError
from settings import resolve_dataset_path
from trainer.model_io import model_from_bytes

# Seconds without a byte before a download is given up (a firewall that drops packets would
# otherwise hang the worker for good); a slow but moving download is not limited.
DOWNLOAD_TIMEOUT = 60.0


class WeightsUnavailable(RuntimeError):
    """ImageNet weights are neither in Keras's cache nor downloadable; says what to fetch."""


def weights_error(message: str) -> ConfigError:
    return ConfigError([("weights", message)])


def resolve_weights_path(value: str) -> Path:
    """A config's weights path on this worker; relative paths are taken from the repository
    root, as dataset paths are, so workers on several machines agree."""
    path = resolve_dataset_path(value)
    if not path.is_file():
        raise weights_error(f"no file {path} on {socket.gethostname()}")
    return path


def _cache_target(fname: str | None, origin: str, kwargs: dict[str, Any]) -> Path:
    """Where `get_file` looks for `fname`, by its own rules (a read-only home falls back to
    /tmp/.keras)."""
    base = os.path.expanduser(kwargs.get("cache_dir") or keras_config.keras_home())
    if not os.access(base, os.W_OK):
        base = os.path.join("/tmp", ".keras")
    name = fname or os.path.basename(origin)
    return Path(base) / kwargs.get("cache_subdir", "datasets") / name


def _guarded(original: Callable[..., str], architecture: str) -> Callable[..., str]:
    def get_file(fname: str | None = None, origin: str = "", *args: Any, **kwargs: Any) -> str:
        target = _cache_target(fname, origin, kwargs)
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)
        try:
            return original(fname, origin, *args, **kwargs)
        except Exception as error:
            reason = str(error).replace(origin, "").strip(" :-")[:120]
            raise WeightsUnavailable(
                f"weights: imagenet for {architecture} needs {target.name} in "
                f"{target.parent}, and Keras could not download it ({reason}). Fetch {origin} "
                f"and put it at {target} on every worker, or give its path as weights:"
            ) from error
        finally:
            socket.setdefaulttimeout(previous)

    return get_file


@contextmanager
def imagenet_download(architecture: str) -> Iterator[None]:
    """While a keras.applications model is built with `weights="imagenet"`."""
    original = file_utils.get_file
    file_utils.get_file = _guarded(original, architecture)
    try:
        yield
    finally:
        file_utils.get_file = original


def _models_in(model: keras.Model) -> Iterator[keras.Model]:
    yield model
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _models_in(layer)


def _shapes(model: keras.Model) -> list[tuple[int | None, ...]]:
    return [tuple(weight.shape) for weight in model.weights]


def copy_backbone_from(backbone: keras.Model, path: Path, architecture: str) -> None:
    """Give `backbone` the weights of the matching model inside a `.keras` file.

    The file may be a run's stored model (the backbone is nested inside it) or a backbone
    saved on its own; the head and anything else in it are ignored.
    """
    try:
        source = model_from_bytes(path.read_bytes(), compile=False)
    except Exception as error:
        raise weights_error(f"{path} is not a .keras model this lab can load ({error})") from None
    wanted = _shapes(backbone)
    for candidate in _models_in(source):
        if _shapes(candidate) == wanted:
            backbone.set_weights(candidate.get_weights())
            return
    found = ", ".join(f"{m.name} ({len(m.weights)} tensors)" for m in _models_in(source))
    raise weights_error(
        f"{path} holds no backbone like {architecture}'s ({len(wanted)} weight tensors with "
        f"include_top=False); it holds {found}"
    )

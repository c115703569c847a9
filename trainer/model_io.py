"""Keras models to and from bytes: the only way models enter or leave the database."""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras

import data.augment  # noqa: F401  registers RandomAugment, which GPU-trained models contain

_FILE_NAME = "model.keras"  # ours, never built from user input
# Registered names of the lab's own serialisable classes (data.augment.RandomAugment).
_OWN_PACKAGES = ("weather_lab>",)


def save_model_file(model: keras.Model, path: Path) -> None:
    """Save a .keras file at `path` (its name must end in .keras)."""
    model.save(path)


def model_to_bytes(model: keras.Model) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / _FILE_NAME
        model.save(path)
        return path.read_bytes()


def model_from_bytes(data: bytes, *, compile: bool) -> keras.Model:
    """Load a .keras file this app wrote; `safe_mode` refuses any deserialised code."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / _FILE_NAME
        path.write_bytes(data)
        return keras.saving.load_model(path, compile=compile, safe_mode=True)


def _objects(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "class_name" in node and "module" in node:
            yield node
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value)


def _foreign(item: dict[str, Any]) -> str | None:
    """The class an object of a saved config needs beyond Keras and the lab, if any."""
    module, name = str(item.get("module") or ""), str(item.get("class_name"))
    registered = str(item.get("registered_name") or "")
    if module == "keras" or module.startswith("keras.") or registered.startswith(_OWN_PACKAGES):
        return None
    if module == "builtins":  # functions: Keras's own are plain names, registered ones "pkg>fn"
        config = item.get("config")
        if isinstance(config, str) and ">" in config and not config.startswith(_OWN_PACKAGES):
            return config
        return None
    return registered or f"{module}.{name}"


def custom_objects_in(data: bytes) -> list[str]:
    """Classes and functions a stored model needs that neither Keras nor the lab provides.

    Such a model loads only where the code that defines them is imported (the worker that
    trained it); the dashboard never imports users' code, so Predict and Grad-CAM say so instead
    of failing. Read from the file's config: nothing is deserialised. The compile config
    (a custom metric or loss) is left out: Predict and Grad-CAM load without compiling.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        config = json.loads(archive.read("config.json"))
    if isinstance(config, dict):
        config.pop("compile_config", None)
    return sorted({name for item in _objects(config) if (name := _foreign(item))})

"""Keras models to and from bytes: the only way models enter or leave the database."""

from __future__ import annotations

import tempfile
from pathlib import Path

import keras

import data.augment  # noqa: F401  registers RandomAugment, which GPU-trained models contain

_FILE_NAME = "model.keras"  # ours, never built from user input


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

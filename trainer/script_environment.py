"""What a script's run records about where and with what it ran, and about its model.

Read once per `fit` by `LabCallback` (trainer/tracking.py); nothing here may stop training,
so what cannot be known is None.
"""

from __future__ import annotations

import getpass
import importlib.metadata
import os
import platform
import socket
import sys
from pathlib import Path
from typing import Any

import keras

from trainer.environment import git_commit
from trainer.finetune import parameter_counts

_PACKAGES = ("keras", "tensorflow", "jax", "torch", "numpy", "scikit-learn", "pandas")


def main_file() -> Path | None:
    """The script Python was started with (None in a notebook or `python -c`)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return Path(path).resolve() if path else None


def script_name() -> str:
    """A run's default name: the script's file name without `.py`."""
    path = main_file()
    return path.stem if path is not None else "script"


def parameter_counts_of(model: keras.Model) -> tuple[int | None, int | None]:
    """(total, trainable) parameters; None before the model is built."""
    try:
        return parameter_counts(model)
    except ValueError:  # not built yet
        return None, None


def model_summary(model: keras.Model) -> dict[str, Any] | None:
    """The layers and parameter counts as the Model tab shows them; None if Keras cannot say."""
    from trainer.train import model_summary as summary

    try:
        return summary(model)
    except Exception:  # a model Keras cannot summarise yet must not stop the training
        return None


def output_names(model: keras.Model) -> list[str]:
    """Class names for Predict when the script gave none: "0", "1", ... per output unit."""
    shape = getattr(model, "output_shape", None)
    width = shape[-1] if isinstance(shape, tuple) and shape else None
    return [str(i) for i in range(int(width))] if isinstance(width, int) else []


def image_size(model: keras.Model) -> int | None:
    """The side of a square image input (height, width, channels), else None."""
    shape = getattr(model, "input_shape", None)
    if isinstance(shape, tuple) and len(shape) == 4 and shape[1] == shape[2] and shape[1]:
        return int(shape[1])
    return None


def _versions() -> dict[str, str]:
    found = {}
    for name in _PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def script_environment(model: keras.Model) -> dict[str, Any]:
    """Where and with what the script ran: enough to find and re-run it."""
    script = main_file()
    folder = script.parent if script is not None else Path.cwd()
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = None
    return {
        "script": str(script) if script is not None else None,
        "argv": sys.argv[1:],
        "cwd": os.getcwd(),
        "host": socket.gethostname(),
        "user": user,
        "pid": os.getpid(),
        "python": platform.python_version(),
        "git_commit": git_commit(folder),
        "keras_backend": keras.backend.backend(),
        "packages": _versions(),
        "model": model_summary(model),
    }

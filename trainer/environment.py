"""What a run needs recorded to be reproduced: versions, device, dataset and code revision."""

from __future__ import annotations

import platform
import socket
import subprocess
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from settings import PROJECT_ROOT
from trainer.devices import Device


def git_commit(folder: Path = PROJECT_ROOT) -> str | None:
    """The commit of the checkout holding `folder` (the lab's own by default), or None outside
    a git checkout (an installed copy, say)."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and commit else None


def describe_environment(device: Device, dataset_fingerprint: str) -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "device": device.describe(),
        "host": socket.gethostname(),
        "dataset_fingerprint": dataset_fingerprint,
        "git_commit": git_commit(),
    }

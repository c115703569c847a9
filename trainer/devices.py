"""Which device a worker trains on: a GPU when TensorFlow sees one, the CPU otherwise."""

from __future__ import annotations

import contextlib
import platform
from dataclasses import dataclass
from typing import Any


class DeviceError(RuntimeError):
    """A requested GPU does not exist; the message lists what TensorFlow sees."""


@dataclass(frozen=True)
class Device:
    kind: str  # "GPU" or "CPU"
    name: str

    @property
    def is_gpu(self) -> bool:
        return self.kind == "GPU"

    def describe(self) -> str:
        return f"{self.kind}: {self.name}"


def visible_gpus() -> list[Any]:
    # TensorFlow is imported here, not at module level: the CLI imports DeviceError cheaply.
    import tensorflow as tf

    return list(tf.config.list_physical_devices("GPU"))


def setup_device(gpu_index: int | None = None) -> Device:
    """Pick this process's device before TensorFlow creates any tensor.

    Memory growth is switched on so several workers can share one card (TensorFlow otherwise
    grabs nearly all of its memory at start). `gpu_index` pins the worker to one GPU.
    """
    import tensorflow as tf

    gpus = visible_gpus()
    if gpu_index is not None:
        if not 0 <= gpu_index < len(gpus):
            seen = ", ".join(gpu.name for gpu in gpus) or "none"
            raise DeviceError(f"--gpu {gpu_index}: TensorFlow sees {len(gpus)} GPU(s) ({seen})")
        gpus = [gpus[gpu_index]]
        tf.config.set_visible_devices(gpus, "GPU")
    for gpu in gpus:
        # RuntimeError: already initialised by an earlier call here; growth was set then.
        with contextlib.suppress(RuntimeError):
            tf.config.experimental.set_memory_growth(gpu, True)
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return Device("GPU", str(details.get("device_name") or gpus[0].name))
    return Device("CPU", platform.processor() or platform.machine() or "cpu")

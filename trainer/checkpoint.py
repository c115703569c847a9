"""Per-epoch checkpoints: the model with its optimizer state plus the callbacks' counters.

A checkpoint is one zip held in the database (artifact kind "checkpoint"), written in the same
transaction as the epoch's metrics, so a run resumed on any machine continues from exactly the
last epoch whose curve point exists.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_MODEL = "model.keras"
_STATE = "state.json"
_BEST = "best_weights.npz"


@dataclass(frozen=True)
class Checkpoint:
    epoch: int  # epochs finished; training resumes at this (0-based) epoch index
    model_bytes: bytes
    callback_state: dict[str, Any] = field(default_factory=dict)
    best_weights: list[np.ndarray] | None = None


def pack(checkpoint: Checkpoint) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(_MODEL, checkpoint.model_bytes)
        state = {"epoch": checkpoint.epoch, "callbacks": checkpoint.callback_state}
        archive.writestr(_STATE, json.dumps(state))
        if checkpoint.best_weights is not None:
            arrays = io.BytesIO()
            np.savez(arrays, *checkpoint.best_weights)
            archive.writestr(_BEST, arrays.getvalue())
    return buffer.getvalue()


def unpack(data: bytes) -> Checkpoint:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        state = json.loads(archive.read(_STATE))
        best = None
        if _BEST in archive.namelist():
            with np.load(io.BytesIO(archive.read(_BEST)), allow_pickle=False) as arrays:
                best = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
        return Checkpoint(
            epoch=int(state["epoch"]),
            model_bytes=archive.read(_MODEL),
            callback_state=dict(state["callbacks"]),
            best_weights=best,
        )

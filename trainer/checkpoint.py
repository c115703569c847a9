"""Per-epoch checkpoints: the model with its optimizer state plus the callbacks' counters.

A checkpoint is one zip in the artifact store (artifact kind "checkpoint"); the pointer to it
moves in the same transaction as the epoch's metrics, so a run resumed on any machine continues
from exactly the last epoch whose curve point exists.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
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


def write_checkpoint(
    path: Path,
    *,
    epoch: int,
    model_file: Path,
    callback_state: dict[str, Any],
    best_weights: list[np.ndarray] | None = None,
) -> None:
    """The checkpoint zip `unpack` reads, written to `path` from a saved model file (so a big
    model is never held in memory while it is written)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.write(model_file, _MODEL)
        _write_state(archive, epoch, callback_state, best_weights)


def _write_state(
    archive: zipfile.ZipFile,
    epoch: int,
    callback_state: dict[str, Any],
    best_weights: list[np.ndarray] | None,
) -> None:
    archive.writestr(_STATE, json.dumps({"epoch": epoch, "callbacks": callback_state}))
    if best_weights is not None:
        arrays = io.BytesIO()
        np.savez(arrays, *best_weights)
        archive.writestr(_BEST, arrays.getvalue())


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

"""Predict with a stored model: found by run id, checksum-verified, loaded with safe_mode."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np

from data.images import load_image_for_prediction
from db.artifact_store import ArtifactStore
from db.artifacts import ArtifactUnavailable, load_artifact
from db.models import ArtifactKind, RunStatus
from db.runs import get_run
from db.session import Database
from trainer.model_io import model_from_bytes


class ModelNotAvailable(LookupError):
    """The run has no usable model; the message says why (unknown run, not finished, ...)."""


@dataclass(frozen=True)
class LoadedModel:
    run_id: int
    model: keras.Model
    class_names: tuple[str, ...]
    image_size: int


def load_run_model(
    database: Database, run_id: int, store: ArtifactStore | None = None
) -> LoadedModel:
    """Load the model a run stored; only bytes this app wrote, verified by their sha256.

    `store` is the process's artifact store (settings `LAB_ARTIFACTS`), needed for models kept
    in an artifact folder; models in the database load without it.
    """
    with database.read() as session:
        run = get_run(session, run_id)
        if run is None:
            raise ModelNotAvailable(f"there is no run {run_id}")
        if run.status is not RunStatus.SUCCEEDED:
            raise ModelNotAvailable(
                f"run {run_id} is {run.status.value}; only succeeded runs have a model"
            )
        try:
            artifact = load_artifact(session, run_id, ArtifactKind.MODEL, store)
        except ArtifactUnavailable as error:
            raise ModelNotAvailable(str(error)) from None
    if artifact is None:
        raise ModelNotAvailable(f"run {run_id} stored no model")
    return LoadedModel(
        run_id=run_id,
        model=model_from_bytes(artifact.data, compile=False),
        class_names=tuple(artifact.meta["class_names"]),
        image_size=int(artifact.meta["image_size"]),
    )


def predict_images(
    loaded: LoadedModel, images: Sequence[bytes], names: Sequence[str] | None = None
) -> np.ndarray:
    """Class probabilities, one row per image, preprocessed exactly as in training.

    Raises data.images.ImageError (naming the image) for bytes that are not a usable image.
    """
    if not images:
        return np.zeros((0, len(loaded.class_names)), dtype=np.float32)
    labels = list(names) if names is not None else [f"image {i + 1}" for i in range(len(images))]
    batch = np.stack(
        [
            load_image_for_prediction(data, loaded.image_size, name=name)
            for data, name in zip(images, labels, strict=True)
        ]
    )
    return np.asarray(loaded.model.predict(batch, verbose=0), dtype=np.float32)

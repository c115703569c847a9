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
from trainer.model_io import custom_objects_in, model_from_bytes


class ModelNotAvailable(LookupError):
    """The run has no usable model; the message says why (unknown run, not finished, ...)."""


class ModelNeedsUserCode(ModelNotAvailable):
    """The run's model uses classes only its user's code defines, which the lab imports only
    where asked to (`python -m trainer predict` on a worker); `custom_objects` names them."""

    def __init__(
        self, run_id: int, architecture: str, custom_objects: Sequence[str], why: str = ""
    ) -> None:
        self.custom_objects = tuple(custom_objects)
        where = why or (
            "which the lab does not import here; on a worker that has that code, "
            f"`python -m trainer predict {run_id} IMAGE...` loads it"
        )
        super().__init__(
            f"run {run_id}'s model ({architecture}) uses {', '.join(custom_objects)}, defined "
            f"only by its own code, {where}"
        )


@dataclass(frozen=True)
class LoadedModel:
    run_id: int
    model: keras.Model
    class_names: tuple[str, ...]
    image_size: int


def load_run_model(
    database: Database,
    run_id: int,
    store: ArtifactStore | None = None,
    *,
    user_code: bool = False,
) -> LoadedModel:
    """Load the model a run stored; only bytes this app wrote, verified by their sha256.

    `store` is the process's artifact store (settings `LAB_ARTIFACTS`), needed for models kept
    in an artifact folder; models in the database load without it. `user_code` (the CLI on a
    worker, never the dashboard) imports the module of a run's own builder first, which
    registers the custom layers its model needs.
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
    architecture = str(artifact.meta.get("architecture", run.architecture))
    if artifact.meta.get("image_size") is None:  # a script's model of other inputs
        raise ModelNotAvailable(
            f"run {run_id}'s model ({architecture}) does not take square images, so Predict "
            "cannot feed it one"
        )
    custom = list(artifact.meta.get("custom_objects") or ())
    if custom and not user_code:
        raise ModelNeedsUserCode(run_id, architecture, custom)
    if custom:
        _import_user_code(run_id, architecture, custom)
    try:
        model = model_from_bytes(artifact.data, compile=False)
    except TypeError as error:  # a model stored before custom objects were recorded
        if "Could not locate" not in str(error):
            raise
        raise ModelNeedsUserCode(run_id, architecture, custom_objects_in(artifact.data)) from None
    return LoadedModel(
        run_id=run_id,
        model=model,
        class_names=tuple(artifact.meta["class_names"]),
        image_size=int(artifact.meta["image_size"]),
    )


def _import_user_code(run_id: int, architecture: str, custom: Sequence[str]) -> None:
    """Import the builder's module, whose import registers the model's custom layers."""
    from experiment.architectures import is_user_architecture
    from experiment.config import ConfigError
    from trainer.user_models import load_builder

    if not is_user_architecture(architecture):
        raise ModelNeedsUserCode(run_id, architecture, custom, "which no builder names")
    try:
        load_builder(architecture)
    except ConfigError as error:
        why = f"which does not import here: {error.problems[0][1]}"
        raise ModelNeedsUserCode(run_id, architecture, custom, why) from None


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

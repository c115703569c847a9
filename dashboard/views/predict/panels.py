"""Predict with stored models: each run's top-k classes and a Grad-CAM heatmap per image.

TensorFlow is imported only inside the functions that need it, so the other pages never pay
for it. Images are decoded and resized by `data.images.load_image_for_prediction`, the resize
training uses; the stored model rescales pixels itself, so prediction cannot drift from
training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.queries import HASH_FUNCS
from dashboard.text import md_escape
from dashboard.views.predict.figures import top_k, top_k_figure
from dashboard.views.predict.gradcam_view import overlay_heatmap
from db.artifacts import ArtifactIntegrityError
from db.session import Database

if TYPE_CHECKING:
    from trainer.predict import LoadedModel

IMAGE_TYPES = ["jpg", "jpeg", "png", "bmp", "gif", "webp"]
MAX_RUNS = 4


class Upload(NamedTuple):
    name: str
    data: bytes


@dataclass(frozen=True)
class Verdict:
    """One run's answer for one image: probabilities, and where it looked (if it can say)."""

    probabilities: np.ndarray  # (K,)
    pixels: np.ndarray  # (S, S, 3) uint8: the image as the model saw it
    heatmap: np.ndarray | None  # (S, S) in [0, 1]; None without Grad-CAM


@dataclass(frozen=True)
class RunAnswers:
    """A run's verdict per upload (None where the upload is not an image) and the errors."""

    class_names: tuple[str, ...]
    verdicts: list[Verdict | None]
    errors: dict[int, str]  # upload index -> why it could not be read
    explains: bool  # whether the model has a convolution Grad-CAM can use


def model_labels(models: pd.DataFrame) -> dict[int, str]:
    """Run id -> `7 · name (best val acc 0.914)`, so the picker says which model is better."""
    labels: dict[int, str] = {}
    for run_id, label, best in zip(
        models["id"], models["label"], models["best_val_accuracy"], strict=True
    ):
        labels[int(run_id)] = label if pd.isna(best) else f"{label} (best val acc {best:.3f})"
    return labels


@st.cache_resource(max_entries=4, show_spinner="Loading the model…", hash_funcs=HASH_FUNCS)
def load_model(database: Database, run_id: int) -> LoadedModel:
    """The run's model, loaded once per server for every session (keyed by run id)."""
    from trainer.predict import load_run_model

    return load_run_model(database, run_id)


def decode_uploads(uploads: Sequence[Upload], size: int) -> list[np.ndarray | str]:
    """Model-ready pixels per upload, or the reason (naming the file) it is not usable.

    data's ImageError is a ValueError, like every "these bytes are not an image" failure.
    """
    from data.images import load_image_for_prediction

    decoded: list[np.ndarray | str] = []
    for upload in uploads:
        try:
            decoded.append(load_image_for_prediction(upload.data, size, name=upload.name))
        except ValueError as error:
            decoded.append(str(error))
    return decoded


def answer(loaded: LoadedModel, uploads: Sequence[Upload], explain: bool) -> RunAnswers:
    """Predict every readable upload in one batch; Grad-CAM the predicted class if asked."""
    from trainer.gradcam import grad_cams, has_conv

    decoded = decode_uploads(uploads, loaded.image_size)
    errors = {i: item for i, item in enumerate(decoded) if isinstance(item, str)}
    good = [i for i in range(len(uploads)) if i not in errors]
    verdicts: list[Verdict | None] = [None] * len(uploads)
    explains = has_conv(loaded.model)
    if good:
        batch = np.stack([decoded[i] for i in good]).astype(np.float32)
        probabilities = np.asarray(loaded.model.predict(batch, verbose=0), dtype=np.float32)
        heatmaps = None
        if explain and explains:
            heatmaps = grad_cams(loaded.model, batch, probabilities.argmax(axis=1).tolist())
        for row, index in enumerate(good):
            verdicts[index] = Verdict(
                probabilities=probabilities[row],
                pixels=np.clip(batch[row], 0, 255).round().astype(np.uint8),
                heatmap=None if heatmaps is None else heatmaps[row],
            )
    return RunAnswers(loaded.class_names, verdicts, errors, explains)


@st.cache_data(max_entries=16, show_spinner="Predicting…", hash_funcs=HASH_FUNCS)
def run_answers(
    database: Database, run_id: int, uploads: tuple[Upload, ...], explain: bool
) -> RunAnswers:
    """`answer` for a run's model, cached per run and uploaded bytes (reruns are instant)."""
    return answer(load_model(database, run_id), uploads, explain)


def show_predictions(
    database: Database,
    run_ids: Sequence[int],
    labels: dict[int, str],
    uploads: Sequence[Upload],
    *,
    k: int,
    explain: bool,
) -> None:
    """Per image: the photo, then each run's heatmap and top-k classes side by side.

    A run whose model cannot be used gets one error; so does each file that is not an image,
    and the other files are still predicted.
    """
    answers: dict[int, RunAnswers] = {}
    for run_id in run_ids:
        try:
            answers[run_id] = run_answers(database, run_id, tuple(uploads), explain)
        except (ArtifactIntegrityError, LookupError) as error:  # LookupError: ModelNotAvailable
            st.error(f"Run {run_id}: {md_escape(str(error))}", icon=":material/error:")
    if not answers:
        return
    errors = next(iter(answers.values())).errors
    for index, message in errors.items():
        name = uploads[index].name
        text = message if message.startswith(f"{name}:") else f"{name}: {message}"
        st.error(md_escape(text), icon=":material/error:")  # the file name, as text
    for index, upload in enumerate(uploads):
        if index not in errors:
            _image_row(index, upload, answers, labels, k, explain)


def _image_row(
    index: int,
    upload: Upload,
    answers: dict[int, RunAnswers],
    labels: dict[int, str],
    k: int,
    explain: bool,
) -> None:
    st.divider()
    columns = st.columns([1] + [1] * len(answers))
    columns[0].image(upload.data, caption=md_escape(upload.name), width="stretch")
    for column, (run_id, result) in zip(columns[1:], answers.items(), strict=True):
        verdict = result.verdicts[index]
        if verdict is None:
            continue
        [(best, probability)] = top_k(result.class_names, verdict.probabilities.tolist(), 1)
        column.markdown(f"**{md_escape(labels.get(run_id, str(run_id)))}**")
        column.markdown(f"{md_escape(best)} · {probability:.1%}")
        if verdict.heatmap is not None:
            column.image(
                overlay_heatmap(verdict.pixels, verdict.heatmap),
                caption=f"Grad-CAM for {md_escape(best)}",
                width="stretch",
            )
        elif explain and not result.explains:
            column.caption("This model has no convolution for Grad-CAM to explain.")
        column.plotly_chart(
            top_k_figure(result.class_names, verdict.probabilities.tolist(), k),
            width="stretch",
            key=f"predict.top.{index}.{run_id}",
        )

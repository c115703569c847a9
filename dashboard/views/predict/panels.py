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

from dashboard.artifacts import artifact_store, store_name
from dashboard.queries import (
    HASH_FUNCS,
    fetch_all_thumbnails,
    fetch_model_meta,
    fetch_model_pointer,
)
from dashboard.text import custom_layers_note, md_escape
from dashboard.views.predict.confidence import (
    Reference,
    colour_features,
    doubts,
    reference_from,
    thumbnail_features,
)
from dashboard.views.predict.figures import top_k, top_k_figure
from dashboard.views.predict.gradcam_view import overlay_on_photo, photo_pixels
from db.artifact_store import ArtifactStore, ArtifactStoreError
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


LABEL_CHARS = 34  # a picker chip's name part: four chips fit the page's width


def model_labels(models: pd.DataFrame) -> dict[int, str]:
    """Run id -> `7 · name · 0.914` (its best val accuracy), short enough that the picked
    chips fit side by side, so the picker says which model is better."""
    labels: dict[int, str] = {}
    for run_id, name, best in zip(
        models["id"], models["name"], models["best_val_accuracy"], strict=True
    ):
        name = str(name)
        short = name if len(name) <= LABEL_CHARS else name[: LABEL_CHARS - 1] + "…"
        label = f"{int(run_id)} · {short}"
        labels[int(run_id)] = label if pd.isna(best) else f"{label} · {best:.3f}"
    return labels


@st.cache_data(ttl=300, max_entries=8, show_spinner=False, hash_funcs=HASH_FUNCS)
def training_reference(database: Database, run_id: int) -> Reference | None:
    """The colour statistics of the run's validation images (None: too few stored)."""
    return reference_from(thumbnail_features(fetch_all_thumbnails(database, run_id)))


@st.cache_resource(max_entries=4, show_spinner="Loading the model…", hash_funcs=HASH_FUNCS)
def load_model(database: Database, run_id: int, _store: ArtifactStore) -> LoadedModel:
    """The run's model from its store, sha256-checked, loaded once per server for every
    session (keyed by run id; the server has one store)."""
    from trainer.predict import load_run_model

    return load_run_model(database, run_id, _store)


_CODE = ":material/code_off:"


def needs_user_code(database: Database, run_id: int) -> list[str]:
    """The custom layers the run's stored model needs (its worker recorded them); the
    dashboard never imports users' code, so such a model is not loaded here."""
    meta = fetch_model_meta(database, run_id) or {}
    return [str(name) for name in meta.get("custom_objects") or ()]


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
    database: Database,
    run_id: int,
    uploads: tuple[Upload, ...],
    explain: bool,
    _store: ArtifactStore,
) -> RunAnswers:
    """`answer` for a run's model, cached per run and uploaded bytes (reruns are instant)."""
    return answer(load_model(database, run_id, _store), uploads, explain)


def show_predictions(
    database: Database,
    run_ids: Sequence[int],
    labels: dict[int, str],
    uploads: Sequence[Upload],
    *,
    k: int,
    explain: bool,
    opacity: float,
) -> None:
    """Per image: the photo, then each run's verdict, heatmap and top-k classes side by side.

    A run whose model cannot be used gets one error naming the run and where its model is
    stored; so does each file that is not an image, and the other files are still predicted.
    """
    try:
        store = artifact_store(database)
    except ArtifactStoreError as error:
        st.error(f"Models cannot be loaded: {md_escape(str(error))}", icon=":material/error:")
        return
    answers: dict[int, RunAnswers] = {}
    for run_id in run_ids:
        try:
            custom = needs_user_code(database, run_id)
            if custom:
                st.warning(f"Run {run_id}: {custom_layers_note(run_id, custom)}", icon=_CODE)
                continue
            answers[run_id] = run_answers(database, run_id, tuple(uploads), explain, store)
        except (ArtifactIntegrityError, LookupError, OSError) as error:
            # LookupError: ModelNotAvailable, ArtifactUnavailable, ModelNeedsUserCode (a model
            # stored before its custom layers were recorded); OSError: the store's own.
            found = getattr(error, "custom_objects", None)
            if found:
                st.warning(f"Run {run_id}: {custom_layers_note(run_id, found)}", icon=_CODE)
                continue
            where = store_name(fetch_model_pointer(database, run_id), store)
            st.error(
                f"Run {run_id}, model in {md_escape(where)}: {md_escape(str(error))}",
                icon=":material/error:",
            )
    if not answers:
        return
    errors = next(iter(answers.values())).errors
    for index, message in errors.items():
        name = uploads[index].name
        text = message if message.startswith(f"{name}:") else f"{name}: {message}"
        st.error(md_escape(text), icon=":material/error:")  # the file name, as text
    references = {run_id: training_reference(database, run_id) for run_id in answers}
    for index, upload in enumerate(uploads):
        if index not in errors:
            row = _Row(index, upload, labels, k, opacity)
            row.draw(answers, references)


@dataclass(frozen=True)
class _Row:
    """One uploaded image's row: the photo, then one column per run."""

    index: int
    upload: Upload
    labels: dict[int, str]
    k: int
    opacity: float

    def draw(self, answers: dict[int, RunAnswers], references: dict[int, Reference | None]) -> None:
        st.divider()
        photo = photo_pixels(self.upload.data)
        features = colour_features(photo)
        columns = st.columns([1] + [1] * len(answers))
        columns[0].image(photo, caption=md_escape(self.upload.name), width="stretch")
        for column, (run_id, result) in zip(columns[1:], answers.items(), strict=True):
            verdict = result.verdicts[self.index]
            if verdict is not None:
                with column:
                    self._run_column(run_id, result, verdict, references[run_id], features, photo)

    def _run_column(
        self,
        run_id: int,
        result: RunAnswers,
        verdict: Verdict,
        reference: Reference | None,
        features: np.ndarray,
        photo: np.ndarray,
    ) -> None:
        """The run's name, its top class and confidence (or why not to trust it), the
        heatmap over the photo, and the top-k bars."""
        [(best, probability)] = top_k(result.class_names, verdict.probabilities.tolist(), 1)
        st.markdown(f"**{md_escape(self.labels.get(run_id, str(run_id)))}**")
        reasons = doubts(probability, reference, features)
        verdict_text = f"{md_escape(best)} · {probability:.1%}"
        if reasons:
            st.markdown(f"{verdict_text} · :orange-badge[not confident]")
            st.caption("Not confident: " + "; ".join(reasons) + ".")
        else:
            st.markdown(verdict_text)
        if verdict.heatmap is not None:
            st.image(
                overlay_on_photo(photo, verdict.heatmap, opacity=self.opacity),
                caption=f"Grad-CAM for {md_escape(best)}",
                width="stretch",
            )
        elif not result.explains:
            st.caption("This model has no convolution for Grad-CAM to explain.")
        st.plotly_chart(
            top_k_figure(result.class_names, verdict.probabilities.tolist(), self.k),
            width="stretch",
            key=f"predict.top.{self.index}.{run_id}",
        )

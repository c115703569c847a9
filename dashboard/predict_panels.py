"""Predict with a stored model. TensorFlow is imported only here, inside the functions that
need it, so the other pages never pay for it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.charts import probabilities_figure
from dashboard.queries import HASH_FUNCS
from dashboard.run_panels import md_escape
from db.session import Database

if TYPE_CHECKING:
    from trainer.predict import LoadedModel

IMAGE_TYPES = ["jpg", "jpeg", "png", "bmp", "gif", "webp"]


class Upload(NamedTuple):
    name: str
    data: bytes


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


def predict_uploads(
    loaded: LoadedModel, uploads: Sequence[Upload]
) -> list[np.ndarray | ValueError]:
    """Probabilities per upload, or the error that made an upload unusable.

    One batch when every image reads; otherwise one at a time, so a bad file costs only itself.
    data's ImageError is a ValueError, like every "these bytes are not an image" failure.
    """
    from trainer.predict import predict_images

    try:
        return list(predict_images(loaded, [upload.data for upload in uploads]))
    except ValueError:
        pass
    results: list[np.ndarray | ValueError] = []
    for upload in uploads:
        try:
            results.append(predict_images(loaded, [upload.data])[0])
        except ValueError as error:
            results.append(error)
    return results


def show_predictions(loaded: LoadedModel, uploads: Sequence[Upload]) -> None:
    """Each image beside its class probabilities; unusable files get one error line each."""
    for position, (upload, result) in enumerate(
        zip(uploads, predict_uploads(loaded, uploads), strict=True)
    ):
        if isinstance(result, ValueError):
            st.error(f"{md_escape(upload.name)}: {md_escape(str(result))}", icon=":material/error:")
            continue
        best = int(np.argmax(result))
        image_column, chart_column = st.columns([1, 2], vertical_alignment="center")
        image_column.image(upload.data, caption=upload.name, width="stretch")
        chart_column.markdown(
            f"**{md_escape(loaded.class_names[best])}** ({float(result[best]):.1%})"
        )
        chart_column.plotly_chart(
            probabilities_figure(loaded.class_names, result.tolist()),
            width="stretch",
            key=f"probabilities_{position}",
        )

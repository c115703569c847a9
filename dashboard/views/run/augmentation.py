"""The Run page's Augmentation tab: the run's augmentation drawn on a few images, as training does.

TensorFlow is imported inside `augmentation_preview` only, so the page pays for it only when
this tab opens.
"""

from __future__ import annotations

from collections.abc import Sequence
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st
from PIL import Image

from dashboard.queries import HASH_FUNCS, fetch_predictions, fetch_run, fetch_thumbnails
from dashboard.text import md_escape
from db.entities import RunRecord
from db.models import RunSource
from db.session import Database
from experiment.config import parse_config

if TYPE_CHECKING:
    from data.augment import AugmentSpec


AUGMENT_COPIES = 6


AUGMENT_SOURCES = 4


PREVIEW_MAX_PX = 160  # previews are for the eye; transforms are scale-free


def augmentation_panel(database: Database, run: RunRecord) -> None:
    """The run's augmentation applied to a few images, several times each, as training does."""
    if run.source is not RunSource.QUEUED:
        st.info(
            "The lab does not know this run's augmentation: it was "
            + ("imported." if run.source is RunSource.IMPORT else "logged by your own script."),
            icon=":material/info:",
        )
        return
    knobs = {k: v for k, v in (run.config.get("augmentation") or {}).items() if v}
    if not knobs:
        st.info("This run trained without augmentation.", icon=":material/info:")
        return
    st.caption(
        "Augmentation: "
        + ", ".join(f"{k} {v}" for k, v in knobs.items())
        + f". Each row: the original, then {AUGMENT_COPIES} random draws."
    )
    with st.spinner("Augmenting sample images…"):
        rows, labels, origin = augmented_samples(database, run.id)
    if not rows:
        st.warning(
            "No image to preview: the dataset is not readable on this machine and the run "
            "stored no validation thumbnails.",
            icon=":material/image_not_supported:",
        )
        return
    st.caption(origin)
    augmentation_grid(rows, labels)


def augmentation_grid(rows: list[list[np.ndarray]], labels: list[str], width: int = 120) -> None:
    """Rows from `imaging.augmentation_preview`: each label's original, then its draws."""
    for row, label in zip(rows, labels, strict=True):
        st.image(
            row,
            caption=[md_escape(label)] + [f"draw {i}" for i in range(1, len(row))],
            width=width,
        )


@st.cache_data(ttl=600, max_entries=8, show_spinner=False, hash_funcs=HASH_FUNCS)
def augmented_samples(
    database: Database, run_id: int
) -> tuple[list[list[np.ndarray]], list[str], str]:
    """(rows of [original, draws...], a label per row, where the images came from)."""
    from data.augment import AugmentSpec  # TensorFlow: only when this tab opens

    run = fetch_run(database, run_id)
    if run is None:
        return [], [], ""
    size = min(run.image_size, PREVIEW_MAX_PX)
    samples = dataset_samples(run.dataset, size, AUGMENT_SOURCES)
    origin = f"Sample images from the dataset folder {run.dataset}."
    if not samples:
        samples = _thumbnail_samples(database, run, size)
        origin = "Validation thumbnails stored with the run (the dataset is not readable here)."
    if not samples:
        return [], [], ""
    # The config's augmentation section uses AugmentSpec's own field names.
    spec = AugmentSpec(**parse_config(run.config).augmentation.model_dump())
    rows = augmentation_preview([s for _, s in samples], spec, AUGMENT_COPIES, seed=run.seed)
    return rows, [label for label, _ in samples], origin


def _thumbnail_samples(
    database: Database, run: RunRecord, size: int
) -> list[tuple[str, np.ndarray]]:
    """One stored validation thumbnail per class, enlarged to the preview size."""
    evaluation = run.evaluation or {}
    class_names = tuple(evaluation.get("class_names") or run.class_names or ())
    predictions = fetch_predictions(database, run.id, class_names)
    if predictions.empty:
        return []
    firsts = predictions.drop_duplicates("true_label").head(AUGMENT_SOURCES)
    thumbnails = fetch_thumbnails(database, run.id, tuple(int(p) for p in firsts["position"]))
    return [
        (str(row.true_class), decode_rgb(thumbnails[int(row.position)], size))
        for row in firsts.itertuples()
        if int(row.position) in thumbnails
    ]


def decode_rgb(data: bytes, size: int | None = None) -> np.ndarray:
    """JPEG/PNG bytes (e.g. a stored thumbnail) -> (H, W, 3) float32 pixels in 0..255.

    With `size`, the image is resized to a `size` x `size` square, as the model saw it.
    """
    with Image.open(BytesIO(data)) as image:
        rgb = image.convert("RGB")
        if size is not None:
            rgb = rgb.resize((size, size), Image.Resampling.BILINEAR)
        return np.asarray(rgb, dtype=np.float32)


def augmentation_preview(
    images: Sequence[np.ndarray], spec: AugmentSpec, count: int, *, seed: int = 0
) -> list[list[np.ndarray]]:
    """Each image followed by `count` augmented copies, drawn exactly as training draws them.

    Args:
        images: (H, W, 3) pixels in 0..255, all the same size (as training resizes them).
        spec: the run's augmentation (`AugmentSpec` of its config's section).
        count: augmented copies per image.
        seed: the same seed always gives the same copies.

    Returns:
        One row per input image: [original, copy 1, ..., copy count], uint8 (H, W, 3) each.
    """
    import tensorflow as tf

    from data.augment import augment_batch

    if not images:
        return []
    batch = np.stack([np.asarray(image, dtype=np.float32) for image in images])
    rows = [[_uint8(image)] for image in batch]
    for copy in range(count):
        seeds = tf.constant([seed, copy], dtype=tf.int64)
        augmented = np.asarray(augment_batch(tf.constant(batch), spec, seeds))
        for row, image in zip(rows, augmented, strict=True):
            row.append(_uint8(image))
    return rows


def _uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(image, dtype=float), 0.0, 255.0).round().astype(np.uint8)


def dataset_samples(dataset: str, size: int, limit: int = 4) -> list[tuple[str, np.ndarray]]:
    """The first image of each class (up to `limit`) of a dataset folder on this machine.

    Resized to `size` exactly as training resizes; an empty list when the folder is not
    readable here (it may live on a worker's machine only).
    """
    from data.images import load_image_for_prediction
    from data.loader import scan_dataset
    from settings import resolve_dataset_path

    try:
        index = scan_dataset(resolve_dataset_path(dataset), verify=False)  # a preview: be quick
    except (ValueError, OSError):  # DatasetError is a ValueError
        return []
    samples: list[tuple[str, np.ndarray]] = []
    for label, name in enumerate(index.class_names[:limit]):
        path = next((f for f, lab in zip(index.files, index.labels, strict=True) if lab == label))
        try:
            with open(path, "rb") as handle:
                pixels = load_image_for_prediction(handle.read(), size, name=Path(path).name)
            samples.append((name, pixels))
        except (ValueError, OSError):
            continue
    return samples

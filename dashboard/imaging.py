"""Pictures the pages show: Grad-CAM overlays and augmentation previews, as NumPy arrays.

Pure functions (no Streamlit). TensorFlow is imported inside `augmentation_preview` only, so
pages that never preview augmentation do not pay for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image
from plotly.colors import hex_to_rgb, sequential

if TYPE_CHECKING:
    from data.augment import AugmentSpec


def _colour_table() -> np.ndarray:
    rows = []
    for colour in sequential.Turbo:
        if colour.startswith("#"):
            rows.append(hex_to_rgb(colour))
        else:  # "rgb(r, g, b)"
            rows.append(tuple(int(v) for v in colour[colour.index("(") + 1 : -1].split(",")))
    return np.asarray(rows, dtype=float)


_TURBO = _colour_table()  # Plotly's Turbo scale, (N, 3): blue (cold) to red (hot)


def colourise(heatmap: np.ndarray) -> np.ndarray:
    """(H, W) values in [0, 1] -> (H, W, 3) uint8 colours on the Turbo scale."""
    table = _TURBO
    values = np.clip(np.nan_to_num(np.asarray(heatmap, dtype=float)), 0.0, 1.0)
    stops = np.linspace(0.0, 1.0, len(table))
    channels = [np.interp(values, stops, table[:, c]) for c in range(3)]
    return np.stack(channels, axis=-1).round().astype(np.uint8)


def overlay_heatmap(
    image: np.ndarray, heatmap: np.ndarray, *, alpha: float = 0.45, display_px: int = 224
) -> np.ndarray:
    """Blend a heatmap over an image of the same height and width, as uint8 RGB.

    Cold areas keep most of the photo visible: the heatmap's own value scales its opacity.
    Small model inputs (32 px) are enlarged to `display_px` so the overlay is readable.
    """
    pixels = np.clip(np.asarray(image, dtype=float), 0.0, 255.0)
    heat = np.clip(np.nan_to_num(np.asarray(heatmap, dtype=float)), 0.0, 1.0)
    if pixels.shape[:2] != heat.shape:
        raise ValueError(f"image is {pixels.shape[:2]} but the heatmap is {heat.shape}")
    weight = (alpha * (0.35 + 0.65 * heat))[..., None]
    blended = (1.0 - weight) * pixels[..., :3] + weight * colourise(heat)
    result = blended.round().astype(np.uint8)
    if max(result.shape[:2]) < display_px:
        enlarged = Image.fromarray(result).resize(
            (display_px, display_px), Image.Resampling.NEAREST
        )
        result = np.asarray(enlarged)
    return result


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
        spec: the run's augmentation (`trainer.train.augment_spec(config)`).
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

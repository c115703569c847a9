"""Grad-CAM as a picture: a heatmap coloured on the Turbo scale and blended over the photo.

Pure NumPy and Pillow (no Streamlit, no TensorFlow); the heatmaps come from `trainer.gradcam`.
The model sees a square resize of the photo; its heatmap is stretched back over the photo as
uploaded, so the picture keeps its aspect ratio.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps
from plotly.colors import hex_to_rgb, sequential

PHOTO_PX = 448  # the longest side an overlay is drawn at
DEFAULT_OPACITY = 0.5


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


def photo_pixels(data: bytes, max_side: int = PHOTO_PX) -> np.ndarray:
    """An uploaded photo as (H, W, 3) uint8, turned as its EXIF says and at most `max_side`
    on its longest side, keeping its aspect ratio (raises OSError if it is not an image)."""
    with Image.open(io.BytesIO(data)) as opened:
        opened.seek(0)
        image = ImageOps.exif_transpose(opened).convert("RGB")
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return np.asarray(image)


def stretch(heatmap: np.ndarray, height: int, width: int) -> np.ndarray:
    """A square (S, S) heatmap resized (bilinear) to (height, width), values kept in [0, 1]."""
    heat = np.clip(np.nan_to_num(np.asarray(heatmap, dtype=np.float32)), 0.0, 1.0)
    resized = Image.fromarray(heat, mode="F").resize((width, height), Image.Resampling.BILINEAR)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def overlay_on_photo(
    photo: np.ndarray, heatmap: np.ndarray, *, opacity: float = DEFAULT_OPACITY
) -> np.ndarray:
    """The heatmap over the photo at the photo's own size and aspect ratio, as uint8 RGB."""
    height, width = photo.shape[:2]
    return overlay_heatmap(photo, stretch(heatmap, height, width), alpha=opacity, display_px=0)


def colour_scale(width: int = 256, height: int = 12) -> np.ndarray:
    """The heatmaps' colour scale as a (height, width, 3) strip: weakest left, strongest right."""
    return np.repeat(colourise(np.linspace(0.0, 1.0, width))[None, :, :], height, axis=0)

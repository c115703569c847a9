"""Grad-CAM overlays as pictures: sizes, colours, blending."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from dashboard.views.predict.gradcam_view import (
    colour_scale,
    overlay_heatmap,
    overlay_on_photo,
    photo_pixels,
)


def test_overlay_keeps_the_image_size_or_enlarges_small_ones() -> None:
    """The overlay is RGB uint8; tiny model inputs are enlarged to be seen."""
    image = np.full((32, 32, 3), 128, np.float32)
    heat = np.zeros((32, 32), np.float32)
    heat[:8, :8] = 1.0
    overlay = overlay_heatmap(image, heat, display_px=64)
    assert overlay.shape == (64, 64, 3) and overlay.dtype == np.uint8
    assert not np.array_equal(overlay[0, 0], overlay[-1, -1])  # hot corner differs from cold


def test_overlay_on_photo_keeps_the_photo_s_size_and_aspect_ratio() -> None:
    """A 40 x 80 photo gets a 40 x 80 overlay from a square heatmap, hot where it was hot."""
    photo = np.full((40, 80, 3), 100, np.uint8)
    heat = np.zeros((16, 16), np.float32)
    heat[:, 8:] = 1.0  # the right half
    overlay = overlay_on_photo(photo, heat, opacity=0.8)
    assert overlay.shape == (40, 80, 3)
    assert not np.array_equal(overlay[20, 75], overlay[20, 5])
    assert np.array_equal(overlay_on_photo(photo, heat, opacity=0.0), photo)


def test_photo_pixels_keep_the_aspect_ratio_and_cap_the_size() -> None:
    """A 1000 x 500 upload is drawn at 448 x 224."""
    buffer = io.BytesIO()
    Image.new("RGB", (1000, 500), (10, 20, 30)).save(buffer, format="PNG")
    assert photo_pixels(buffer.getvalue()).shape == (224, 448, 3)


def test_colour_scale_runs_from_cold_to_hot() -> None:
    """The legend strip starts blue-ish and ends red-ish, like the heatmaps."""
    strip = colour_scale(width=64, height=4).astype(int)
    assert strip.shape == (4, 64, 3)
    assert strip[0, 0, 2] > strip[0, 0, 0] and strip[0, -1, 0] > strip[0, -1, 2]

"""Grad-CAM overlays as pictures: sizes, colours, blending."""

from __future__ import annotations

import numpy as np

from dashboard.views.predict.gradcam_view import overlay_heatmap


def test_overlay_keeps_the_image_size_or_enlarges_small_ones() -> None:
    """The overlay is RGB uint8; tiny model inputs are enlarged to be seen."""
    image = np.full((32, 32, 3), 128, np.float32)
    heat = np.zeros((32, 32), np.float32)
    heat[:8, :8] = 1.0
    overlay = overlay_heatmap(image, heat, display_px=64)
    assert overlay.shape == (64, 64, 3) and overlay.dtype == np.uint8
    assert not np.array_equal(overlay[0, 0], overlay[-1, -1])  # hot corner differs from cold

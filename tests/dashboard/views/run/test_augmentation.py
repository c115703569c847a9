"""The Run page's augmentation preview: the original, then the draws."""

from __future__ import annotations

import numpy as np

from dashboard.views.run.augmentation import augmentation_preview


def test_augmentation_preview_gives_the_original_then_the_draws() -> None:
    """Each row is the original then `count` augmented copies, reproducible for a seed."""
    from data.augment import AugmentSpec

    image = np.zeros((8, 8, 3), np.float32)
    image[:, :4] = 255.0
    spec = AugmentSpec(horizontal_flip=True, brightness_range=(0.5, 0.9))
    rows = augmentation_preview([image, image], spec, 3, seed=1)
    assert [len(row) for row in rows] == [4, 4]
    assert np.array_equal(rows[0][0], image.astype(np.uint8))
    assert all(copy.max() < 255 for copy in rows[0][1:])  # brightness below 1
    again = augmentation_preview([image, image], spec, 3, seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(rows[1], again[1], strict=True))

"""When Predict says "not confident": a low top probability, or colours unlike the data's."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from dashboard.views.predict.confidence import (
    LOW_PROBABILITY,
    colour_features,
    distance,
    doubts,
    reference_from,
    thumbnail_features,
)


def _sky(rng: np.random.Generator) -> np.ndarray:
    """A daylight sky: blue-ish with some texture, varying a little from picture to picture."""
    base = np.array([90, 140, 210]) + rng.normal(0, 12, 3)
    return np.clip(base + rng.normal(0, 20, (32, 32, 3)), 0, 255).astype(np.uint8)


def _reference(count: int = 60):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    return reference_from([colour_features(_sky(rng)) for _ in range(count)])


def test_a_low_top_probability_is_not_confident() -> None:
    """Below 60 % the verdict says so, naming the probability; above, no doubt."""
    features = colour_features(_sky(np.random.default_rng(1)))
    assert doubts(0.41, None, features) == [
        f"its top probability, 41%, is below {LOW_PROBABILITY:.0%}"
    ]
    assert doubts(0.9, None, features) == []


def test_a_photo_unlike_the_validation_images_is_far() -> None:
    """A dark night picture is far from daylight skies; another daylight sky is not."""
    reference = _reference()
    assert reference is not None and reference.images == 60
    night = np.full((32, 32, 3), 15, np.uint8)
    sky = _sky(np.random.default_rng(7))
    assert distance(reference, colour_features(night)) > reference.limit
    assert doubts(0.99, reference, colour_features(sky)) == []
    [reason] = doubts(0.99, reference, colour_features(night))
    assert "unlike its validation images" in reason


def test_too_few_validation_images_give_no_reference() -> None:
    """Seven thumbnails are too few to say what is far."""
    assert _reference(7) is None


def test_thumbnail_features_read_jpegs_and_skip_junk() -> None:
    """Stored JPEG thumbnails give six statistics each; unreadable bytes are skipped."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (255, 0, 0)).save(buffer, format="JPEG")
    [features] = thumbnail_features([buffer.getvalue(), b"junk"])
    assert features.shape == (6,) and features[0] > 0.9 and features[3] < 0.05

"""When to say a model is "not confident": a low top probability, or a photo far from the data.

Two concrete tests, each with its reason in words:

* low probability: the top class's probability is below `LOW_PROBABILITY` (0.6; with four
  classes a model that cannot tell has about 0.25 each);
* far from the training data: the photo's colour statistics (the mean and the spread of each of
  its R, G, B channels: six numbers) lie further from the run's validation images than
  `FAR_PERCENTILE` % of those images do themselves, measured as a Mahalanobis distance from
  their mean. The validation images are the thumbnails the worker stored at training time, so
  this needs no model and no TensorFlow. A classifier's softmax stays sure of itself on images
  unlike anything it saw; this catches the plainest of those (a night photo for a model of
  daylight skies, a document, a drawing), not every one.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

LOW_PROBABILITY = 0.6
FAR_PERCENTILE = 99.0
MIN_REFERENCE_IMAGES = 8  # fewer validation thumbnails (than statistics + 2): cannot say
FEATURE_PX = 64  # images are reduced to this size before their statistics are taken


@dataclass(frozen=True)
class Reference:
    """The validation images' colour statistics: their mean, inverse covariance and how far
    the furthest `FAR_PERCENTILE` % of them lie."""

    mean: np.ndarray  # (6,)
    inverse: np.ndarray  # (6, 6)
    limit: float
    images: int


def colour_features(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> the mean and standard deviation of each channel, in [0, 1]."""
    image = Image.fromarray(np.asarray(pixels, dtype=np.uint8)).convert("RGB")
    image.thumbnail((FEATURE_PX, FEATURE_PX))
    values = np.asarray(image, dtype=np.float64).reshape(-1, 3) / 255.0
    return np.concatenate([values.mean(axis=0), values.std(axis=0)])


def thumbnail_features(thumbnails: Iterable[bytes]) -> list[np.ndarray]:
    """`colour_features` of stored JPEG thumbnails; unreadable ones are skipped."""
    features = []
    for data in thumbnails:
        try:
            with Image.open(io.BytesIO(data)) as image:
                features.append(colour_features(np.asarray(image.convert("RGB"))))
        except (OSError, ValueError):
            continue
    return features


def _distances(features: np.ndarray, mean: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    centred = np.atleast_2d(features) - mean
    return np.sqrt(np.einsum("ij,jk,ik->i", centred, inverse, centred))


def reference_from(features: Sequence[np.ndarray]) -> Reference | None:
    """The reference for a run's validation images; None when there are too few of them."""
    if len(features) < MIN_REFERENCE_IMAGES:
        return None
    matrix = np.stack(features)
    mean = matrix.mean(axis=0)
    # A small ridge keeps the inverse finite when a statistic barely varies (grey images).
    covariance = np.cov(matrix, rowvar=False) + 1e-4 * np.eye(matrix.shape[1])
    inverse = np.linalg.inv(covariance)
    limit = float(np.percentile(_distances(matrix, mean, inverse), FAR_PERCENTILE))
    return Reference(mean, inverse, limit, len(features))


def distance(reference: Reference, features: np.ndarray) -> float:
    """How far one image's statistics lie from the reference's mean (Mahalanobis)."""
    return float(_distances(features, reference.mean, reference.inverse)[0])


def doubts(top_probability: float, reference: Reference | None, features: np.ndarray) -> list[str]:
    """Why the model's answer should not be trusted, in words; empty when confident."""
    reasons = []
    if top_probability < LOW_PROBABILITY:
        reasons.append(
            f"its top probability, {top_probability:.0%}, is below {LOW_PROBABILITY:.0%}"
        )
    if reference is not None:
        far = distance(reference, features)
        if far > reference.limit:
            reasons.append(
                "the photo's colours are unlike its validation images' (distance "
                f"{far:.1f}; {FAR_PERCENTILE:g} % of those images are within {reference.limit:.1f})"
            )
    return reasons

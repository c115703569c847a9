"""What metric names mean: which way is better, train/validation twins, picker order.

Runs may log any metric name (Keras's `logs`, imported TensorBoard tags, CSVLogger columns).
The dashboard's best-epoch stars, the diff table's best/last columns and a search's objective
need to know whether a higher or a lower value is better. Keras's standard names are known
here; others are set with `LAB_METRIC_DIRECTIONS` (`dice=max,*_error=min`), read once by
`settings.Settings.from_env`. No Keras and no database in this module: the dashboard, the
search and the workers all import it.
"""

from __future__ import annotations

import enum
import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

VALIDATION_PREFIX = "val_"
# What the lab's workers record besides Keras's logs (trainer/callbacks.py EpochRecorder).
LEARNING_RATE = "learning_rate"
EPOCH_SECONDS = "epoch_seconds"
# What the lab's own workers record for every epoch; scripts and imports may log any names.
WORKER_METRICS: tuple[str, ...] = (
    "accuracy", "val_accuracy", "loss", "val_loss", LEARNING_RATE, EPOCH_SECONDS,
)  # fmt: skip


class Direction(enum.StrEnum):
    """Which way a metric improves."""

    MAX = "max"
    MIN = "min"


# Keras 3's metric and loss names (keras.metrics / keras.losses `name=` defaults and their
# string aliases). A name also matches as a suffix after "_" (multi-output models prefix the
# output's name: `head_auc`); `_INDEX_SUFFIX` is ignored.
_KNOWN: dict[str, Direction] = {
    **dict.fromkeys(
        (
            "accuracy", "acc", "auc", "prc", "precision", "recall", "f1_score", "fbeta_score",
            "iou", "binary_iou", "mean_iou", "one_hot_iou", "one_hot_mean_iou", "r2_score",
            "cosine_similarity", "true_positives", "true_negatives", "precision_at_recall",
            "recall_at_precision", "sensitivity_at_specificity", "specificity_at_sensitivity",
            "pearson_correlation", "concordance_correlation",
        ),
        Direction.MAX,
    ),
    **dict.fromkeys(
        (
            "loss", "mae", "mse", "rmse", "mape", "msle", "mean_absolute_error",
            "mean_squared_error", "root_mean_squared_error", "mean_absolute_percentage_error",
            "mean_squared_logarithmic_error", "log_cosh_error", "logcosh", "log_cosh", "hinge",
            "squared_hinge", "categorical_hinge", "kl_divergence", "kld",
            "kullback_leibler_divergence", "poisson", "crossentropy", "binary_crossentropy",
            "categorical_crossentropy", "sparse_categorical_crossentropy",
            "binary_focal_crossentropy", "categorical_focal_crossentropy", "huber",
            "false_positives", "false_negatives", "error",
        ),
        Direction.MIN,
    ),
}  # fmt: skip
# Recorded alongside the metrics but never something to optimise: no direction, no stars.
_NEUTRAL = (LEARNING_RATE, EPOCH_SECONDS, "steps_per_second", "epoch", "step")
# Keras's de-duplicating suffix (`auc_1`) and an element of a vector metric (`f1_score[2]`,
# as trainer/callbacks.py names per-class values).
_INDEX_SUFFIX = re.compile(r"(_\d+|\[\d+\])$")
# Keras's top-k metrics are named freely (`top_3_accuracy`); anything ending so is an accuracy.
_SUFFIX_RULES = (("accuracy", Direction.MAX), ("loss", Direction.MIN))


class MetricDirectionsError(ValueError):
    """`LAB_METRIC_DIRECTIONS` could not be read; the message shows the expected form."""


def is_validation(name: str) -> bool:
    return name.startswith(VALIDATION_PREFIX)


def train_name(name: str) -> str:
    """`val_auc` -> `auc`; a training name is returned as it is."""
    return name[len(VALIDATION_PREFIX) :] if is_validation(name) else name


def twin(name: str) -> str:
    """The other half of a train/validation pair: `auc` <-> `val_auc`."""
    return train_name(name) if is_validation(name) else VALIDATION_PREFIX + name


def _base(name: str) -> str:
    return _INDEX_SUFFIX.sub("", train_name(name).strip().lower())


def is_neutral(name: str) -> bool:
    """Recorded alongside the metrics but never optimised: the learning rate, timings."""
    base = _base(name)
    return base in _NEUTRAL or base.startswith(LEARNING_RATE)


def known_direction(name: str) -> Direction | None:
    """The direction of a Keras standard name (or its `val_` twin), None if unknown."""
    if is_neutral(name):
        return None
    base = _base(name)
    if base in _KNOWN:
        return _KNOWN[base]
    for known in sorted(_KNOWN, key=len, reverse=True):
        if base.endswith("_" + known):
            return _KNOWN[known]
    for suffix, direction in _SUFFIX_RULES:
        if base.endswith(suffix):
            return direction
    return None


@dataclass(frozen=True)
class MetricDirections:
    """Directions for any name: the user's patterns first, then Keras's standard names.

    Attributes:
        overrides: (pattern, direction) pairs in the order given; a pattern is a shell-style
            glob (`*_error`) matched against the name and against its training twin, so
            `dice=max` covers `val_dice` as well.
    """

    overrides: tuple[tuple[str, Direction], ...] = ()

    def of(self, name: str) -> Direction | None:
        """Whether higher (MAX) or lower (MIN) is better for `name`; None if not known."""
        for pattern, direction in self.overrides:
            if fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(train_name(name), pattern):
                return direction
        return known_direction(name)

    def best(self, name: str, values: Iterable[float | None]) -> tuple[int, float] | None:
        """(position, value) of the best value in `values` (None entries skipped; the first
        of equal bests), or None when the direction is unknown or nothing is a number."""
        direction = self.of(name)
        if direction is None:
            return None
        sign = 1.0 if direction is Direction.MAX else -1.0
        found: tuple[int, float] | None = None
        for position, value in enumerate(values):
            if value is None or value != value:  # NaN
                continue
            if found is None or sign * value > sign * found[1]:
                found = (position, value)
        return found

    @classmethod
    def parse(cls, text: str) -> MetricDirections:
        """Read `name=max,pattern*=min` (commas or newlines between entries)."""
        overrides: list[tuple[str, Direction]] = []
        for entry in re.split(r"[,\n]", text):
            if not entry.strip():
                continue
            pattern, sep, word = (part.strip() for part in entry.partition("="))
            if not sep or not pattern or word.lower() not in ("max", "min"):
                raise MetricDirectionsError(
                    f"LAB_METRIC_DIRECTIONS: {entry.strip()!r} should be NAME=max or NAME=min "
                    "(e.g. dice=max,*_error=min)"
                )
            overrides.append((pattern, Direction(word.lower())))
        return cls(tuple(overrides))

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> MetricDirections:
        return cls.parse(environ.get("LAB_METRIC_DIRECTIONS", ""))


def _rank(name: str) -> tuple[int, str, int]:
    base = train_name(name)
    group = 0 if base == "loss" else 1 if base == "accuracy" else 3 if base in _NEUTRAL else 2
    if base.startswith(LEARNING_RATE):
        group = 3
    return group, base, int(is_validation(name))


def ordered(names: Iterable[str]) -> list[str]:
    """Names as a picker lists them: loss, accuracy, the others alphabetically, then the
    learning rate and timings; each training name followed by its `val_` twin."""
    return sorted(set(names), key=_rank)

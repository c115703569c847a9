"""Which way a metric improves, for Keras's names and for names a user configures."""

from __future__ import annotations

import pytest

from experiment.metrics import (
    Direction,
    MetricDirections,
    MetricDirectionsError,
    is_neutral,
    known_direction,
    ordered,
    twin,
)
from settings import Settings


@pytest.mark.parametrize(
    ("name", "direction"),
    [
        ("accuracy", Direction.MAX),
        ("val_accuracy", Direction.MAX),
        ("sparse_categorical_accuracy", Direction.MAX),
        ("top_3_accuracy", Direction.MAX),
        ("auc", Direction.MAX),
        ("val_auc_1", Direction.MAX),  # Keras's de-duplicating suffix
        ("head_precision", Direction.MAX),  # a multi-output model's prefix
        ("f1_score[2]", Direction.MAX),  # one class of a vector metric
        ("recall", Direction.MAX),
        ("loss", Direction.MIN),
        ("val_loss", Direction.MIN),
        ("head_loss", Direction.MIN),
        ("mae", Direction.MIN),
        ("val_mean_squared_error", Direction.MIN),
        ("categorical_crossentropy", Direction.MIN),
        ("learning_rate", None),
        ("epoch_seconds", None),
        ("my_custom_score", None),
    ],
)
def test_keras_standard_names_have_their_direction(name: str, direction: Direction | None) -> None:
    """Standard names, their val_ twins, suffixes and prefixes resolve; others are unknown."""
    assert known_direction(name) is direction


def test_configured_patterns_come_first_and_cover_val_twins() -> None:
    """`dice=max,*_error=min` sets unknown names and their val_ twins, and can override."""
    directions = MetricDirections.parse("dice=max, *_error=min\nloss=max")
    assert directions.of("val_dice") is Direction.MAX
    assert directions.of("pixel_error") is Direction.MIN
    assert directions.of("loss") is Direction.MAX
    assert directions.of("accuracy") is Direction.MAX
    assert directions.of("unknown") is None


def test_settings_read_directions_from_the_environment() -> None:
    """LAB_METRIC_DIRECTIONS is read once with the other settings."""
    settings = Settings.from_env({"LAB_METRIC_DIRECTIONS": "dice=max"})
    assert settings.metric_directions.of("dice") is Direction.MAX
    assert Settings.from_env({}).metric_directions.of("dice") is None


@pytest.mark.parametrize("text", ["dice", "dice=up", "=max", "dice=max,err"])
def test_bad_directions_name_the_entry_and_the_form(text: str) -> None:
    """A malformed entry is refused with the expected NAME=max|min form."""
    with pytest.raises(MetricDirectionsError, match="NAME=max or NAME=min"):
        MetricDirections.parse(text)


def test_best_follows_the_direction_and_skips_missing_values() -> None:
    """The best of a series is the max or min by direction; None and NaN are skipped."""
    directions = MetricDirections()
    assert directions.best("val_loss", [0.9, None, 0.4, float("nan"), 0.4]) == (2, 0.4)
    assert directions.best("val_accuracy", [0.5, 0.8, 0.7]) == (1, 0.8)
    assert directions.best("learning_rate", [0.1, 0.01]) is None
    assert directions.best("val_auc", [None]) is None


def test_pickers_list_loss_and_accuracy_first_with_val_twins_next() -> None:
    """ordered(): loss, accuracy, others alphabetically, then rates; each with its twin."""
    names = ["learning_rate", "val_auc", "auc", "val_loss", "epoch_seconds", "accuracy", "loss"]
    assert ordered(names) == [
        "loss", "val_loss", "accuracy", "auc", "val_auc", "epoch_seconds", "learning_rate",
    ]  # fmt: skip
    assert twin("auc") == "val_auc" and twin("val_auc") == "auc"


def test_neutral_names_are_the_learning_rate_and_timings() -> None:
    """learning_rate (any suffix) and epoch_seconds are neutral; val_auc and my_score are not."""
    assert is_neutral("learning_rate") and is_neutral("learning_rate_1")
    assert is_neutral("epoch_seconds") and is_neutral("steps_per_second")
    assert not is_neutral("val_auc") and not is_neutral("my_score")

"""The report preset: its whole study, scaled for a CPU when asked."""

from __future__ import annotations

import pytest

from experiment.config import parse_config
from experiment.presets import REPORT_BEST, report_study


def test_report_best_is_a_valid_config() -> None:
    """The form's defaults validate."""
    config = parse_config(REPORT_BEST)
    assert config.augmentation.enabled and config.early_stopping and config.min_accuracy


def test_report_study_covers_every_comparison_once() -> None:
    """The study has each compared value and no duplicated baseline."""
    configs = report_study()
    assert len(configs) == 8
    assert {c.epochs for c in configs} == {30, 50}
    assert {(c.batch_size, c.steps_per_epoch) for c in configs} == {(16, 70), (32, 35)}
    assert {c.optimizer for c in configs} == {"sgd", "adam", "adamax", "rmsprop"}
    assert {c.architecture for c in configs} == {"report_cnn", "resnet20"}
    assert {c.augmentation.enabled for c in configs} == {True, False}
    assert {c.study for c in configs} == {"report"}
    dumps = [repr(c.model_dump(exclude={"name"})) for c in configs]
    assert len(set(dumps)) == len(dumps)


def test_report_study_scales_down() -> None:
    """Image size and epochs can be scaled down before queueing."""
    configs = report_study(image_size=112, epochs_scale=0.1)
    assert {c.image_size for c in configs} == {112}
    assert {c.epochs for c in configs} == {3, 5}


def test_the_backbones_comparison_is_optional_and_shares_the_baseline() -> None:
    """`extra=("backbones",)` adds MobileNetV2 and EfficientNetB0 on ImageNet weights, frozen;
    its report CNN is the study's baseline, queued once."""
    plain = report_study()
    configs = report_study(extra=("backbones",))
    added = configs[len(plain) :]
    assert configs[: len(plain)] == plain and len(added) == 2
    assert {(c.architecture, c.weights, c.freeze_backbone) for c in added} == {
        ("mobilenet_v2", "imagenet", True),
        ("efficientnet_b0", "imagenet", True),
    }
    assert all(c.image_size == 224 and c.study == "report" for c in added)


def test_an_unknown_optional_comparison_is_named() -> None:
    """Asking for a comparison that does not exist says which ones do."""
    with pytest.raises(ValueError, match="'backbone'; choose from backbones"):
        report_study(extra=("backbone",))

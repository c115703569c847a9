"""Presets: the report's best setting, a CPU-sized start for the Queue form, the whole study."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from experiment.config import ExperimentConfig
from experiment.grid import expand

# The report's augmentation as it finally kept it: flip + zoom + small rotation + brightness.
REPORT_AUGMENTATION: dict[str, Any] = {
    "zoom_range": [0.2, 0.5],
    "rotation_range": 5.0,
    "horizontal_flip": True,
    "brightness_range": [0.2, 1.0],
}

REPORT_BEST: dict[str, Any] = {
    "name": "report-best",
    "image_size": 224,
    "architecture": "report_cnn",
    "optimizer": "adam",
    "learning_rate": 0.001,
    "batch_size": 16,
    "steps_per_epoch": 70,
    "epochs": 50,
    "augmentation": REPORT_AUGMENTATION,
    "early_stopping": {"monitor": "val_loss", "patience": 4, "min_delta": 1e-4},
    "reduce_lr": {"monitor": "val_loss", "factor": 0.1, "patience": 3, "min_delta": 1e-4},
    "min_accuracy": {"monitor": "accuracy", "threshold": 0.94},
}

# The report's best setting at a size a laptop's CPU trains in minutes: the Queue form's start
# (and the study's baseline at `--image-size 112 --epochs-scale 0.2`).
CPU_START: dict[str, Any] = {**REPORT_BEST, "name": "quick-start", "image_size": 112, "epochs": 10}

# Each comparison of the study varies one knob from the best setting.
REPORT_COMPARISONS: dict[str, list[dict[str, Any]]] = {
    "epochs": [{"epochs": 30}, {"epochs": 50}],
    "batch": [
        {"batch_size": 16, "steps_per_epoch": 70},
        {"batch_size": 32, "steps_per_epoch": 35},
    ],
    "optimizer": [{"optimizer": name} for name in ("sgd", "adam", "adamax", "rmsprop")],
    "architecture": [{"architecture": "report_cnn"}, {"architecture": "resnet20"}],
    "augmentation": [{"augmentation": REPORT_AUGMENTATION}, {"augmentation": {}}],
}

# Comparisons the report did not make, queued on request (`queue --preset report --with NAME`).
# "backbones": the report CNN against ImageNet backbones trained frozen (transfer learning);
# it needs Keras's ImageNet weights on every worker (downloaded once, or put in
# ~/.keras/models by hand: see README, "Backbones and weights").
OPTIONAL_COMPARISONS: dict[str, list[dict[str, Any]]] = {
    "backbones": [
        {"architecture": "report_cnn"},
        {"architecture": "mobilenet_v2", "weights": "imagenet", "freeze_backbone": True},
        {"architecture": "efficientnet_b0", "weights": "imagenet", "freeze_backbone": True},
    ],
}


def report_study(
    *,
    study: str = "report",
    image_size: int = 224,
    epochs_scale: float = 1.0,
    dataset: str | None = None,
    extra: Sequence[str] = (),
) -> list[ExperimentConfig]:
    """The report's comparisons as one study, without running the shared baseline twice.

    `image_size` and `epochs_scale` let a CPU user shrink the study (e.g. 112 px, 0.2x epochs);
    `extra` adds comparisons from OPTIONAL_COMPARISONS.
    """
    unknown = [name for name in extra if name not in OPTIONAL_COMPARISONS]
    if unknown:
        raise ValueError(
            f"no optional comparison {unknown[0]!r}; choose from {', '.join(OPTIONAL_COMPARISONS)}"
        )

    def scaled(epochs: int) -> int:
        return max(1, round(epochs * epochs_scale))

    base = {
        **REPORT_BEST,
        "name": study,
        "study": study,
        "image_size": image_size,
        "epochs": scaled(REPORT_BEST["epochs"]),
    }
    if dataset:
        base["dataset"] = dataset
    comparisons = [*REPORT_COMPARISONS.values(), *(OPTIONAL_COMPARISONS[name] for name in extra)]
    variants = [
        {**choice, **({"epochs": scaled(choice["epochs"])} if "epochs" in choice else {})}
        for choices in comparisons
        for choice in choices
    ]
    unique: dict[str, ExperimentConfig] = {}
    for config in expand(base, None, variants, source=f"preset {study}"):
        unique.setdefault(repr(config.model_dump(exclude={"name"})), config)
    return list(unique.values())

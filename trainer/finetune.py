"""Freezing a backbone and unfreezing it for fine-tuning, as Keras's transfer-learning guide does.

A run with `freeze_backbone: true` trains only the head; with `fine_tune: {at_epoch: N, ...}`
it then unfreezes the backbone's last K layers (or all) from epoch N on and recompiles with a
fresh optimizer at the fine-tuning learning rate, as the guide recompiles after unfreezing.

BatchNormalization layers stay frozen, which in Keras 3 keeps them in inference mode (their
moving statistics are not updated). The guide's other way, calling the backbone with
`training=False`, is not kept by Keras 3.15: a nested model's explicit `training` argument is
overridden by the outer model's during `fit`, so batch norm would train on the small batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import keras
import numpy as np

from db.entities import TrainingPhase
from experiment.config import FineTuneConfig

PhaseKind = Literal["train", "frozen", "fine_tune"]


def parameter_counts(model: keras.Model) -> tuple[int, int]:
    """(total, trainable) parameters, as `model.summary()` counts them."""
    trainable = sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)
    return int(model.count_params()), trainable


def architecture_of(model: keras.Model) -> keras.Model:
    """The architecture inside a stored model (`assemble_model` puts it last)."""
    core = model.layers[-1]
    if not isinstance(core, keras.Model):
        raise ValueError(f"{model.name} does not end with a nested architecture model")
    return core


def backbone_of(model: keras.Model) -> keras.Model | None:
    """The keras.applications model nested in a stored model's architecture, if any."""
    for layer in architecture_of(model).layers:
        if isinstance(layer, keras.Model):
            return layer
    return None


def _all_layers(layer: keras.layers.Layer) -> Iterator[keras.layers.Layer]:
    yield layer
    for child in getattr(layer, "layers", ()):
        yield from _all_layers(child)


def freeze(backbone: keras.Model) -> None:
    backbone.trainable = False


def unfreeze(backbone: keras.Model, layers: Literal["all"] | int) -> int:
    """Make the backbone's last `layers` layers (as `backbone.layers` lists them) trainable,
    batch norm excepted; returns how many layers that is."""
    backbone.trainable = True
    count = len(backbone.layers) if layers == "all" else min(layers, len(backbone.layers))
    first = len(backbone.layers) - count
    # Each layer explicitly: a functional model's own flag does not reach every layer's.
    for index, layer in enumerate(backbone.layers):
        layer.trainable = index >= first
    for layer in _all_layers(backbone):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    return count


@dataclass(frozen=True)
class PhasePlan:
    """When a run switches from a frozen backbone to fine-tuning (0-based epoch index)."""

    switch: int | None

    @classmethod
    def of(cls, fine_tune: FineTuneConfig | None) -> PhasePlan:
        return cls(None if fine_tune is None else fine_tune.at_epoch - 1)

    def ends_phase_at(self, epochs_done: int, epochs: int) -> int:
        """The epoch count at which the current phase ends."""
        if self.switch is not None and epochs_done < self.switch:
            return self.switch
        return epochs

    def switches_at(self, epochs_done: int) -> bool:
        return self.switch is not None and epochs_done == self.switch


def phase_record(
    model: keras.Model,
    epoch: int,
    kind: PhaseKind,
    learning_rate: float,
    unfrozen_layers: int | None = None,
) -> TrainingPhase:
    """What the run's curves mark: the phase, from which (1-based) epoch, with how many
    trainable parameters."""
    total, trainable = parameter_counts(model)
    return TrainingPhase(
        epoch=epoch,
        kind=kind,
        total_params=total,
        trainable_params=trainable,
        learning_rate=learning_rate,
        unfrozen_layers=unfrozen_layers,
    )

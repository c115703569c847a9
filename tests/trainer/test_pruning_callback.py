"""The pruning callback on tiny random arrays, with the decision injected."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

from trainer.callbacks import PruningCallback


def _fit(callback: PruningCallback, epochs: int = 4) -> int:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).random((16, 4), dtype=np.float32)
    history = model.fit(
        x, (x[:, 0] > 0.5).astype("int32"), epochs=epochs, verbose=0, callbacks=[callback]
    )
    return len(history.epoch)


def test_a_pruned_run_stops_at_the_judged_epoch_with_the_reason() -> None:
    """The judge is asked with 1-based epochs; its reason stops training there."""
    asked: list[int] = []

    def judge(epoch: int, logs: Mapping[str, Any]) -> str | None:
        assert "loss" in logs  # the epoch's own values: its write may still be on its way
        asked.append(epoch)
        return "below the median of earlier runs at epoch 2" if epoch == 2 else None

    callback = PruningCallback(judge)
    assert _fit(callback) == 2
    assert asked == [1, 2]
    assert callback.pruned_epoch == 2
    assert callback.reason == "below the median of earlier runs at epoch 2"


def test_the_last_epoch_is_not_judged() -> None:
    """A run that reached its last epoch is complete, not pruned."""
    asked: list[int] = []
    callback = PruningCallback(lambda epoch, logs: asked.append(epoch) or "hopeless")
    assert _fit(callback, epochs=1) == 1
    assert asked == [] and callback.pruned_epoch is None


def test_a_failing_judge_lets_the_run_train_on() -> None:
    """An error while judging is reported and the run is not stopped."""
    errors: list[Exception] = []

    def judge(epoch: int, logs: Mapping[str, Any]) -> str | None:
        raise RuntimeError("database away")

    callback = PruningCallback(judge, on_error=errors.append)
    assert _fit(callback, epochs=3) == 3
    assert len(errors) == 2 and callback.pruned_epoch is None

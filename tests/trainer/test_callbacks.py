"""Callbacks on tiny random arrays: what they recorded and when they stopped training."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from db.entities import EpochRecord
from db.queue import Heartbeat
from trainer.callbacks import EpochRecorder, LeaseKeeper, MinAccuracyStop


def _model() -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(2, activation="softmax")(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.random((32, 4), dtype=np.float32)
    return x, (x[:, 0] > 0.5).astype("int32")


def test_recorder_writes_one_record_per_epoch_with_learning_rate() -> None:
    """Two epochs give two records numbered from 1, with losses, accuracies and the LR."""
    records: list[EpochRecord] = []
    recorder = EpochRecorder(lambda r: records.append(r) or True)
    x, y = _data()
    _model().fit(
        x, y, validation_data=(x, y), epochs=2, batch_size=8, verbose=0, callbacks=[recorder]
    )
    assert [r.epoch for r in records] == [1, 2]
    assert all(r.loss is not None and r.val_accuracy is not None for r in records)
    assert records[0].learning_rate == pytest.approx(0.01)
    assert all(r.epoch_seconds is not None and r.epoch_seconds > 0 for r in records)


def test_recorder_records_the_rate_the_epoch_used_before_reduce_lr() -> None:
    """ReduceLROnPlateau's cut shows on the next epoch, not the one that triggered it."""
    records: list[EpochRecord] = []
    recorder = EpochRecorder(lambda r: records.append(r) or True)
    reduce = keras.callbacks.ReduceLROnPlateau(
        monitor="loss", factor=0.5, patience=0, min_delta=10.0
    )
    x, y = _data()
    _model().fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[recorder, reduce])
    assert [r.learning_rate for r in records] == pytest.approx([0.01, 0.01, 0.005])


def test_recorder_stops_training_when_the_write_is_refused() -> None:
    """A refused write (lease lost) stops training after that epoch."""
    recorder = EpochRecorder(lambda r: False)
    x, y = _data()
    history = _model().fit(x, y, epochs=5, verbose=0, callbacks=[recorder])
    assert recorder.lost and len(history.epoch) == 1


def test_recorder_turns_nan_into_none() -> None:
    """A NaN loss is recorded as None."""
    records: list[EpochRecord] = []
    recorder = EpochRecorder(lambda r: records.append(r) or True)
    recorder.set_model(_model())
    recorder.on_epoch_begin(0)
    recorder.on_epoch_end(0, {"loss": math.nan, "accuracy": 0.5})
    assert records[0].loss is None and records[0].accuracy == 0.5


def test_min_accuracy_stops_only_once_the_threshold_is_passed() -> None:
    """Below the threshold training continues (unlike the report's bug); above, it stops."""
    x, y = _data()
    never = MinAccuracyStop(threshold=1.0)
    assert len(_model().fit(x, y, epochs=3, verbose=0, callbacks=[never]).epoch) == 3
    assert never.stopped_epoch is None
    always = MinAccuracyStop(threshold=0.01)
    assert len(_model().fit(x, y, epochs=3, verbose=0, callbacks=[always]).epoch) == 1
    assert always.stopped_epoch == 1


def test_lease_keeper_stops_within_a_batch_on_cancel() -> None:
    """A cancel seen by the heartbeat stops training in the same epoch."""
    keeper = LeaseKeeper(lambda: Heartbeat(held=True, cancel_requested=True), interval=0)
    x, y = _data()
    history = _model().fit(x, y, epochs=3, batch_size=4, verbose=0, callbacks=[keeper])
    assert keeper.cancelled and len(history.epoch) == 1


def test_lease_keeper_stops_when_the_lease_is_lost() -> None:
    """A heartbeat that finds the run taken over stops training."""
    keeper = LeaseKeeper(lambda: Heartbeat(held=False), interval=0)
    x, y = _data()
    _model().fit(x, y, epochs=3, batch_size=4, verbose=0, callbacks=[keeper])
    assert keeper.lost


def test_lease_keeper_stops_on_shutdown_without_asking_the_database() -> None:
    """The worker's shutdown flag stops training even with no heartbeat due."""
    beats: list[int] = []
    keeper = LeaseKeeper(
        lambda: beats.append(1) or Heartbeat(held=True), shutdown=lambda: True, interval=3600
    )
    x, y = _data()
    history = _model().fit(x, y, epochs=3, batch_size=4, verbose=0, callbacks=[keeper])
    assert keeper.shutting_down and len(history.epoch) == 1


def test_early_stopping_counters_survive_a_resume() -> None:
    """Checkpointed wait/best are re-applied after Keras resets them at train begin."""
    import json

    from trainer.callbacks import ResumableEarlyStopping

    first = ResumableEarlyStopping(monitor="loss", patience=5, min_delta=10.0)
    x, y = _data()
    _model().fit(x, y, epochs=2, verbose=0, callbacks=[first])
    state = json.loads(json.dumps(first.state()))  # what the checkpoint stores
    assert state["wait"] == 1 and state["best"] is not None
    second = ResumableEarlyStopping(monitor="loss", patience=5, min_delta=10.0)
    second.resume_from(state, None)
    second.set_model(_model())
    second.on_train_begin()
    assert (second.wait, second.best, second.best_epoch) == (1, state["best"], state["best_epoch"])


def test_recorder_keeps_every_number_keras_logs_under_its_name() -> None:
    """Custom names, NumPy scalars and short vectors (one value per element) are recorded;
    text is not a metric; the recorder's own learning rate wins over the logs'."""
    records: list[EpochRecord] = []
    recorder = EpochRecorder(lambda r: records.append(r) or True)
    recorder.set_model(_model())
    recorder.on_epoch_begin(0)
    logs = {
        "loss": 0.5,
        "top_3_accuracy": np.float32(0.75),
        "f1_score": np.array([0.25, 0.5]),
        "note": "text",
        "learning_rate": 123.0,
    }
    recorder.on_epoch_end(0, logs)
    metrics = dict(records[0].metrics)
    seconds = metrics.pop("epoch_seconds")
    assert seconds is not None and seconds >= 0
    assert metrics == {
        "loss": 0.5,
        "top_3_accuracy": 0.75,
        "f1_score[0]": 0.25,
        "f1_score[1]": 0.5,
        "learning_rate": pytest.approx(0.01),
    }

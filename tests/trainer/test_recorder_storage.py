"""The worker's recorder stores every metric a model was compiled with, exactly as Keras
logged it, through the fenced write path, on SQLite and PostgreSQL."""

from __future__ import annotations

import keras
import numpy as np

from db.metrics import metric_names, metric_table
from db.session import Database
from tests.db.factories import running_run
from trainer.callbacks import EpochRecorder
from trainer.reporting import RunReporter


def _hits(y_true, y_pred):  # type: ignore[no-untyped-def]
    """A custom metric function: Keras logs it under its function name."""
    return keras.ops.mean(keras.ops.cast(keras.ops.abs(y_true - y_pred) < 0.5, "float32"))


def test_custom_metrics_are_recorded_exactly(database: Database) -> None:
    """AUC, a top-k accuracy and a custom function reach the database under their names."""
    run_id, attempt = running_run(database)
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).random((32, 4), dtype=np.float32)
    y = (x[:, 0] > 0.5).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(
        keras.optimizers.Adam(0.01),
        "binary_crossentropy",
        metrics=["accuracy", keras.metrics.AUC(name="auc"), _hits],
    )
    recorder = EpochRecorder(RunReporter(database, run_id, attempt).record_epoch)
    history = model.fit(
        x, y, validation_data=(x, y), epochs=2, batch_size=8, verbose=0, callbacks=[recorder]
    )
    logged = sorted(history.history)
    with database.read() as session:
        names = metric_names(session, [run_id])
        rows = metric_table(session, [run_id], logged)
    assert set(names) == {*logged, "learning_rate", "epoch_seconds"}
    assert {"auc", "val_auc", "_hits", "val__hits"} <= set(names)
    for i, name in enumerate(logged):
        assert [row[2 + i] for row in rows] == history.history[name], name

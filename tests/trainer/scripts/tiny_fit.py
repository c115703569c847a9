"""A user's own training script, as the tracking tests run it: a tiny model on random data.

Options come from argv as JSON (`{"epochs": 3, ...}`) so one file serves every test:
epochs, initial_epoch, run_id, fits (how many fit calls), early_stopping, fail_at_epoch,
every (log_every_n_batches), save_model, context (use `with LabCallback(...)`), catch
(and catch the failure), pause (seconds after each epoch).
"""

from __future__ import annotations

import json
import sys
import time

import keras
import numpy as np

from trainer.tracking import LabCallback


class DoubleLoss(keras.metrics.Metric):
    """A custom metric: twice the mean squared error of the class probabilities."""

    def __init__(self, name: str = "double_loss", **kwargs: object) -> None:
        super().__init__(name=name, **kwargs)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):  # type: ignore[no-untyped-def]
        labels = keras.ops.one_hot(keras.ops.cast(y_true, "int32"), 3)
        error = keras.ops.mean(keras.ops.square(labels - y_pred))
        self.total.assign_add(2.0 * error)
        self.count.assign_add(1.0)

    def result(self):  # type: ignore[no-untyped-def]
        return self.total / keras.ops.maximum(self.count, 1.0)


class FailAt(keras.callbacks.Callback):
    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.at = epoch

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if epoch + 1 == self.at:
            raise RuntimeError(f"boom in epoch {epoch + 1}")


class Pause(keras.callbacks.Callback):
    """Sleeps after each epoch, so a test can break the database between epochs."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        time.sleep(self.seconds)


def main() -> None:
    options = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((24, 8, 8, 3), dtype=np.float32)
    y = rng.integers(0, 3, 24)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Flatten(),
            keras.layers.Dense(4, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ],
        name="tiny",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy", DoubleLoss()],
    )
    lab = LabCallback(
        name="tiny-run",
        study="tracking",
        config={"learning_rate": 1e-3, "batch_size": 8, "note": "anything JSON"},
        tags=["script", "test"],
        run_id=options.get("run_id"),
        log_every_n_batches=options.get("every"),
        save_model=bool(options.get("save_model")),
        class_names=["a", "b", "c"],
    )
    callbacks: list[keras.callbacks.Callback] = [lab]
    if options.get("early_stopping"):
        # Nothing counts as an improvement after the first epoch: stops after the second.
        callbacks.append(keras.callbacks.EarlyStopping(monitor="loss", min_delta=1e3, patience=1))
    if options.get("pause"):
        callbacks.append(Pause(float(options["pause"])))
    if options.get("fail_at_epoch"):
        callbacks.append(FailAt(int(options["fail_at_epoch"])))
    epochs = int(options.get("epochs", 3))
    initial = int(options.get("initial_epoch", 0))
    for _ in range(int(options.get("fits", 1))):
        fit = dict(batch_size=8, validation_split=0.25, verbose=0, callbacks=callbacks)
        if options.get("context"):
            try:
                with lab:
                    model.fit(x, y, epochs=epochs, initial_epoch=initial, **fit)
            except RuntimeError:
                if not options.get("catch"):
                    raise
                print("caught the failure; the script goes on", file=sys.stderr)
                return
        else:
            model.fit(x, y, epochs=epochs, initial_epoch=initial, **fit)
        history = model.history.history
        print(json.dumps({"run_id": lab.run_id, "history": history}))


if __name__ == "__main__":
    main()

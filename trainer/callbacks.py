"""Keras callbacks of the lab; persistence is injected, so they are tested without a database."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import keras
import numpy as np

from db.entities import EpochRecord
from db.metrics import finite_or_none
from db.queue import Heartbeat
from experiment.metrics import EPOCH_SECONDS, LEARNING_RATE

# A vector metric (F1Score(average=None): one value per class) up to this long is kept as
# one series per element, `f1_score[0]`, `f1_score[1]`, ...; longer ones are not series.
MAX_VECTOR_METRIC = 64


def current_learning_rate(model: keras.Model) -> float | None:
    """The optimizer's learning rate now, as a float (schedules are evaluated at this step)."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    return finite_or_none(float(keras.ops.convert_to_numpy(optimizer.learning_rate)))


def scalar_logs(logs: Mapping[str, Any]) -> dict[str, float | None]:
    """Every number in Keras's `logs` under its own name; NaN and infinities become None.

    Keras hands over Python floats, NumPy scalars or backend tensors; a short vector metric
    becomes one value per element (`MAX_VECTOR_METRIC`); anything else (text, big arrays) is
    not a metric and is left out.
    """
    values: dict[str, float | None] = {}
    for name, value in logs.items():
        if value is None or isinstance(value, str | bytes):
            continue
        try:
            array = np.asarray(keras.ops.convert_to_numpy(value), dtype=np.float64)
        except (TypeError, ValueError):
            continue
        if array.size == 1:
            values[name] = finite_or_none(float(array.reshape(())))
        elif array.ndim == 1 and 0 < array.size <= MAX_VECTOR_METRIC:
            values.update(
                (f"{name}[{i}]", finite_or_none(float(item))) for i, item in enumerate(array)
            )
    return values


class EpochRecorder(keras.callbacks.Callback):
    """Writes each epoch's metrics as the epoch ends, through `write` (True while the run is ours).

    Every number Keras puts in `logs` is recorded under its own name (any metric the model
    was compiled with: `auc`, `top_3_accuracy`, custom ones), plus `learning_rate` and
    `epoch_seconds`. The learning rate recorded is the one the epoch trained with, read at the
    epoch's start, before ReduceLROnPlateau changes it at the epoch's end (it overrides the
    `learning_rate` that callback puts in `logs`). Keras still calls `on_epoch_end` after a
    stop in the middle of an epoch; `interrupted` says so, and such a partial epoch is not
    recorded (a resumed run trains it again in full).
    """

    def __init__(
        self,
        write: Callable[[EpochRecord], bool],
        *,
        interrupted: Callable[[], bool] = lambda: False,
    ) -> None:
        super().__init__()
        self._write = write
        self._interrupted = interrupted
        self.lost = False
        self._started = 0.0
        self._learning_rate: float | None = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.lost = False

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._started = time.perf_counter()
        self._learning_rate = current_learning_rate(self.model)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        if self._interrupted():
            return
        metrics = scalar_logs(logs)
        metrics[LEARNING_RATE] = self._learning_rate
        metrics[EPOCH_SECONDS] = time.perf_counter() - self._started
        record = EpochRecord(epoch + 1, metrics)
        if not self._write(record):
            self.lost = True
            self.model.stop_training = True


class LeaseKeeper(keras.callbacks.Callback):
    """Heartbeats during training; stops within one batch on cancel, lost lease or shutdown.

    `shutdown` is the worker's signal flag, checked every batch (it costs nothing); the
    database is asked at most every `interval` seconds.
    """

    def __init__(
        self,
        beat: Callable[[], Heartbeat],
        *,
        shutdown: Callable[[], bool] = lambda: False,
        interval: float = 2.0,
    ) -> None:
        super().__init__()
        self._beat = beat
        self._shutdown = shutdown
        self._interval = interval
        self._last = 0.0
        self.cancelled = False
        self.lost = False
        self.shutting_down = False
        self.interrupted = False  # stopped in the middle of an epoch

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.cancelled = False
        self.lost = False
        self.shutting_down = False
        self.interrupted = False
        self._last = time.monotonic()

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self._shutdown():
            self.shutting_down = True
            self.model.stop_training = True
        elif time.monotonic() - self._last >= self._interval:
            self.check()
        self.interrupted = bool(self.model.stop_training)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.check()

    def check(self) -> None:
        self._last = time.monotonic()
        state = self._beat()
        if not state.held:
            self.lost = True
        elif state.cancel_requested:
            self.cancelled = True
        if self.lost or self.cancelled:
            self.model.stop_training = True


class MinAccuracyStop(keras.callbacks.Callback):
    """Stops once the monitored accuracy exceeds `threshold` (the report's "MinAccuracy").

    The report's version set `stop_training` outside its `if`, stopping after epoch 1; this
    one stops only when the threshold is actually passed.
    """

    def __init__(self, threshold: float, monitor: str = "accuracy") -> None:
        super().__init__()
        self.threshold = threshold
        self.monitor = monitor
        self.stopped_epoch: int | None = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.stopped_epoch = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        value = finite_or_none(logs.get(self.monitor))
        if value is not None and value > self.threshold:
            self.stopped_epoch = epoch + 1
            self.model.stop_training = True


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


class _ResumableCounters:
    """Counters that survive a worker change.

    Keras resets a stopping rule's counters in `on_train_begin`; a resumed run re-applies the
    checkpointed values right after that reset. `COUNTERS` names the attributes kept.
    """

    COUNTERS: tuple[str, ...] = ()

    def _init_resume(self) -> None:
        self._pending: dict[str, Any] | None = None

    def state(self) -> dict[str, Any]:
        """The counters as plain JSON values (Keras may hold numpy scalars)."""
        return {name: _plain(getattr(self, name)) for name in self.COUNTERS}

    def _apply_pending(self) -> None:
        if self._pending is not None:
            for name, value in self._pending.items():
                setattr(self, name, value)
            self._pending = None


class ResumableEarlyStopping(_ResumableCounters, keras.callbacks.EarlyStopping):
    """EarlyStopping whose wait, best and best weights survive a worker change."""

    COUNTERS = ("wait", "best", "best_epoch")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._init_resume()

    def best_weights_arrays(self) -> list[Any] | None:
        return self.best_weights

    def resume_from(self, state: dict[str, Any], best_weights: list[Any] | None) -> None:
        self._pending = {**state, "best_weights": best_weights}

    def restart_patience(self) -> None:
        """For the next `fit`: keep the best so far and its weights, wait from zero (a new
        training phase, fine-tuning, gets its full patience)."""
        base = self._pending
        if base is None:
            base = {**self.state(), "best_weights": self.best_weights}
        self._pending = {**base, "wait": 0}

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        super().on_train_begin(logs)
        self._apply_pending()


class ResumableReduceLROnPlateau(_ResumableCounters, keras.callbacks.ReduceLROnPlateau):
    """ReduceLROnPlateau whose counters survive a worker change (the rate itself lives in
    the optimizer state, which the checkpoint keeps)."""

    COUNTERS = ("wait", "best", "cooldown_counter")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._init_resume()

    def resume_from(self, state: dict[str, Any]) -> None:
        self._pending = dict(state)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        super().on_train_begin(logs)
        self._apply_pending()


class PruningCallback(keras.callbacks.Callback):
    """Asks a search's pruner after each epoch whether to stop the run (Optuna's
    KerasPruningCallback, with the decision injected).

    `judge(epoch, logs)` returns the reason to prune after that 1-based epoch, or None; it is
    given the epoch's logs because the recorder's write may not have reached the database yet.
    The last epoch is not judged: the run is complete by then. A judge that raises (say the
    database is briefly away) lets the run train on: pruning saves time, it must never fail a
    run.
    """

    def __init__(
        self,
        judge: Callable[[int, Mapping[str, Any]], str | None],
        *,
        on_error: Callable[[Exception], None] = lambda error: None,
    ) -> None:
        super().__init__()
        self._judge = judge
        self._on_error = on_error
        self.pruned_epoch: int | None = None
        self.reason: str | None = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.pruned_epoch = None
        self.reason = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        if self.model.stop_training or epoch + 1 >= self.params.get("epochs", 0):
            return
        try:
            reason = self._judge(epoch + 1, logs)
        except Exception as error:
            self._on_error(error)
            return
        if reason is not None:
            self.pruned_epoch = epoch + 1
            self.reason = reason
            self.model.stop_training = True

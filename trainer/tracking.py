"""`LabCallback`: log a run from your own Keras 3 script, in two lines.

```python
from trainer.tracking import LabCallback
model.fit(x, y, epochs=20, callbacks=[LabCallback(name="my-run", study="backbones")])
```

The run (source "script") gets every number Keras puts in `logs` at each epoch's end under
its own name, the learning rate and the epoch's time, optionally per-batch values, the model's
summary and parameter counts, the script, host, git commit and package versions, heartbeats
while it trains, and how it ended. Writes go to a local outbox first and a thread sends them
(trainer/spool.py): training never waits for the database, and when it does not answer the
records stay in the spool folder for `python -m trainer sync`.

How a run ends:
- succeeded: `fit` returned; "stopped" (stop reason early_stopping) when a callback set
  `model.stop_training`, naming that callback (EarlyStopping, TerminateOnNaN, yours).
- failed, with the exception: Keras does not call `on_train_end` when `fit` raises, so
  the callback catches it three ways. As a context manager (`with LabCallback(...) as lab:`)
  it sees the exception itself; otherwise a `sys.excepthook` (installed at the first fit,
  chaining to the previous one) records an uncaught exception before the traceback prints,
  and an `atexit` hook ends a fit the script left unfinished (an exception it caught, a
  `sys.exit` in the middle). A KeyboardInterrupt ends it cancelled. A killed process (SIGKILL)
  leaves the run running; its heartbeat shows when it stopped.
"""

from __future__ import annotations

import atexit
import inspect
import json
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import keras

from db.models import RunStatus, StopReason
from settings import Settings
from trainer.callbacks import current_learning_rate, scalar_logs
from trainer.outbox import Outbox, OutboxError
from trainer.script_environment import (
    image_size,
    model_summary,
    output_names,
    parameter_counts_of,
    script_environment,
    script_name,
)
from trainer.spool import ScriptLink

# How long the end of a fit waits for its records to reach the database; an unreachable one
# is given up on sooner (one more failed try), leaving the records spooled.
FLUSH_SECONDS = 60.0
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_MAX_ERROR = 20_000


class LabCallback(keras.callbacks.Callback):
    """Logs a Keras `fit` as a lab run of source "script"; see the module docstring.

    Args:
        name: the run's name (default: the script's file name).
        study: the study it belongs to, to compare it with others.
        config: anything JSON that describes the run; keys that name one of the lab's fields
            (`learning_rate`, `batch_size`, `optimizer`, ...) fill the run table's columns.
        tags: labels for filtering.
        run_id: the run's own key (letters, digits, `_.-`, at most 64). Give the same key to
            continue a run in another `fit` or another process; default: a new random one
            (`callback.run_id` says which). The same callback object continues its run too.
        log_every_n_batches: also record the training values every N batches (step axis).
        save_model: store the final model in the artifact store (Predict, Model tab).
        class_names: the output classes' names for Predict (default "0", "1", ...).
        database_url: where to log (default: `DATABASE_URL`, as the lab's commands).
        flush_seconds: how long the end of a fit waits for its records to be sent.
    """

    def __init__(
        self,
        name: str | None = None,
        study: str | None = None,
        config: dict[str, Any] | None = None,
        tags: Sequence[str] = (),
        run_id: str | None = None,
        log_every_n_batches: int | None = None,
        save_model: bool = False,
        class_names: Sequence[str] | None = None,
        database_url: str | None = None,
        flush_seconds: float = FLUSH_SECONDS,
    ) -> None:
        super().__init__()
        self.run_id = _key(run_id)
        self.name = _text("name", name) or script_name()
        self.study = _text("study", study)
        self.config = _json_config(config)
        self.tags = [_text("tags", str(tag)) for tag in tags]
        if log_every_n_batches is not None and int(log_every_n_batches) < 1:
            raise ValueError("log_every_n_batches must be a whole number >= 1 (or None)")
        self.every = int(log_every_n_batches) if log_every_n_batches else None
        self.save_model = bool(save_model)
        self.class_names = [str(c) for c in class_names] if class_names is not None else None
        self._settings = Settings.from_env()
        self._database_url = database_url or self._settings.database_url
        self._flush_seconds = flush_seconds
        self._link: ScriptLink | None = None
        self._fit: str | None = None
        self._started = False  # the fit's start record was written (at its first epoch)
        self._initial_epoch = 0
        self._epochs_done = 0
        self._epoch_started = 0.0
        self._learning_rate: float | None = None
        self._batches = 0
        self._steps: list[list[Any]] = []
        self._stopped_by: str | None = None
        self._wrapped: list[tuple[Any, str, Any]] = []
        if self.every is not None:
            # Only then is the batch hook overridden: Keras runs batch hooks off the training
            # thread only while every callback leaves them at their default.
            self.on_train_batch_end = self._log_batch  # type: ignore[method-assign]

    # --- Keras hooks -----------------------------------------------------------------------

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self._fit is not None:  # the previous fit raised inside Keras and was caught
            self._end(RunStatus.FAILED, StopReason.FAILED, "model.fit stopped with an exception")
        _install_hooks()
        _ACTIVE.add(self)
        if self._link is None:
            self._link = self._open_link()
        self._fit = uuid.uuid4().hex
        self._started = False
        self._epochs_done = 0
        self._batches = 0
        self._steps = []
        self._stopped_by = None
        self._watch_stops()
        self._link.training(True)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if not self._started:
            self._initial_epoch = epoch
            self._send("start", self._start_data(epoch))
            self._started = True
        self._epoch_started = time.perf_counter()
        self._learning_rate = current_learning_rate(self.model)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        self._send_steps()
        metrics = scalar_logs(logs)
        metrics["learning_rate"] = self._learning_rate
        metrics["epoch_seconds"] = time.perf_counter() - self._epoch_started
        self._epochs_done = epoch - self._initial_epoch + 1
        self._send(
            "epoch",
            {"fit_epoch": self._epochs_done, "metrics": metrics, "recorded_at": _now()},
        )

    def _log_batch(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        self._batches += 1
        if self.every and self._batches % self.every == 0:
            self._steps.append([self._batches, scalar_logs(logs), _now()])

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._unwatch_stops()
        if self._fit is None:
            return
        if self.save_model and self._started:
            try:
                self._send_model()
            except Exception as error:  # e.g. a subclassed model without get_config
                first = (str(error).splitlines() or [""])[0]
                print(
                    f"LabCallback: run {self.run_id}'s model was not stored "
                    f"({type(error).__name__}: {first})",
                    file=sys.stderr,
                )
        if self.model.stop_training:
            who = self._stopped_by or "model.stop_training (set outside a callback)"
            detail = f"stopped by {who} after {self._epochs_done} of {self._planned()} epochs"
            self._end(RunStatus.SUCCEEDED, StopReason.EARLY_STOPPING, detail)
        else:
            detail = f"completed {self._epochs_done} of {self._planned()} epochs"
            self._end(RunStatus.SUCCEEDED, StopReason.COMPLETED, detail)

    # --- failures and the end of the script ------------------------------------------------

    def __enter__(self) -> LabCallback:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if error is not None:
            self.fail(error)
        self.close()

    def fail(self, error: BaseException) -> None:
        """End the current fit, if one is on, as failed with `error` (cancelled for Ctrl-C)."""
        if self._fit is None:
            return
        self._unwatch_stops()
        if isinstance(error, KeyboardInterrupt):
            self._end(RunStatus.CANCELLED, StopReason.CANCELLED, "interrupted (KeyboardInterrupt)")
            return
        text = "".join(traceback.format_exception(error))[-_MAX_ERROR:]
        detail = f"{type(error).__name__}: {error}".splitlines()[0] if str(error) else None
        self._end(RunStatus.FAILED, StopReason.FAILED, detail or type(error).__name__, text)

    def close(self) -> bool:
        """End an unfinished fit as failed, send what is left (waiting at most `flush_seconds`)
        and stop the sending thread. True when everything reached the database; otherwise the
        records stay in the spool for `python -m trainer sync`. Called at exit if not before."""
        if self._fit is not None:
            self._unwatch_stops()
            self._end(RunStatus.FAILED, StopReason.FAILED, "the script ended during model.fit")
        _ACTIVE.discard(self)
        if self._link is None:
            return True
        link, self._link = self._link, None
        return link.close()

    @property
    def database_run_id(self) -> int | None:
        """The run's id in the database, once a record reached it (None while spooling)."""
        return self._link.run_id if self._link is not None else None

    @property
    def spool_folder(self) -> Path:
        """The folder this run's records wait in until the database has them."""
        return self._settings.script_spool / self.run_id

    # --- internals -------------------------------------------------------------------------

    def _open_link(self) -> ScriptLink:
        try:
            outbox = Outbox(self.spool_folder)
        except OutboxError as error:
            raise RuntimeError(
                f"LabCallback: run {self.run_id} is being logged by another process ({error}); "
                "give this one another run_id"
            ) from None
        link = ScriptLink(
            outbox,
            self.run_id,
            database_url=self._database_url,
            busy_timeout=self._settings.sqlite_busy_timeout,
            artifacts=self._settings.artifacts,
        )
        link.start()
        return link

    def _send(self, kind: str, data: dict[str, Any], blob: Path | bytes | None = None) -> None:
        assert self._link is not None and self._fit is not None
        self._link.append(kind, {"fit": self._fit, **data}, blob)

    def _send_steps(self) -> None:
        if self._steps and self._started:
            self._send("steps", {"steps": self._steps})
        self._steps = []

    def _end(
        self, status: RunStatus, reason: StopReason, detail: str, error: str | None = None
    ) -> None:
        """Write the fit's end and wait (bounded) for its records to reach the database."""
        if self._fit is not None and self._link is not None and self._started:
            self._send_steps()
            values = {"status": status.value, "stop_reason": reason.value}
            self._send(
                "finish",
                {**values, "stop_detail": detail, "error": error, "finished_at": _now()},
            )
            self._link.training(False)
            self._link.settle(self._flush_seconds)
        elif self._link is not None:
            self._link.training(False)
        self._fit = None

    def _planned(self) -> int:
        return int(self.params.get("epochs") or 0) - self._initial_epoch

    def _start_data(self, initial_epoch: int) -> dict[str, Any]:
        total, trainable = parameter_counts_of(self.model)
        return {
            "name": self.name,
            "study": self.study,
            "tags": self.tags,
            "config": self.config,
            "started_at": _now(),
            "initial_epoch": initial_epoch,
            "epochs": int(self.params.get("epochs") or 0),
            "steps_per_epoch": self.params.get("steps"),
            "total_params": total,
            "trainable_params": trainable,
            "learning_rate": current_learning_rate(self.model),
            "environment": script_environment(self.model),
        }

    def _send_model(self) -> None:
        from trainer.model_io import custom_objects_in

        assert self._link is not None
        path = self._link.outbox.scratch(".keras")
        self.model.save(path)
        meta = {
            "class_names": self.class_names or output_names(self.model),
            "image_size": image_size(self.model),
            "architecture": self.model.name,
            "summary": model_summary(self.model),
            "format": "keras",
            "preprocessing": None,
            "custom_objects": custom_objects_in(path.read_bytes()),
            "source": "script",
        }
        self._send("model", {"meta": meta}, path)

    def _watch_stops(self) -> None:
        """Wrap the other callbacks' epoch and batch hooks to learn which one sets
        `model.stop_training` (Keras does not say)."""
        for callback in _fit_callbacks():
            if callback is self:
                continue
            for hook in ("on_epoch_end", "on_train_batch_end", "on_batch_end"):
                original = getattr(callback, hook, None)
                if original is None or getattr(original, "_is_default", False):
                    continue
                own = callback.__dict__.get(hook)
                setattr(callback, hook, self._watched(original, type(callback).__name__))
                self._wrapped.append((callback, hook, own))

    def _watched(self, hook: Callable[..., Any], name: str) -> Callable[..., Any]:
        def watched(*args: Any, **kwargs: Any) -> Any:
            before = bool(self.model.stop_training)
            result = hook(*args, **kwargs)
            if not before and self.model.stop_training and self._stopped_by is None:
                self._stopped_by = name
            return result

        return watched

    def _unwatch_stops(self) -> None:
        for callback, hook, own in self._wrapped:
            if own is None:
                callback.__dict__.pop(hook, None)
            else:
                setattr(callback, hook, own)
        self._wrapped = []


# --- helpers --------------------------------------------------------------------------------


def _key(run_id: str | None) -> str:
    if run_id is None:
        return uuid.uuid4().hex
    key = str(run_id)
    if not _KEY.fullmatch(key):
        raise ValueError(
            f"run_id {key[:80]!r}: use 1 to 64 letters, digits, '_', '.' or '-' (starting with "
            "a letter or digit)"
        )
    return key


def _text(what: str, value: str | None) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if not 0 < len(text) <= 200:
        raise ValueError(f"LabCallback {what}: 1 to 200 characters, not {len(text)}")
    return text


def _json_config(config: dict[str, Any] | None) -> dict[str, Any]:
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise ValueError(f"LabCallback config must be a dict, not {type(config).__name__}")
    try:
        return dict(json.loads(json.dumps(config, allow_nan=False)))
    except (TypeError, ValueError) as error:
        raise ValueError(f"LabCallback config must be plain JSON values: {error}") from None


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _fit_callbacks() -> list[Any]:
    """The callbacks of the `fit` running now: its CallbackList is the caller's `self`."""
    frame = inspect.currentframe()
    try:
        while frame is not None:
            owner = frame.f_locals.get("self")
            if isinstance(owner, keras.callbacks.CallbackList):
                return list(owner.callbacks)
            frame = frame.f_back
        return []
    finally:
        del frame


# --- process-wide hooks: failures Keras does not report -------------------------------------

_ACTIVE: set[LabCallback] = set()
_HOOKS = threading.Lock()
_installed = False


def _install_hooks() -> None:
    global _installed
    with _HOOKS:
        if _installed:
            return
        previous = sys.excepthook

        def excepthook(
            kind: type[BaseException], error: BaseException, trace: TracebackType | None
        ) -> None:
            for callback in list(_ACTIVE):
                try:
                    callback.fail(error)
                except Exception as problem:  # never hide the script's own traceback
                    print(f"LabCallback: could not record the failure: {problem}", file=sys.stderr)
            previous(kind, error, trace)

        sys.excepthook = excepthook
        atexit.register(_at_exit)
        _installed = True


def _at_exit() -> None:
    for callback in list(_ACTIVE):
        try:
            callback.close()
        except Exception as problem:
            print(f"LabCallback: could not close run {callback.run_id}: {problem}", file=sys.stderr)

"""Train one claimed run: data, model, callbacks, fit, then store the model and the outcome."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from data.augment import AugmentSpec, RandomAugment
from data.loader import DatasetIndex, Split, make_dataset, stratified_split
from data.loader import fingerprint as dataset_fingerprint
from db.entities import EpochRecord
from db.models import RunStatus, StopReason
from experiment.config import ExperimentConfig
from settings import Settings, resolve_dataset_path
from trainer.architectures import build_model
from trainer.callbacks import (
    EpochRecorder,
    LeaseKeeper,
    MinAccuracyStop,
    PruningCallback,
    ResumableEarlyStopping,
    ResumableReduceLROnPlateau,
)
from trainer.checkpoint import Checkpoint, write_checkpoint
from trainer.devices import Device
from trainer.environment import describe_environment
from trainer.evaluate import prediction_records, summarise, thumbnail
from trainer.inputs import (
    PreparationStopped,
    build_inputs,
    input_info,
    plan_for_run,
    scan_for_run,
)
from trainer.link import RunLink
from trainer.model_io import model_from_bytes, save_model_file

log = logging.getLogger("trainer.train")

OPTIMIZERS: dict[str, type[keras.optimizers.Optimizer]] = {
    "sgd": keras.optimizers.SGD,
    "adam": keras.optimizers.Adam,
    "adamax": keras.optimizers.Adamax,
    "rmsprop": keras.optimizers.RMSprop,
}


@dataclass(frozen=True)
class Outcome:
    """How a training attempt ended, from the worker's point of view."""

    status: RunStatus | None  # None: the run was lost or handed back; nothing final written
    stop_reason: StopReason | None = None
    detail: str | None = None


def augment_spec(config: ExperimentConfig) -> AugmentSpec:
    # Same field names by design: a knob added to one and not the other fails here, loudly.
    return AugmentSpec(**config.augmentation.model_dump())


def assemble_model(
    core: keras.Model, image_size: int, *, augment: AugmentSpec | None, seed: int
) -> keras.Model:
    """Wrap an architecture with the preprocessing every stored model carries.

    The stored model takes raw [0, 255] pixels, so prediction needs only decode and resize
    (data/loader.py) and cannot drift from training. On a GPU the augmentation layer runs here,
    inside the graph; it is the identity at inference.
    """
    inputs = keras.Input(shape=(image_size, image_size, 3), name="pixels")
    x = inputs
    if augment is not None:
        x = RandomAugment(augment, seed=seed, name="augment")(x)
    x = keras.layers.Rescaling(1.0 / 255, name="rescale")(x)
    outputs = core(x)
    return keras.Model(inputs, outputs, name=f"{core.name}_classifier")


def model_summary(core: keras.Model) -> dict[str, Any]:
    """Layers, output shapes and parameter counts, as the report's summary table shows them."""
    rows = [
        {
            "name": layer.name,
            "type": type(layer).__name__,
            "output_shape": list(layer.output.shape[1:]),
            "params": int(layer.count_params()),
        }
        for layer in core.layers
    ]
    return {"name": core.name, "total_params": int(core.count_params()), "layers": rows}


def make_callbacks(
    config: ExperimentConfig,
    reporter: RunLink,
    shutdown: Callable[[], bool],
    resume: Checkpoint | None,
    judge: Callable[[int, Mapping[str, Any]], str | None] | None = None,
) -> dict[str, keras.callbacks.Callback]:
    """The run's callbacks, in the order Keras must call them.

    The stopping rules come first so that the recorder, which checkpoints their counters with
    each epoch, sees this epoch's state; a search's pruner comes after the recorder and is given
    the epoch's logs.
    """
    callbacks: dict[str, keras.callbacks.Callback] = {}
    state = resume.callback_state if resume else {}
    # The config's callback sections use Keras's own argument names.
    if config.early_stopping is not None:
        early = ResumableEarlyStopping(**config.early_stopping.model_dump())
        if "early_stopping" in state and resume is not None:
            early.resume_from(state["early_stopping"], resume.best_weights)
        callbacks["early_stopping"] = early
    if config.reduce_lr is not None:
        reduce = ResumableReduceLROnPlateau(**config.reduce_lr.model_dump())
        if "reduce_lr" in state:
            reduce.resume_from(state["reduce_lr"])
        callbacks["reduce_lr"] = reduce
    if config.min_accuracy is not None:
        ma = config.min_accuracy
        callbacks["min_accuracy"] = MinAccuracyStop(ma.threshold, monitor=ma.monitor)
    lease = LeaseKeeper(reporter.heartbeat, shutdown=shutdown)
    recorder = EpochRecorder(
        _epoch_committer(reporter, callbacks), interrupted=lambda: lease.interrupted
    )
    callbacks["recorder"] = recorder
    if judge is not None:
        callbacks["pruner"] = PruningCallback(judge, on_error=_judge_failed)
    callbacks["lease"] = lease
    return callbacks


def _judge_failed(error: Exception) -> None:
    log.warning("pruner unavailable this epoch, the run trains on: %s", error)


def _epoch_committer(
    reporter: RunLink, callbacks: dict[str, keras.callbacks.Callback]
) -> Callable[[EpochRecord], bool]:
    """Hands an epoch's metrics and its checkpoint file to the run's link.

    The checkpoint is written to local disk here, on the training thread (the weights are this
    epoch's); the link stores it and then the epoch row, which points at it.
    """

    def commit(record: EpochRecord) -> bool:
        recorder = callbacks["recorder"]
        state: dict[str, Any] = {}
        best_weights = None
        early = callbacks.get("early_stopping")
        if isinstance(early, ResumableEarlyStopping):
            state["early_stopping"] = early.state()
            best_weights = early.best_weights_arrays()
        reduce = callbacks.get("reduce_lr")
        if isinstance(reduce, ResumableReduceLROnPlateau):
            state["reduce_lr"] = reduce.state()
        model_file = reporter.scratch(".keras")
        save_model_file(recorder.model, model_file)
        checkpoint = reporter.scratch(".zip")
        write_checkpoint(
            checkpoint,
            epoch=record.epoch,
            model_file=model_file,
            callback_state=state,
            best_weights=best_weights,
        )
        model_file.unlink()
        return reporter.commit_epoch(record, checkpoint)

    return commit


def stop_reason(
    config: ExperimentConfig, callbacks: dict[str, keras.callbacks.Callback], epochs_done: int
) -> tuple[StopReason, str]:
    """Name why fit() returned, in the words the Runs page shows."""
    min_accuracy = callbacks.get("min_accuracy")
    if isinstance(min_accuracy, MinAccuracyStop) and min_accuracy.stopped_epoch is not None:
        return StopReason.MIN_ACCURACY, (
            f"{min_accuracy.monitor} passed {min_accuracy.threshold:g} "
            f"at epoch {min_accuracy.stopped_epoch}"
        )
    early = callbacks.get("early_stopping")
    if isinstance(early, keras.callbacks.EarlyStopping) and early.stopped_epoch > 0:
        best = getattr(early, "best_epoch", None)
        restored = "restored" if early.restore_best_weights else "not restored"
        best_text = f", best epoch {best + 1} {restored}" if best is not None else ""
        return StopReason.EARLY_STOPPING, (
            f"early stopping on {early.monitor} at epoch {early.stopped_epoch + 1}{best_text}"
        )
    return StopReason.COMPLETED, f"all {epochs_done} epochs done"


def train(
    config: ExperimentConfig,
    reporter: RunLink,
    device: Device,
    *,
    shutdown: Callable[[], bool] = lambda: False,
    fresh_start: bool = True,
    settings: Settings | None = None,
    judge: Callable[[int, Mapping[str, Any]], str | None] | None = None,
) -> Outcome:
    """Run one attempt of `config`, writing through `reporter`; returns how it ended.

    A later attempt resumes from the run's last checkpoint when there is one. `settings` give
    the dataset file cache and the memory budget (none and the default share without them).
    `judge`, for a search's trial, says after each epoch whether to prune the run. Raises
    whatever training raises; the worker turns that into a failed run. The writes are sent by
    the link's thread: the outcome is final once `reporter.settle()` says they all landed.
    """
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.mixed_precision.set_global_policy(
        "mixed_float16" if config.mixed_precision else "float32"
    )
    # Start-up (verifying the dataset, fingerprinting it) can take a while on a big dataset:
    # heartbeat between the steps so the lease never lapses before the first batch.
    if not reporter.heartbeat().held:
        return Outcome(None)
    try:
        index, notes = scan_for_run(
            resolve_dataset_path(config.dataset), reporter, settings, shutdown=shutdown
        )
    except PreparationStopped:
        return Outcome(None)
    if not reporter.heartbeat().held:
        return Outcome(None)
    train_split, val_split = stratified_split(index, config.validation_split, config.seed)
    resume = None if fresh_start else reporter.load_checkpoint()
    # A resumed run keeps the epochs its checkpoint holds and trains the others again.
    if not fresh_start and not reporter.reset_progress(resume.epoch if resume else 0):
        return Outcome(None)
    environment = describe_environment(device, dataset_fingerprint(index))
    plan = plan_for_run(
        reporter, settings, len(train_split.files) + len(val_split.files), config.image_size
    )
    environment.update(input_info(index, plan))
    if not reporter.heartbeat().held:
        return Outcome(None)
    warnings = [*index.warnings(), *notes]
    if not reporter.set_info(
        class_names=index.class_names, environment=environment, warnings=warnings
    ):
        return Outcome(None)

    spec = augment_spec(config)
    gpu_augment = device.is_gpu and not spec.is_identity
    try:
        augment = None if gpu_augment else spec
        inputs = build_inputs(
            config, plan, train_split, val_split, augment, reporter, settings, shutdown=shutdown
        )
    except PreparationStopped:
        return Outcome(None)
    if inputs.plan != plan and not reporter.set_info(
        environment={**environment, **input_info(index, inputs.plan)},
        warnings=[*warnings, *inputs.notes],
    ):
        return Outcome(None)
    train_data, val_data = inputs.train, inputs.validation
    if resume is not None:
        model = model_from_bytes(resume.model_bytes, compile=True)
    else:
        core = build_model(config.architecture, config.image_size, len(index.class_names))
        model = assemble_model(
            core, config.image_size, augment=spec if gpu_augment else None, seed=config.seed
        )
        model.compile(
            optimizer=OPTIMIZERS[config.optimizer](learning_rate=config.learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            jit_compile=config.jit_compile,
        )
    callbacks = make_callbacks(config, reporter, shutdown, resume, judge)
    first_epoch = resume.epoch if resume else 0
    history = model.fit(
        train_data,
        validation_data=val_data,
        epochs=config.epochs,
        initial_epoch=first_epoch,
        steps_per_epoch=config.steps_per_epoch,
        validation_steps=config.validation_steps,
        callbacks=list(callbacks.values()),
        shuffle=False,  # the tf.data pipeline shuffles; Keras cannot shuffle a dataset
        verbose=0,
    )
    epochs_done = first_epoch + len(history.epoch)
    inputs.close()
    return _conclude(config, reporter, model, callbacks, epochs_done, index, val_split)


def evaluate(
    config: ExperimentConfig,
    reporter: RunLink,
    model: keras.Model,
    index: DatasetIndex,
    val_split: Split,
) -> bool:
    """Store the model's verdict on every validation image and the per-class metrics."""
    data = make_dataset(
        val_split,
        image_size=config.image_size,
        batch_size=config.batch_size,
        training=False,
        seed=config.seed,
        source="stream",  # one pass: a cache would only hold memory
    )
    probabilities = np.asarray(model.predict(data, verbose=0), dtype=np.float64)
    labels = np.asarray(val_split.labels)
    summary = summarise(probabilities, labels, index.class_names)
    records = prediction_records(reporter.run_id, val_split, Path(index.root), probabilities)
    thumbnails = [thumbnail(file) for file in val_split.files]
    return reporter.save_evaluation(summary, records, thumbnails)


def _conclude(
    config: ExperimentConfig,
    reporter: RunLink,
    model: keras.Model,
    callbacks: dict[str, keras.callbacks.Callback],
    epochs_done: int,
    index: DatasetIndex,
    val_split: Split,
) -> Outcome:
    recorder, lease = callbacks["recorder"], callbacks["lease"]
    assert isinstance(recorder, EpochRecorder) and isinstance(lease, LeaseKeeper)
    if recorder.lost or lease.lost:
        return Outcome(None)
    if lease.shutting_down:
        reporter.release()
        return Outcome(None)
    if lease.cancelled:
        detail = f"cancelled during epoch {epochs_done}"
        reporter.finish(RunStatus.CANCELLED, StopReason.CANCELLED, detail)
        return Outcome(RunStatus.CANCELLED, StopReason.CANCELLED, detail)
    pruner = callbacks.get("pruner")
    if isinstance(pruner, PruningCallback) and pruner.pruned_epoch is not None:
        # Hopeless by the search's own measure: neither evaluated nor kept as a model.
        detail = f"pruned: {pruner.reason}"[:500]  # the reason names the epoch
        if not reporter.finish(RunStatus.PRUNED, StopReason.PRUNED, detail):
            return Outcome(None)
        return Outcome(RunStatus.PRUNED, StopReason.PRUNED, detail)
    reason, detail = stop_reason(config, callbacks, epochs_done)
    meta = {
        "class_names": list(index.class_names),
        "image_size": config.image_size,
        "architecture": config.architecture,
        "summary": model_summary(model.layers[-1]),  # the architecture, inside the wrapper
        "format": "keras",
    }
    if not evaluate(config, reporter, model, index, val_split):
        return Outcome(None)
    model_file = reporter.scratch(".keras")
    save_model_file(model, model_file)
    if not reporter.save_model(model_file, meta):
        return Outcome(None)
    if not reporter.finish(RunStatus.SUCCEEDED, reason, detail):
        return Outcome(None)
    return Outcome(RunStatus.SUCCEEDED, reason, detail)

"""A run's dataset before its first batch: scanned through the machine's file cache, then fed
from memory, from decoded files on local disk, or streamed, as the worker's memory allows.

Scanning a large new dataset, filling the memory cache and writing decoded files can each take
minutes, so they heartbeat the run's lease as they go. Where the images are kept, and why, goes
into the run's environment, where the run's page shows it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import tensorflow as tf

from data.augment import AugmentSpec
from data.decoded import DecodedImages, free_space
from data.filecache import FileCache, FileCacheError
from data.loader import DatasetIndex, Split, make_dataset, scan_dataset
from data.memory import InputPlan, MemorySetting, memory_budget, plan_input
from experiment.config import ExperimentConfig
from settings import Settings
from trainer.link import RunLink

log = logging.getLogger("trainer.inputs")

# Far inside the lease grace (90 s by default); a heartbeat is one short transaction.
HEARTBEAT_SECONDS = 10.0
_LOG_SECONDS = 30.0


class PreparationStopped(Exception):
    """Preparing the dataset stopped: the run was taken over by another worker, or this worker
    is shutting down and has handed the run back. Nothing more may be written for the run."""


def scan_for_run(
    path: Path,
    reporter: RunLink,
    settings: Settings | None,
    *,
    shutdown: Callable[[], bool] = lambda: False,
) -> tuple[DatasetIndex, list[str]]:
    """Scan and verify the run's dataset through the machine's file cache.

    Returns:
        The index, and warnings for the run's record beyond the index's own (a file cache that
        could not be used, so every image was checked).

    Raises:
        PreparationStopped: a heartbeat during the scan found the run taken over, or
            ``shutdown`` turned true (the run is handed back first).
        DatasetError: the folder cannot be trained on.
    """
    notes: list[str] = []
    cache = None
    if settings is not None and settings.dataset_cache is not None:
        try:
            cache = FileCache.open(settings.dataset_cache)
        except FileCacheError as error:
            log.warning("%s; checking every image", error)
            notes.append(
                f"{error}: every image was checked; set LAB_CACHE_DIR to a writable folder"
            )
    try:
        index = scan_dataset(path, cache=cache, progress=_Progress(reporter, "verifying", shutdown))
    finally:
        if cache is not None:
            cache.close()
    if index.scan is not None:
        log.info("run %s: dataset %s scanned in %s", reporter.run_id, path, index.scan.describe())
    return index, notes


@dataclass
class RunInputs:
    """A run's training and validation datasets, where their images are kept, and why."""

    train: tf.data.Dataset
    validation: tf.data.Dataset
    plan: InputPlan
    decoded: DecodedImages | None = None
    notes: list[str] = field(default_factory=list)  # for the run's warnings

    def close(self) -> None:
        """Remove the decoded files, if any (also done when this object is collected)."""
        if self.decoded is not None:
            self.decoded.close()


def input_info(index: DatasetIndex, plan: InputPlan) -> dict[str, Any]:
    """The run's environment entries that say how its data was prepared and where it is kept."""
    info: dict[str, Any] = {
        "dataset_images": len(index.files),
        "input_pipeline": plan.mode,
        "input_pipeline_reason": plan.reason(),
    }
    if index.scan is not None:
        info["dataset_scan"] = index.scan.describe()
    return info


def build_inputs(
    config: ExperimentConfig,
    plan: InputPlan,
    train_split: Split,
    val_split: Split,
    augment: AugmentSpec | None,
    reporter: RunLink,
    settings: Settings | None,
    *,
    shutdown: Callable[[], bool] = lambda: False,
) -> RunInputs:
    """The run's datasets, with their images where ``plan`` says (``plan_for_run``).

    The memory cache is filled, or the decoded files written, before this returns. When the
    files cannot be written (the disk filled up meanwhile), the run streams instead: the
    returned ``plan`` says so and ``notes`` says why.

    Raises:
        PreparationStopped: a heartbeat while filling the cache or writing files found the
            run taken over, or ``shutdown`` turned true (the run is handed back first).
    """
    progress = _Progress(reporter, "decoding", shutdown)
    decoded, notes = None, []
    if plan.mode == "disk" and settings is not None and settings.decoded_dir is not None:
        try:
            decoded = DecodedImages.create(settings.decoded_dir)
            train_split = _write(decoded, train_split, config.image_size, "train", progress)
            val_split = _write(decoded, val_split, config.image_size, "validation", progress)
        except (OSError, tf.errors.OpError) as error:
            # A disk that fills up or turns read-only meanwhile: stream instead.
            if decoded is not None:
                decoded.close()
            decoded, plan = None, replace(plan, mode="stream")
            message = getattr(error, "message", None) or str(error)
            log.warning(
                "run %s: decoded images not written (%s); streaming", reporter.run_id, message
            )
            notes.append(f"decoded images could not be written ({message}); streamed instead")
    common: dict[str, Any] = {
        "image_size": config.image_size,
        "batch_size": config.batch_size,
        "seed": config.seed,
        "source": plan.mode,
        "progress": progress if plan.in_memory else None,
    }
    train = make_dataset(
        train_split, training=True, augment=augment, steps=config.steps_per_epoch, **common
    )
    validation = make_dataset(val_split, training=False, steps=config.validation_steps, **common)
    return RunInputs(train, validation, plan, decoded, notes)


def _write(
    decoded: DecodedImages, split: Split, image_size: int, part: str, progress: _Progress
) -> Split:
    files = decoded.write(split.files, image_size, part=part, progress=progress)
    return Split(files, split.labels)


def plan_for_run(
    reporter: RunLink, settings: Settings | None, images: int, image_size: int
) -> InputPlan:
    """Memory, disk or streaming for ``images`` decoded at ``image_size``.

    The memory budget is split between the workers now running on this machine (the workers
    table); decoded files go to the cache dir when its disk has room.
    """
    setting = settings.data_memory if settings is not None else MemorySetting()
    budget = memory_budget(setting, reporter.workers_on_host())
    decoded_dir = settings.decoded_dir if settings is not None else None
    disk_free = free_space(decoded_dir) if decoded_dir is not None else None
    plan = plan_input(images, image_size, budget, disk_free=disk_free)
    log.info("run %s: input pipeline %s: %s", reporter.run_id, plan.mode, plan.reason())
    return plan


class _Progress:
    """A progress hook for long preparations: heartbeat every few seconds, log now and then,
    and stop for a lost lease or a worker shutting down (as LeaseKeeper does in training)."""

    def __init__(self, reporter: RunLink, verb: str, shutdown: Callable[[], bool]) -> None:
        self.reporter = reporter
        self.verb = verb
        self.shutdown = shutdown
        self._beat = self._logged = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        run = self.reporter.run_id
        if self.shutdown():
            self.reporter.release()
            raise PreparationStopped(f"run {run} handed back while {self.verb} its images")
        now = time.monotonic()
        if now - self._logged >= _LOG_SECONDS:
            self._logged = now
            log.info("run %s: %s images, %s of %s done", run, self.verb, done, total)
        if now - self._beat >= HEARTBEAT_SECONDS:
            self._beat = now
            if not self.reporter.heartbeat().held:
                raise PreparationStopped(f"run {run} was taken over while {self.verb} its images")

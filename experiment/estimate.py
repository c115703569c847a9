"""How long runs will take, from how fast past runs went: grid previews, the report's preview
and the Workers page's queue all ask here.

A run costs its start-up and evaluation (`overhead`) plus its epochs, and an epoch costs the
images it sees over the images per second its architecture trains at that image size:

* images an epoch sees: `steps_per_epoch x batch_size` training images (or one pass over the
  training split), plus the validation images at a third of the cost (a forward pass only);
* images per second: measured on past runs of the same architecture and image size (the same
  batch size preferred), or at the nearest measured size scaled by the pixels per image;
* overhead: a past run's whole time (started to finished) less its epochs at the steady pace:
  scanning the dataset, building the model, tracing the first epoch, evaluating, storing.

Until a run on the dataset has been evaluated (which tells its size), a run with one pass over
the training split per epoch is timed from past runs whose epochs saw the same images.

Early stopping ends many runs before their last epoch, so estimates are upper bounds. With no
past run of the architecture, or no way to know how many images an epoch sees, there is no
estimate (None), never a zero.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from db.metrics import RunTiming
from experiment.config import ExperimentConfig

VALIDATION_COST = 1 / 3  # a validation image's cost relative to a training image's


@dataclass(frozen=True)
class RunEstimate:
    """A run's expected time: its overhead plus `epochs` epochs of `epoch_seconds` each."""

    epoch_seconds: float
    overhead_seconds: float
    epochs: int

    @property
    def total_seconds(self) -> float:
        return self.overhead_seconds + self.epochs * self.epoch_seconds


@dataclass(frozen=True)
class PlannedRun:
    config: ExperimentConfig
    duplicate_of: tuple[int, ...]  # ids of queued/running/succeeded runs with the same config
    estimate: RunEstimate | None  # None: no past run to go by

    @property
    def estimated_seconds(self) -> float | None:
        return None if self.estimate is None else self.estimate.total_seconds


def dataset_images(dataset: str, history: Sequence[RunTiming]) -> int | None:
    """Images in `dataset` (both splits), from an evaluated past run on it; None if none."""
    for timing in history:
        if timing.dataset == dataset and timing.validation_images:
            return round(timing.validation_images / timing.validation_split)
    return None


def _epoch_work(
    batch_size: int,
    steps: int | None,
    validation_steps: int | None,
    split: float,
    total_images: int | None,
) -> float | None:
    """Training images plus weighted validation images one epoch sees; None if unknowable."""
    validation = None if total_images is None else total_images * split
    if steps is not None:
        train = float(steps * batch_size)
    elif total_images is not None:
        train = total_images * (1 - split)
    else:
        return None
    if validation_steps is not None:
        validation = float(validation_steps * batch_size)
    elif validation is None:  # the split's share of what the epoch trains on
        validation = train * split / (1 - split)
    return train + VALIDATION_COST * validation


def _timing_work(timing: RunTiming) -> float | None:
    total = round(timing.validation_images / timing.validation_split) or None
    return _epoch_work(
        timing.batch_size,
        timing.steps_per_epoch,
        timing.validation_steps,
        timing.validation_split,
        total,
    )


def epoch_work(config: ExperimentConfig, history: Sequence[RunTiming]) -> float | None:
    """Training-image equivalents one epoch of `config` processes; None if unknowable."""
    return _epoch_work(
        config.batch_size,
        config.steps_per_epoch,
        config.validation_steps,
        config.validation_split,
        dataset_images(config.dataset, history),
    )


def _rate(timing: RunTiming) -> float | None:
    """Images per second of a past run: its epoch work over its steady epoch time."""
    seconds = timing.steady_epoch_seconds or timing.first_epoch_seconds
    work = _timing_work(timing)
    return None if not seconds or work is None else work / seconds


def images_per_second(config: ExperimentConfig, history: Sequence[RunTiming]) -> float | None:
    """The architecture's measured pace at the config's image size (same batch size first),
    else at the nearest measured size scaled by pixels per image; None if never measured."""
    rated = [
        (t, rate)
        for t in history
        if t.architecture == config.architecture and (rate := _rate(t)) is not None
    ]
    if not rated:
        return None
    nearest = min(abs(t.image_size - config.image_size) for t, _ in rated)
    sized = [(t, rate) for t, rate in rated if abs(t.image_size - config.image_size) == nearest]
    same_batch = [rate for t, rate in sized if t.batch_size == config.batch_size]
    rate = statistics.median(same_batch or [rate for _, rate in sized])
    measured_size = sized[0][0].image_size
    return rate * (measured_size / config.image_size) ** 2


def overhead_seconds(config: ExperimentConfig, history: Sequence[RunTiming]) -> float:
    """A run's time outside its steady epochs: the median over past runs of the architecture
    (of any architecture when it has none; 0 when no run ever finished)."""

    def overhead(timing: RunTiming) -> float | None:
        steady = timing.steady_epoch_seconds or timing.first_epoch_seconds
        if timing.run_seconds is None or steady is None:
            return None
        return max(timing.run_seconds - timing.epochs * steady, 0.0)

    measured = [(t.architecture, o) for t in history if (o := overhead(t)) is not None]
    own = [o for architecture, o in measured if architecture == config.architecture]
    pool = own or [o for _, o in measured]
    return statistics.median(pool) if pool else 0.0


def _same_epochs_seconds(config: ExperimentConfig, history: Sequence[RunTiming]) -> float | None:
    """Epoch seconds of past runs whose epochs saw the same images as `config`'s will (same
    architecture, dataset, batch, steps and split), scaled by pixels: for when the dataset's
    size is unknown (no evaluated run on it yet)."""
    seconds = [
        (t.image_size, steady)
        for t in history
        if (t.architecture, t.dataset, t.batch_size, t.steps_per_epoch, t.validation_steps)
        == (
            config.architecture,
            config.dataset,
            config.batch_size,
            config.steps_per_epoch,
            config.validation_steps,
        )
        and t.validation_split == config.validation_split
        and (steady := t.steady_epoch_seconds or t.first_epoch_seconds)
    ]
    if not seconds:
        return None
    size = min((size for size, _ in seconds), key=lambda s: abs(s - config.image_size))
    median = statistics.median(steady for s, steady in seconds if s == size)
    return median * (config.image_size / size) ** 2


def estimate_run(config: ExperimentConfig, history: Sequence[RunTiming]) -> RunEstimate | None:
    """`config`'s expected time from `history` (`db.metrics.run_timings`); None if unknown."""
    rate = images_per_second(config, history)
    work = epoch_work(config, history)
    if rate is not None and work is not None:
        per_epoch: float | None = work / rate
    else:
        per_epoch = _same_epochs_seconds(config, history)
    if per_epoch is None:
        return None
    return RunEstimate(per_epoch, overhead_seconds(config, history), config.epochs)


def plan(
    configs: Sequence[ExperimentConfig],
    existing: dict[str, list[int]],
    history: Sequence[RunTiming],
) -> list[PlannedRun]:
    """Each config with the runs it would repeat and its estimated time."""
    return [
        PlannedRun(
            config=config,
            duplicate_of=tuple(existing.get(config.identity_hash(), ())),
            estimate=estimate_run(config, history),
        )
        for config in configs
    ]


def total_text(planned: Sequence[PlannedRun]) -> str:
    """ "at most ~14 min" for the runs with an estimate, or "no estimate yet"; names how many
    runs have none."""
    known = [p.estimated_seconds for p in planned if p.estimated_seconds is not None]
    if not known:
        return "no estimate yet"
    text = f"at most {duration_text(sum(known))}"
    missing = len(planned) - len(known)
    if missing:
        text += f" (+{missing} run{'s' * (missing != 1)} with no estimate yet)"
    return text


def duration_text(seconds: float | None) -> str:
    """`None` -> "no estimate yet", 42 -> "~42 s", 600 -> "~10 min", 5400 -> "~1.5 h"."""
    if seconds is None:
        return "no estimate yet"
    if seconds < 90:
        return f"~{max(seconds, 1):.0f} s"
    if seconds < 90 * 60:
        return f"~{seconds / 60:.0f} min"
    return f"~{seconds / 3600:.1f} h"

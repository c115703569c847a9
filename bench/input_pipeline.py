"""Input pipeline benchmark: our tf.data pipeline vs the report's ImageDataGenerator vs no pipeline.

The report's setting on the sample dataset's 1,125 images: the report CNN at 224 px, batch 16
(71 steps an epoch), the report's augmentation, Adam 0.001, as ``trainer/train.py`` compiles it.

* (a) ``data.loader.make_dataset`` with the report's knobs as an ``AugmentSpec``: decode and
  resize once into a uint8 cache, then batched augmentation in TensorFlow. The model is the one
  training stores, ``assemble_model``: [0, 255] pixels in, ``Rescaling`` inside.
* (b) the report's ``ImageDataGenerator(...).flow_from_directory``: decodes, transforms and
  rescales one image at a time in Python/SciPy/PIL every epoch. It already yields [0, 1] pixels,
  so it feeds the core model without our ``Rescaling`` layer: both do the same work.
* (c) the compute-only bound: the (a) model fed the decoded images from memory, cached as float32
  batches, no augmentation.

Every variant trains one untimed warm-up epoch (tracing, (a)'s decode and cache fill), then the
timed epochs. The variants take turns epoch by epoch, in a rotating order, so a burst of load
from another process on a shared machine lands on all of them rather than on one. Reported: the
median wall seconds an epoch, images a second, and the process CPU seconds an epoch (all threads;
less sensitive than wall time to other load on the machine). The last line is the headline,
``a/c`` (overhead of our pipeline over pure compute) and ``b/a`` (our speed-up over the report's).

Usage: ``python -m bench.input_pipeline [--epochs N] [--quick]``
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from bench.common import format_table, machine_line, positive_int
from data.augment import AugmentSpec
from data.loader import Split, make_dataset, scan_dataset
from data.sample import generate, is_complete
from settings import Settings
from trainer.architectures import build_model
from trainer.train import OPTIMIZERS, assemble_model

IMAGE_SIZE = 224
BATCH_SIZE = 16
SEED = 0
SAMPLE_IMAGE_SIZE = 256  # data.sample's default; what `make sample` writes
LEARNING_RATE = 0.001

# The report's ImageDataGenerator arguments, and the same knobs as our AugmentSpec.
REPORT_IDG_ARGS: dict[str, Any] = {
    "rescale": 1.0 / 255,
    "shear_range": 0.1,
    "zoom_range": [0.2, 0.5],
    "rotation_range": 5,
    "horizontal_flip": True,
    "brightness_range": [0.2, 1.0],
}
REPORT_AUGMENT = AugmentSpec(
    shear_range=0.1,
    zoom_range=(0.2, 0.5),
    rotation_range=5,
    horizontal_flip=True,
    brightness_range=(0.2, 1.0),
)


@dataclass
class Variant:
    """One way of feeding the model, and what its epochs measured."""

    key: str
    label: str
    model: keras.Model
    data: Any  # a tf.data.Dataset, or the report's DirectoryIterator (a Keras PyDataset)
    warmup: float = math.nan
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


class EpochTimer(keras.callbacks.Callback):
    """Wall and process CPU seconds of each epoch, and the steps it ran."""

    def __init__(self) -> None:
        super().__init__()
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.steps: list[int] = []
        self._start = (0.0, 0.0)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        # Keras makes the epoch's data iterator after this hook, so its cost is counted.
        self._start = (time.perf_counter(), _cpu_seconds())
        self.steps.append(0)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.steps[-1] += 1

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.wall.append(time.perf_counter() - self._start[0])
        self.cpu.append(_cpu_seconds() - self._start[1])


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def sample_folder(settings: Settings, stack: contextlib.ExitStack) -> Path:
    """The sample dataset: the one ``make sample`` wrote if complete, else a fresh temp copy."""
    if is_complete(settings.dataset_dir, size=SAMPLE_IMAGE_SIZE, seed=SEED):
        return settings.dataset_dir
    temp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-input-")))
    print(f"writing the sample dataset to {temp} (about 20 s)", flush=True)
    generate(temp / "weather-sample", size=SAMPLE_IMAGE_SIZE, seed=SEED)
    return temp / "weather-sample"


def compiled_model(*, with_rescaling: bool) -> keras.Model:
    """The report CNN, compiled as trainer/train.py does; wrapped as stored, or the core alone."""
    keras.utils.set_random_seed(SEED)
    core = build_model("report_cnn", IMAGE_SIZE, 4)
    model = assemble_model(core, IMAGE_SIZE, augment=None, seed=SEED) if with_rescaling else core
    model.compile(
        optimizer=OPTIMIZERS["adam"](learning_rate=LEARNING_RATE),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=False,  # ExperimentConfig's default
    )
    return model


def project_pipeline(split: Split) -> tf.data.Dataset:
    """(a): the pipeline training uses, with the report's augmentation."""
    return make_dataset(
        split,
        image_size=IMAGE_SIZE,
        batch_size=BATCH_SIZE,
        training=True,
        seed=SEED,
        augment=REPORT_AUGMENT,
    )


def report_pipeline(folder: Path) -> Any:
    """(b): the report's generator with Keras's defaults (one producer thread, no processes)."""
    generator = tf.keras.preprocessing.image.ImageDataGenerator(**REPORT_IDG_ARGS)
    return generator.flow_from_directory(
        str(folder),
        target_size=(IMAGE_SIZE, IMAGE_SIZE),
        batch_size=BATCH_SIZE,
        class_mode="sparse",
        seed=SEED,
    )


def in_memory_pipeline(split: Split) -> tf.data.Dataset:
    """(c): every image decoded up front (the very pixels (a) caches), served as float batches.

    The float32 batches are cached on the warm-up epoch, so a timed step only hands a ready
    tensor to the model.
    """
    decoded = make_dataset(
        split, image_size=IMAGE_SIZE, batch_size=BATCH_SIZE, training=False, seed=SEED
    )
    images = np.concatenate([batch.numpy() for batch, _ in decoded]).astype(np.uint8)
    labels = np.asarray(split.labels, dtype=np.int32)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(BATCH_SIZE)
    dataset = dataset.map(lambda x, y: (tf.cast(x, tf.float32), y)).cache()
    return dataset.prefetch(tf.data.AUTOTUNE)


def make_variants(folder: Path, split: Split) -> list[Variant]:
    """The three variants over ``split``, the images of ``folder``."""
    return [
        Variant(
            "a",
            "(a) ours: make_dataset + AugmentSpec",
            compiled_model(with_rescaling=True),
            project_pipeline(split),
        ),
        Variant(
            "b",
            "(b) report: ImageDataGenerator",
            compiled_model(with_rescaling=False),
            report_pipeline(folder),
        ),
        Variant(
            "c",
            "(c) compute only: in-memory tensors",
            compiled_model(with_rescaling=True),
            in_memory_pipeline(split),
        ),
    ]


def train_one_epoch(variant: Variant, expected_steps: int) -> tuple[float, float]:
    """Fit one epoch; return its (wall, CPU) seconds. Refuses an epoch of the wrong length."""
    timer = EpochTimer()
    variant.model.fit(variant.data, epochs=1, shuffle=False, verbose=0, callbacks=[timer])
    if timer.steps != [expected_steps]:
        raise RuntimeError(f"{variant.label} ran {timer.steps} steps, expected {expected_steps}")
    return timer.wall[0], timer.cpu[0]


def run_rounds(variants: list[Variant], timed_epochs: int, steps: int) -> None:
    """A warm-up round, then ``timed_epochs`` rounds; each variant trains one epoch a round.

    The order rotates every round, so no variant always runs right after the same other one.
    """
    for round_ in range(timed_epochs + 1):
        shift = round_ % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            wall, cpu = train_one_epoch(variant, steps)
            if round_ == 0:
                variant.warmup = wall
            else:
                variant.wall.append(wall)
                variant.cpu.append(cpu)
            kind = "warm-up" if round_ == 0 else f"epoch {round_}/{timed_epochs}"
            print(f"  {kind:>11} {variant.key}: {wall:6.2f} s wall, {cpu:6.2f} s CPU", flush=True)


def results_table(variants: Sequence[Variant], images: int) -> str:
    """Median seconds an epoch, images a second, CPU seconds an epoch, warm-up seconds."""
    rows = []
    for v in variants:
        wall = statistics.median(v.wall)
        cpu = statistics.median(v.cpu)
        rows.append(
            [v.label, f"{wall:.2f}", f"{images / wall:.0f}", f"{cpu:.2f}", f"{v.warmup:.2f}"]
        )
    headers = ["variant", "s/epoch", "images/s", "CPU s/epoch", "warm-up s"]
    return format_table(headers, rows)


def ratios(variants: Sequence[Variant], *, cpu: bool = False) -> str:
    """``a/c = X.XX  b/a = Y.YY`` from the median wall (or CPU) seconds an epoch."""
    median = {v.key: statistics.median(v.cpu if cpu else v.wall) for v in variants}
    return f"a/c = {median['a'] / median['c']:.2f}  b/a = {median['b'] / median['a']:.2f}"


def load_note(before: float, after: float, cores: int) -> str:
    """The load average around the run, with a warning when other work competed for the CPU."""
    note = f"1-minute load average: {before:.2f} before, {after:.2f} after ({cores} cores)"
    if max(before, after) > cores:
        note += (
            "\nwarning: other processes were using the CPU; wall times are inflated and noisy, "
            "the CPU-time ratios less so"
        )
    return note


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the table, then the headline as the last line."""
    args = _parser().parse_args(argv)
    timed_epochs = 1 if args.quick else args.epochs
    print(machine_line(TensorFlow=tf.__version__, Keras=keras.__version__), flush=True)
    with contextlib.ExitStack() as stack:
        folder = sample_folder(Settings.from_env(), stack)
        index = scan_dataset(folder)
        # All images are the training split: the benchmark times epochs, not generalisation.
        split = Split(files=index.files, labels=index.labels)
        variants = make_variants(folder, split)
        images = len(split.files)
        steps = math.ceil(images / BATCH_SIZE)
        print(
            f"{images} images from {folder}, {IMAGE_SIZE} px, batch {BATCH_SIZE}, {steps} steps "
            f"an epoch; 1 warm-up + {timed_epochs} timed epoch(s) per variant",
            flush=True,
        )
        load_before = os.getloadavg()[0]
        run_rounds(variants, timed_epochs, steps)
        load_after = os.getloadavg()[0]
    print(f"\n{load_note(load_before, load_after, len(os.sched_getaffinity(0)))}\n")
    print(results_table(variants, images))
    print(f"\nCPU-time ratios: {ratios(variants, cpu=True)}")
    print(ratios(variants), flush=True)  # the headline, last
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.input_pipeline",
        description="Time an epoch of the report CNN fed by our tf.data pipeline, by the "
        "report's ImageDataGenerator, and by in-memory tensors.",
    )
    parser.add_argument(
        "--epochs", type=positive_int, default=3, help="timed epochs per variant (default 3)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="one timed epoch per variant (smoke test)"
    )
    return parser


if __name__ == "__main__":
    raise SystemExit(main())

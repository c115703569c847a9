"""Dataset scale benchmark: preparation with the file cache, and epochs from memory vs streamed.

On a generated folder of 30,000 JPEGs (``data.sample`` at 256 px, painted in parallel once and
kept under ``var/bench/``; later runs reuse it):

* Preparation, as a worker does it before the first batch (``trainer/inputs.py``): scan and
  verify every image through the dataset file cache, split, fingerprint. The first run starts
  from an empty cache file (in a temp folder, so the machine's own cache is not touched), the
  second reuses it. The files are in the OS page cache either way (they were just written or
  read), so the first run measures checking, not the disk.
* Training throughput of the report CNN at 224 px, batch 16, as ``trainer/train.py`` compiles it,
  fed by ``make_dataset`` streaming (``in_memory=False``) and from the decoded cache. Streaming
  runs first, so the process's peak RSS after it is the streaming peak; then the cache is filled
  (timed) and the two alternate for ``--rounds`` rounds of ``--steps`` steps. Images a second are
  counted from the end of each window's first step to its last, so they are the steady state of
  an epoch, not the fill of a shuffle buffer; CPU seconds per image cover the same window (all
  threads; less sensitive than wall time to other load on this shared machine).
* The input plan a worker would make for this dataset with the memory budget from
  ``LAB_DATA_MEMORY`` (or ``--budget``), and the peak RSS of each mode against that budget.

The last line is the headline: second-run preparation (target <= 2 s), the streamed/cached
epoch time ratio (target <= 1.5), and the peak RSS against the budget.

Usage: ``python -m bench.dataset_scale [--images 30000] [--steps 150] [--rounds 2] [--budget 4GB]``
"""

from __future__ import annotations

import argparse
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
import tensorflow as tf

from bench.common import format_table, machine_line, positive_int
from bench.input_pipeline import load_note
from data.decoded import DecodedImages, free_space
from data.filecache import FileCache
from data.loader import Split, fingerprint, make_dataset, scan_dataset, stratified_split
from data.memory import (
    InputPlan,
    MemorySetting,
    decoded_bytes,
    format_bytes,
    memory_budget,
    plan_input,
)
from data.sample import CLASS_COUNTS, generate, is_complete
from settings import Settings
from trainer.architectures import build_model
from trainer.train import OPTIMIZERS, assemble_model

SOURCE_SIZE = 256  # data.sample's default: what `make sample` writes
IMAGE_SIZE = 224
BATCH_SIZE = 16
SEED = 0
VALIDATION_SPLIT = 0.2  # ExperimentConfig's default, for the preparation step


@dataclass
class Mode:
    """One way of feeding the model and what its timed windows measured."""

    key: str
    label: str
    data: tf.data.Dataset
    rates: list[float] = field(default_factory=list)  # images per second
    cpu: list[float] = field(default_factory=list)  # CPU ms per image
    peak_rss: int = 0
    prepare_seconds: float = 0.0  # filling the cache or writing the decoded files
    added_rss: int = 0  # what preparing added to the process's memory


class StepClock(keras.callbacks.Callback):
    """Wall and CPU time at the end of every training step."""

    def __init__(self) -> None:
        super().__init__()
        self.marks: list[tuple[float, float]] = []

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.marks.append((time.perf_counter(), _cpu_seconds()))


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss() -> int:
    """The process's peak resident memory so far, in bytes (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def current_rss() -> int:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def dataset_folder(settings: Settings, images: int, processes: int) -> Path:
    """The benchmark's folder under var/bench/, painted in parallel unless already complete."""
    per_class = images // len(CLASS_COUNTS)
    folder = settings.var_dir / "bench" / f"weather-{per_class * len(CLASS_COUNTS)}"
    if is_complete(folder, size=SOURCE_SIZE, per_class=per_class, seed=SEED):
        print(f"reusing {folder}", flush=True)
        return folder
    print(f"writing {per_class * 4:,} images to {folder} with {processes} processes", flush=True)
    started = time.perf_counter()
    generate(
        folder, size=SOURCE_SIZE, per_class=per_class, seed=SEED, force=True, processes=processes
    )
    print(f"  written in {time.perf_counter() - started:.0f} s", flush=True)
    return folder


@dataclass(frozen=True)
class Preparation:
    """One preparation: its wall time, where the verdicts came from, the training split."""

    seconds: float
    from_cache: int
    checked: int
    train: Split


def prepare(folder: Path, cache: FileCache) -> Preparation:
    """What a worker does before the first batch: scan and verify, split, fingerprint."""
    started = time.perf_counter()
    index = scan_dataset(folder, cache=cache)
    train, _ = stratified_split(index, VALIDATION_SPLIT, SEED)
    fingerprint(index)
    seconds = time.perf_counter() - started
    assert index.scan is not None
    return Preparation(seconds, index.scan.from_cache, index.scan.checked, train)


def prepare_twice(folder: Path) -> tuple[Preparation, Preparation]:
    """A first preparation on an empty file cache (a temp file), then a second on the same."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-dataset-cache-") as temp,
        FileCache.open(Path(temp) / "files.sqlite3") as cache,
    ):
        first = prepare(folder, cache)
        print(f"first preparation: {first.seconds:.1f} s ({first.checked:,} checked)", flush=True)
        second = prepare(folder, cache)
        print(f"second preparation: {second.seconds:.2f} s ({second.from_cache:,} from the cache)")
    return first, second


def preparation_table(first: Preparation, second: Preparation) -> str:
    rows = [
        [label, f"{p.seconds:.2f}", f"{p.from_cache:,}", f"{p.checked:,}"]
        for label, p in (
            ("first run (empty file cache)", first),
            ("second run (unchanged folder)", second),
        )
    ]
    return format_table(["preparation", "seconds", "from cache", "checked"], rows)


def compiled_model() -> keras.Model:
    """The report CNN, wrapped and compiled as trainer/train.py does (Adam 0.001, no XLA)."""
    keras.utils.set_random_seed(SEED)
    core = build_model("report_cnn", IMAGE_SIZE, len(CLASS_COUNTS))
    model = assemble_model(core, IMAGE_SIZE, augment=None, seed=SEED)
    model.compile(
        optimizer=OPTIMIZERS["adam"](learning_rate=0.001),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def pipeline(split: Split, source: str) -> tf.data.Dataset:
    return make_dataset(
        split,
        image_size=IMAGE_SIZE,
        batch_size=BATCH_SIZE,
        training=True,
        seed=SEED,
        steps=1,  # any value: the data repeats, so a window may start anywhere in a pass
        source=source,
    )


def timed_window(model: keras.Model, mode: Mode, steps: int) -> None:
    """Train ``steps`` steps; record the steady-state images/s and CPU ms per image."""
    clock = StepClock()
    model.fit(mode.data, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[clock])
    (wall0, cpu0), (wall1, cpu1) = clock.marks[0], clock.marks[-1]
    images = (len(clock.marks) - 1) * BATCH_SIZE
    mode.rates.append(images / (wall1 - wall0))
    mode.cpu.append(1000 * (cpu1 - cpu0) / images)
    print(
        f"  {mode.key}: {mode.rates[-1]:6.1f} images/s, {mode.cpu[-1]:5.2f} CPU ms/image",
        flush=True,
    )


def measure_modes(split: Split, steps: int, rounds: int, decoded: DecodedImages) -> list[Mode]:
    """Each mode in turn, lightest first so each peak RSS is its own; then alternate.

    The decoded files go to ``decoded``; the cache fill and the file writing are timed.
    """
    model = compiled_model()
    stream = Mode("stream", "stream: decoded every epoch", pipeline(split, "stream"))
    model.fit(stream.data, epochs=1, steps_per_epoch=3, verbose=0)  # tracing, warm-up
    timed_window(model, stream, steps)
    stream.peak_rss = peak_rss()

    started = time.perf_counter()
    files = decoded.write(split.files, IMAGE_SIZE, part="train")
    disk = Mode("disk", "disk: decoded once to files", pipeline(Split(files, split.labels), "disk"))
    disk.prepare_seconds = time.perf_counter() - started
    timed_window(model, disk, steps)
    disk.peak_rss = peak_rss()

    before = current_rss()
    started = time.perf_counter()
    memory = Mode(
        "memory",
        "memory: decoded once, cached",
        make_dataset(
            split,
            image_size=IMAGE_SIZE,
            batch_size=BATCH_SIZE,
            training=True,
            seed=SEED,
            steps=1,
            progress=lambda done, total: None,  # fill the cache now, as a worker does
        ),
    )
    memory.prepare_seconds = time.perf_counter() - started
    memory.added_rss = current_rss() - before
    timed_window(model, memory, steps)
    modes = [stream, disk, memory]
    for _ in range(rounds - 1):
        for mode in modes:
            timed_window(model, mode, steps)
    memory.peak_rss = peak_rss()
    return modes


def pipeline_only(modes: Sequence[Mode], batches: int) -> dict[str, float]:
    """Images/s of each pipeline alone (no model); the cache is already filled."""
    rates = {}
    for mode in modes:
        iterator = iter(mode.data)
        next(iterator)  # fills the shuffle buffer
        started = time.perf_counter()
        for _ in range(batches):
            next(iterator)
        rates[mode.key] = batches * BATCH_SIZE / (time.perf_counter() - started)
    return rates


def results_table(modes: Sequence[Mode], plan: InputPlan, rates: dict[str, float]) -> str:
    rows = [
        [
            mode.label,
            f"{statistics.median(mode.rates):.0f}",
            f"{statistics.median(mode.cpu):.2f}",
            f"{rates[mode.key]:.0f}",
            f"{mode.prepare_seconds:.0f}",
            format_bytes(mode.peak_rss),
            "yes" if mode.peak_rss <= plan.budget.limit else "no",
        ]
        for mode in modes
    ]
    headers = [
        "mode",
        "train images/s",
        "CPU ms/image",
        "pipeline-only images/s",
        "prepare s",
        "peak RSS",
        "under budget",
    ]
    return format_table(headers, rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the tables, then the headline as the last line."""
    args = _parser().parse_args(argv)
    settings = Settings.from_env()
    cores = len(os.sched_getaffinity(0))
    print(machine_line(TensorFlow=tf.__version__, Keras=keras.__version__), flush=True)
    load_before = os.getloadavg()[0]
    folder = dataset_folder(settings, args.images, cores)
    first, second = prepare_twice(folder)
    split = second.train
    setting = MemorySetting.parse(args.budget) if args.budget else settings.data_memory
    scratch = settings.var_dir / "bench" / "decoded"
    plan = plan_input(
        len(split.files),
        IMAGE_SIZE,
        memory_budget(setting, workers=1),
        disk_free=free_space(scratch),
    )
    print(f"a worker's plan for {len(split.files):,} training images: {plan.mode}: {plan.reason()}")
    print(f"timing {args.rounds} round(s) of {args.steps} steps per mode", flush=True)
    decoded = DecodedImages.create(scratch)
    try:
        modes = measure_modes(split, args.steps, args.rounds, decoded)
        rates = pipeline_only(modes, batches=100)
    finally:
        decoded.close()
    load_after = os.getloadavg()[0]
    stream, disk, memory = modes

    print(f"\n{load_note(load_before, load_after, cores)}")
    print(
        f"{len(split.files):,} training images of {args.images:,}, {IMAGE_SIZE} px, batch "
        f"{BATCH_SIZE}; the cache added {format_bytes(memory.added_rss)} to the RSS (estimate "
        f"{format_bytes(decoded_bytes(len(split.files), IMAGE_SIZE))}); budget "
        f"{format_bytes(plan.budget.limit)} ({plan.budget.basis})\n"
    )
    print(preparation_table(first, second), end="\n\n")
    print(results_table(modes, plan, rates))
    cached = statistics.median(memory.rates)
    cpu = {mode.key: statistics.median(mode.cpu) for mode in modes}
    print(
        f"\nCPU per image against memory: disk {cpu['disk'] / cpu['memory']:.2f}x, "
        f"stream {cpu['stream'] / cpu['memory']:.2f}x"
    )
    print(
        f"second-run preparation {second.seconds:.2f} s (first {first.seconds:.1f} s); epoch "
        f"time against memory: disk {cached / statistics.median(disk.rates):.2f}x, stream "
        f"{cached / statistics.median(stream.rates):.2f}x; peak RSS stream "
        f"{format_bytes(stream.peak_rss)}, disk {format_bytes(disk.peak_rss)}, memory "
        f"{format_bytes(memory.peak_rss)}, budget {format_bytes(plan.budget.limit)}",
        flush=True,
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.dataset_scale",
        description="Time dataset preparation with the file cache, and training epochs fed "
        "from the decoded cache and streamed from disk, on a 30,000-image folder.",
    )
    parser.add_argument(
        "--images", type=positive_int, default=30_000, help="images in the folder (default 30000)"
    )
    parser.add_argument(
        "--steps", type=positive_int, default=150, help="timed steps per window (default 150)"
    )
    parser.add_argument(
        "--rounds", type=positive_int, default=2, help="timed windows per mode (default 2)"
    )
    parser.add_argument(
        "--budget", default=None, help="memory budget like 4GB or 50%% (default: LAB_DATA_MEMORY)"
    )
    return parser


if __name__ == "__main__":
    raise SystemExit(main())

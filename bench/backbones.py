"""Backbone benchmark: images a second, training and predicting, frozen and fine-tuning.

The report CNN, MobileNetV2, EfficientNetB0 and ResNet50 at 224 px, batch 16, built, wrapped
and compiled as a worker does it (`trainer.architectures.build_model`, `assemble_model` with the
backbone's own preprocessing, `compile_model`: Adam). Each backbone trains twice:

* frozen: `freeze_backbone: true`, only the head's Dense trains (batch norm in inference mode);
* fine-tuning: `fine_tune: {layers: all}`, every layer but batch norm trains.

Prediction is the same network either way and is timed once per architecture. Weights are
random (nothing is downloaded): ImageNet weights cost exactly as much. Inputs are random uint8
images held in memory, so the numbers are the model's, not the input pipeline's
(`bench.input_pipeline` times that).

Each measurement runs untimed warm-up steps first (tracing), then `--rounds` rounds of
`--steps` timed steps, the measurements of an architecture taking turns; the table gives the
medians of images a second (wall) and process CPU milliseconds an image (all threads; steadier
than wall time when other work shares the machine). The last line is the headline: how much
more a fine-tuned backbone costs per training image than the same backbone frozen, measured in
this one process.

On a GPU machine the same command times the GPU (TensorFlow places the models there, as a
worker does); `--mixed-precision` and `--jit-compile` set the config knobs of those names.

Usage: `python -m bench.backbones [--steps N] [--rounds N] [--batch-size N] [--quick]
[--mixed-precision] [--jit-compile]`
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from bench.common import format_table, machine_line, positive_int
from experiment.architectures import BUILT_IN
from experiment.config import parse_config
from trainer.architectures import build_model
from trainer.finetune import backbone_of, freeze, parameter_counts, unfreeze
from trainer.train import assemble_model, compile_model

IMAGE_SIZE = 224
CLASSES = 4
ARCHITECTURES = ("report_cnn", "mobilenet_v2", "efficientnet_b0", "resnet50")
WARMUP_STEPS = 2


@dataclass(frozen=True)
class Timing:
    images_per_second: float
    cpu_ms_per_image: float


@dataclass(frozen=True)
class Row:
    architecture: str
    mode: str  # "full" (no backbone), "frozen", "fine-tuning"
    trainable_params: int
    train: Timing
    predict: Timing | None


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _time(step: Callable[[], object], steps: int, images_per_step: int) -> Timing:
    wall, cpu = time.perf_counter(), _cpu_seconds()
    for _ in range(steps):
        step()
    wall, cpu = time.perf_counter() - wall, _cpu_seconds() - cpu
    images = steps * images_per_step
    return Timing(images / wall, 1000 * cpu / images)


def _median(timings: Sequence[Timing]) -> Timing:
    return Timing(
        statistics.median(t.images_per_second for t in timings),
        statistics.median(t.cpu_ms_per_image for t in timings),
    )


def _compiled(architecture: str, mode: str, jit_compile: bool) -> keras.Model:
    """The stored model's structure, frozen or unfrozen as the mode says, compiled as a worker
    compiles it."""
    core = build_model(architecture, IMAGE_SIZE, CLASSES)
    preprocessing = BUILT_IN[architecture].preprocessing
    model = assemble_model(core, IMAGE_SIZE, augment=None, seed=0, preprocessing=preprocessing)
    backbone = backbone_of(model)
    if backbone is not None and mode == "frozen":
        freeze(backbone)
    elif backbone is not None:
        unfreeze(backbone, "all")
    config = parse_config(
        {"name": "bench", "architecture": architecture, "jit_compile": jit_compile}
    )
    compile_model(model, config, config.learning_rate)
    return model


def measure(
    architecture: str, steps: int, rounds: int, batch_size: int, jit_compile: bool = False
) -> list[Row]:
    """Predict and train each mode in turns, `rounds` times; medians per measurement.

    One model per mode, compiled once, so that the turns need no retracing; taking turns
    spreads bursts of other work on the machine over every measurement.
    """
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (batch_size, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    pixels = tf.constant(images.astype(np.float32))
    labels = tf.constant(rng.integers(0, CLASSES, batch_size))
    has_backbone = BUILT_IN[architecture].is_application
    modes = ("frozen", "fine-tuning") if has_backbone else ("full",)
    models = {mode: _compiled(architecture, mode, jit_compile) for mode in modes}
    predictor = models[modes[0]]

    def predict() -> object:
        return predictor.predict_on_batch(pixels)

    steps_of = {mode: _trainer(models[mode], pixels, labels) for mode in modes}
    for step in (predict, *steps_of.values()):
        for _ in range(WARMUP_STEPS):  # tracing
            step()
    timings: dict[str, list[Timing]] = {"predict": [], **{mode: [] for mode in modes}}
    for _ in range(rounds):
        timings["predict"].append(_time(predict, steps, batch_size))
        for mode in modes:
            timings[mode].append(_time(steps_of[mode], steps, batch_size))
    rows = [
        Row(
            architecture,
            mode,
            parameter_counts(models[mode])[1],
            _median(timings[mode]),
            _median(timings["predict"]) if index == 0 else None,
        )
        for index, mode in enumerate(modes)
    ]
    keras.backend.clear_session()
    return rows


def _trainer(model: keras.Model, pixels: tf.Tensor, labels: tf.Tensor) -> Callable[[], object]:
    return lambda: model.train_on_batch(pixels, labels)


def results_table(rows: Sequence[Row]) -> str:
    def timing(t: Timing | None) -> tuple[str, str]:
        return (
            ("", "") if t is None else (f"{t.images_per_second:.1f}", f"{t.cpu_ms_per_image:.1f}")
        )

    return format_table(
        [
            "architecture",
            "mode",
            "trainable params",
            "train img/s",
            "train CPU ms/img",
            "predict img/s",
            "predict CPU ms/img",
        ],
        [
            (
                r.architecture,
                r.mode,
                f"{r.trainable_params:,}",
                *timing(r.train),
                *timing(r.predict),
            )
            for r in rows
        ],
    )


def headline(rows: Sequence[Row]) -> str:
    """What fine-tuning costs over a frozen backbone, per image, in CPU time (steadier than
    wall time on a shared machine) and in wall time."""
    cpu = {(r.architecture, r.mode): r.train.cpu_ms_per_image for r in rows}
    wall = {(r.architecture, r.mode): r.train.images_per_second for r in rows}
    names = [name for name, mode in cpu if mode == "frozen"]
    by_cpu = {name: cpu[(name, "fine-tuning")] / cpu[(name, "frozen")] for name in names}
    by_wall = {name: wall[(name, "frozen")] / wall[(name, "fine-tuning")] for name in names}
    parts = ", ".join(f"{name} {by_cpu[name]:.1f}x ({by_wall[name]:.1f}x)" for name in names)
    mean = statistics.geometric_mean(by_cpu.values()) if names else float("nan")
    return (
        f"a frozen backbone trains at {IMAGE_SIZE} px for less CPU per image than fine-tuning "
        f"it: {parts}; geometric mean {mean:.1f}x (CPU time; wall time in brackets)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the table, then the headline as the last line."""
    args = _parser().parse_args(argv)
    steps, rounds = (2, 1) if args.quick else (args.steps, args.rounds)
    # The worker's GPU knobs (mixed_precision, jit_compile), set as train() sets them.
    keras.mixed_precision.set_global_policy("mixed_float16" if args.mixed_precision else "float32")
    devices = ", ".join(d.name for d in tf.config.list_logical_devices("GPU")) or "CPU"
    print(machine_line(TensorFlow=tf.__version__, Keras=keras.__version__), flush=True)
    print(
        f"device: {devices}; mixed_precision {args.mixed_precision}, jit_compile "
        f"{args.jit_compile}",
        flush=True,
    )
    print(
        f"{IMAGE_SIZE} px, batch {args.batch_size}; per measurement {WARMUP_STEPS} warm-up "
        f"steps, then {rounds} round(s) of {steps} timed steps in turns (medians); random "
        "weights and images",
        flush=True,
    )
    load_before = os.getloadavg()
    rows: list[Row] = []
    for architecture in ARCHITECTURES:
        rows.extend(measure(architecture, steps, rounds, args.batch_size, args.jit_compile))
        print(f"  {architecture} done", flush=True)
    load_after = os.getloadavg()
    cores = len(os.sched_getaffinity(0))
    print(
        f"\nload average (1, 5, 15 min): before {', '.join(f'{x:.2f}' for x in load_before)}; "
        f"after {', '.join(f'{x:.2f}' for x in load_after)} ({cores} cores)\n"
    )
    print(results_table(rows))
    print(headline(rows), flush=True)  # the headline, last
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.backbones",
        description="Images a second of training (frozen, fine-tuning) and prediction for the "
        "report CNN and three ImageNet backbones at 224 px.",
    )
    parser.add_argument(
        "--steps", type=positive_int, default=4, help="timed steps per round (default 4)"
    )
    parser.add_argument("--rounds", type=positive_int, default=3, help="rounds (default 3)")
    parser.add_argument("--batch-size", type=positive_int, default=16, help="default 16")
    parser.add_argument(
        "--quick", action="store_true", help="one round of 2 timed steps (smoke test)"
    )
    parser.add_argument(
        "--mixed-precision", action="store_true", help="mixed_float16, as the config's knob"
    )
    parser.add_argument("--jit-compile", action="store_true", help="XLA, as the config's knob")
    return parser


if __name__ == "__main__":
    raise SystemExit(main())

"""`python -m trainer models`: architectures with parameter counts and minimum image sizes.

Building all 42 built-in architectures takes about a minute on two CPU cores (NASNetLarge,
EfficientNetV2L and the ConvNeXts alone take seconds each), so the command builds a short list
of common ones by default, every one with `--all`, or those named. Models are built inside a
`keras.StatelessScope`, which creates their variables without initialising them: the counts
are exact and nothing is computed. Rows print as each model is built.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from experiment.architectures import BUILT_IN, architecture_info, is_user_architecture
from settings import Settings

COMMON = (
    "report_cnn",
    "resnet20",
    "mobilenet_v2",
    "mobilenet_v3_small",
    "efficientnet_b0",
    "efficientnet_v2_b0",
    "resnet50",
    "convnext_tiny",
)
_HEADER = (
    f"{'architecture':<20} {'min px':>6} {'total':>12} {'trainable':>12} {'frozen':>9} "
    f"{'layers':>6}  preprocessing"
)


def add_parser(commands: Any) -> None:
    m = commands.add_parser(
        "models", help="list architectures with parameter counts and minimum image sizes"
    )
    m.add_argument(
        "names",
        nargs="*",
        help="architectures to build (built-in names or package.module:function); "
        f"default: {', '.join(COMMON)}",
    )
    m.add_argument("--all", action="store_true", help="every built-in architecture (~1 min)")
    m.add_argument("--image-size", type=int, default=224)
    m.add_argument("--classes", type=int, default=4)
    m.add_argument("--json", action="store_true", help="print JSON, one object per line")
    m.set_defaults(handler=cmd_models)


def describe(name: str, image_size: int, classes: int) -> dict[str, Any]:
    """One architecture's row: parameters as built for the size and classes, and the trainable
    ones with a frozen backbone (the head only); `layers` counts the backbone's layers, which
    `fine_tune.layers` counts from the end."""
    import keras

    from trainer.architectures import build_model

    info = architecture_info(name)
    size = max(image_size, info.min_image_size) if info else image_size
    # A user's builder is checked with a forward pass, which needs initialised variables.
    scope: AbstractContextManager[Any] = (
        keras.StatelessScope() if info is not None else nullcontext()
    )
    with scope:
        core = build_model(name, size, classes)
        total = int(core.count_params())
        trainable = _trainable(core)
        backbone = next((layer for layer in core.layers if isinstance(layer, keras.Model)), None)
        frozen = trainable - _trainable(backbone) if backbone is not None else None
        layers = len(backbone.layers) if backbone is not None else None
    keras.backend.clear_session()
    return {
        "architecture": name,
        "min_image_size": info.min_image_size if info else None,
        "image_size": size,
        "classes": classes,
        "total_params": total,
        "trainable_params": trainable,
        "frozen_trainable_params": frozen,
        "backbone_layers": layers,
        "preprocessing": info.preprocessing if info else "unit",
        "family": info.family if info else "yours",
    }


def _trainable(model: Any) -> int:
    import numpy as np

    return sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)


def _names(args: argparse.Namespace) -> list[str]:
    if args.all:
        return list(BUILT_IN)
    return list(args.names) or list(COMMON)


def _rows(names: list[str], image_size: int, classes: int) -> Iterator[dict[str, Any]]:
    for name in names:
        yield describe(name, image_size, classes)


def _line(row: dict[str, Any], image_size: int) -> str:
    def number(value: int | None) -> str:
        return "-" if value is None else f"{value:,}"

    minimum = "-" if row["min_image_size"] is None else str(row["min_image_size"])
    note = "" if row["image_size"] == image_size else f"  (built at its minimum, {minimum} px)"
    return (
        f"{row['architecture']:<20} {minimum:>6} {number(row['total_params']):>12} "
        f"{number(row['trainable_params']):>12} {number(row['frozen_trainable_params']):>9} "
        f"{number(row['backbone_layers']):>6}  {row['preprocessing']}{note}"
    )


def cmd_models(args: argparse.Namespace, settings: Settings) -> int:
    from trainer.cli import CliError

    names = _names(args)
    unknown = [n for n in names if architecture_info(n) is None and not is_user_architecture(n)]
    if unknown:
        raise CliError(f"unknown architecture {unknown[0]!r}; see python -m trainer models --all")
    if not args.json:
        print(
            f"{args.image_size} px, {args.classes} classes; frozen: trainable with "
            "freeze_backbone; layers: the backbone's, for fine_tune.layers"
        )
        print(_HEADER, flush=True)
    for row in _rows(names, args.image_size, args.classes):
        print(json.dumps(row) if args.json else _line(row, args.image_size), flush=True)
    if not args.json and not args.all and not args.names:
        more = len(BUILT_IN) - len(COMMON)
        print(f"+ {more} more: python -m trainer models --all, or name them")
    return 0

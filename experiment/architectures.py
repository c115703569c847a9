"""Which architectures a config may name, their minimum image sizes and input preprocessing.

Keras-free on purpose: the config validates `architecture:` and `image_size:` at queue time in
the dashboard, which never imports TensorFlow. `trainer/architectures.py` builds what this table
names, and a test builds every entry with `keras.applications` to prove the two agree.

Three kinds of names:
- the lab's own models (`report_cnn`, `resnet20`);
- every image classification application `keras.applications` ships, by a snake-case name
  (`resnet50`, `efficientnet_v2_b0`, ...), built with `include_top=False` plus the lab's head;
- `package.module:function`, a builder of the user's own, importable on the workers.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any, Literal

# How the stored model turns raw [0, 255] pixels into what the architecture expects:
#   unit     x / 255 (the lab's own models and users' builders)
#   tf       x / 127.5 - 1                         (keras.applications' preprocess_input "tf")
#   caffe    RGB -> BGR, minus the ImageNet mean   ("caffe")
#   torch    x / 255, minus mean, over std         ("torch")
#   builtin  nothing: the Keras model rescales itself (EfficientNet, MobileNetV3, ConvNeXt)
Preprocessing = Literal["unit", "tf", "caffe", "torch", "builtin"]

USER_ARCHITECTURE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")


@dataclass(frozen=True)
class ArchitectureInfo:
    """One built-in architecture.

    Attributes:
        name: the config's spelling.
        min_image_size: the smallest `image_size` it builds at (Keras's own minimum for the
            applications).
        preprocessing: see `Preprocessing`.
        application: the `keras.applications` constructor, or None for the lab's own models.
        module: the `keras.applications` submodule whose `preprocess_input` applies.
        imagenet_size: the image size its ImageNet weights were trained at.
        family: a group for listings (`ResNet`, `EfficientNet`, ...).
    """

    name: str
    min_image_size: int
    preprocessing: Preprocessing
    application: str | None = None
    module: str | None = None
    imagenet_size: int | None = None
    family: str = ""

    @property
    def is_application(self) -> bool:
        """Whether it is a keras.applications backbone (weights, freezing and fine-tuning)."""
        return self.application is not None


_OWN = [
    # report_cnn: three stride-3 convolutions and two pools need 106 px.
    ArchitectureInfo("report_cnn", 106, "unit", family="lab"),
    ArchitectureInfo("resnet20", 16, "unit", family="lab"),
]

# name, keras.applications constructor, its submodule, preprocessing, ImageNet size, family.
# Keras's minimum input is 32 px except where a seventh column says otherwise.
_APPLICATION_TABLE: list[tuple[Any, ...]] = [
    ("resnet50", "ResNet50", "resnet", "caffe", 224, "ResNet"),
    ("resnet101", "ResNet101", "resnet", "caffe", 224, "ResNet"),
    ("resnet152", "ResNet152", "resnet", "caffe", 224, "ResNet"),
    ("resnet50_v2", "ResNet50V2", "resnet_v2", "tf", 224, "ResNetV2"),
    ("resnet101_v2", "ResNet101V2", "resnet_v2", "tf", 224, "ResNetV2"),
    ("resnet152_v2", "ResNet152V2", "resnet_v2", "tf", 224, "ResNetV2"),
    ("efficientnet_b0", "EfficientNetB0", "efficientnet", "builtin", 224, "EfficientNet"),
    ("efficientnet_b1", "EfficientNetB1", "efficientnet", "builtin", 240, "EfficientNet"),
    ("efficientnet_b2", "EfficientNetB2", "efficientnet", "builtin", 260, "EfficientNet"),
    ("efficientnet_b3", "EfficientNetB3", "efficientnet", "builtin", 300, "EfficientNet"),
    ("efficientnet_b4", "EfficientNetB4", "efficientnet", "builtin", 380, "EfficientNet"),
    ("efficientnet_b5", "EfficientNetB5", "efficientnet", "builtin", 456, "EfficientNet"),
    ("efficientnet_b6", "EfficientNetB6", "efficientnet", "builtin", 528, "EfficientNet"),
    ("efficientnet_b7", "EfficientNetB7", "efficientnet", "builtin", 600, "EfficientNet"),
    ("efficientnet_v2_b0", "EfficientNetV2B0", "efficientnet_v2", "builtin", 224, "EfficientNetV2"),
    ("efficientnet_v2_b1", "EfficientNetV2B1", "efficientnet_v2", "builtin", 240, "EfficientNetV2"),
    ("efficientnet_v2_b2", "EfficientNetV2B2", "efficientnet_v2", "builtin", 260, "EfficientNetV2"),
    ("efficientnet_v2_b3", "EfficientNetV2B3", "efficientnet_v2", "builtin", 300, "EfficientNetV2"),
    ("efficientnet_v2_s", "EfficientNetV2S", "efficientnet_v2", "builtin", 384, "EfficientNetV2"),
    ("efficientnet_v2_m", "EfficientNetV2M", "efficientnet_v2", "builtin", 480, "EfficientNetV2"),
    ("efficientnet_v2_l", "EfficientNetV2L", "efficientnet_v2", "builtin", 480, "EfficientNetV2"),
    ("mobilenet", "MobileNet", "mobilenet", "tf", 224, "MobileNet"),
    ("mobilenet_v2", "MobileNetV2", "mobilenet_v2", "tf", 224, "MobileNet"),
    ("mobilenet_v3_small", "MobileNetV3Small", "mobilenet_v3", "builtin", 224, "MobileNet"),
    ("mobilenet_v3_large", "MobileNetV3Large", "mobilenet_v3", "builtin", 224, "MobileNet"),
    ("convnext_tiny", "ConvNeXtTiny", "convnext", "builtin", 224, "ConvNeXt"),
    ("convnext_small", "ConvNeXtSmall", "convnext", "builtin", 224, "ConvNeXt"),
    ("convnext_base", "ConvNeXtBase", "convnext", "builtin", 224, "ConvNeXt"),
    ("convnext_large", "ConvNeXtLarge", "convnext", "builtin", 224, "ConvNeXt"),
    ("convnext_xlarge", "ConvNeXtXLarge", "convnext", "builtin", 224, "ConvNeXt"),
    ("densenet121", "DenseNet121", "densenet", "torch", 224, "DenseNet"),
    ("densenet169", "DenseNet169", "densenet", "torch", 224, "DenseNet"),
    ("densenet201", "DenseNet201", "densenet", "torch", 224, "DenseNet"),
    ("inception_v3", "InceptionV3", "inception_v3", "tf", 299, "Inception", 75),
    ("inception_resnet_v2", "InceptionResNetV2", "inception_resnet_v2", "tf", 299, "Inception", 75),
    ("xception", "Xception", "xception", "tf", 299, "Xception", 71),
    ("nasnet_mobile", "NASNetMobile", "nasnet", "tf", 224, "NASNet"),
    ("nasnet_large", "NASNetLarge", "nasnet", "tf", 331, "NASNet"),
    ("vgg16", "VGG16", "vgg16", "caffe", 224, "VGG"),
    ("vgg19", "VGG19", "vgg19", "caffe", 224, "VGG"),
]


def _application(
    name: str,
    constructor: str,
    module: str,
    preprocessing: Preprocessing,
    imagenet_size: int,
    family: str,
    min_size: int = 32,
) -> ArchitectureInfo:
    return ArchitectureInfo(
        name, min_size, preprocessing, constructor, module, imagenet_size, family
    )


_APPLICATIONS = [_application(*row) for row in _APPLICATION_TABLE]

BUILT_IN: dict[str, ArchitectureInfo] = {info.name: info for info in _OWN + _APPLICATIONS}


def is_user_architecture(name: str) -> bool:
    """Whether `name` has the `package.module:function` shape of a user's builder."""
    return bool(USER_ARCHITECTURE.match(name))


def split_user_architecture(name: str) -> tuple[str, str]:
    """`package.module:function` -> (`package.module`, `function`)."""
    module, _, function = name.partition(":")
    return module, function


def architecture_info(name: str) -> ArchitectureInfo | None:
    """The built-in architecture of that name, or None (a user's builder or a typo)."""
    return BUILT_IN.get(name)


def unknown_architecture_message(name: str) -> str:
    """Why `name` is neither built in nor a `package.module:function`, with a suggestion."""
    close = difflib.get_close_matches(name.lower(), BUILT_IN, n=2, cutoff=0.6)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    return (
        f"unknown architecture {name!r}; {hint}`python -m trainer models --all` lists the "
        "built-in names; a builder of your own is written 'package.module:function'"
    )

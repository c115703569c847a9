"""Architecture names, backbone knobs and builders of your own, validated at queue time."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from experiment.architectures import BUILT_IN, is_user_architecture
from experiment.config import ConfigError, parse_config
from settings import PROJECT_ROOT


def _problems(**fields: object) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        parse_config({"name": "x", **fields})
    problems = dict(info.value.problems)
    # Cross-field checks report as one message that starts with the field's name.
    return {**problems, **{m.split(":")[0]: m for f, m in problems.items() if not f}}


def test_the_table_and_the_config_import_without_keras() -> None:
    """The dashboard validates architectures without TensorFlow or Keras being imported."""
    code = (
        "import sys\nimport experiment.config, experiment.architectures, experiment.presets\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_every_backbone_family_of_the_issue_is_named() -> None:
    """The issue's spellings are all built-in names, beside the lab's own models."""
    for name in [
        "report_cnn",
        "resnet20",
        "mobilenet_v2",
        "resnet50",
        "resnet50_v2",
        "efficientnet_b0",
        "efficientnet_v2_b0",
        "mobilenet_v3_small",
        "convnext_tiny",
        "densenet121",
        "inception_v3",
        "inception_resnet_v2",
        "xception",
        "vgg16",
        "nasnet_mobile",
        "mobilenet",
        "efficientnet_b7",
        "efficientnet_v2_l",
        "convnext_xlarge",
    ]:
        assert name in BUILT_IN, name
    assert len(BUILT_IN) == 42


def test_an_unknown_name_suggests_the_close_ones() -> None:
    """A typo names the field and proposes the built-in names it resembles."""
    message = _problems(architecture="resnet5")["architecture"]
    assert "did you mean resnet50" in message and "package.module:function" in message


@pytest.mark.parametrize("name", ["mylab.nets:build", "pkg.sub.module:make_model", "m:f"])
def test_a_builder_of_your_own_is_accepted_with_its_parameters(name: str) -> None:
    """`package.module:function` names are accepted, with JSON keyword arguments."""
    config = parse_config({"name": "x", "architecture": name, "architecture_params": {"w": 8}})
    assert is_user_architecture(config.architecture)
    assert parse_config(config.to_json()) == config


@pytest.mark.parametrize("name", ["mylab.nets", "mylab.nets:", ":build", "my-lab.nets:build"])
def test_malformed_builder_names_are_refused(name: str) -> None:
    """Anything that is neither built in nor `package.module:function` names `architecture`."""
    assert "unknown architecture" in _problems(architecture=name)["architecture"]


def test_minimum_sizes_are_checked_with_the_field_name() -> None:
    """Xception needs 71 px and InceptionV3 75 px: the message names image_size."""
    assert "71" in _problems(architecture="xception", image_size=64)["image_size"]
    assert "75" in _problems(architecture="inception_v3", image_size=74)["image_size"]
    assert parse_config({"name": "x", "architecture": "inception_v3", "image_size": 75})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("weights", "imagenet"),
        ("freeze_backbone", True),
        ("head_dropout", 0.2),
        ("fine_tune", {"at_epoch": 2}),
    ],
)
@pytest.mark.parametrize("architecture", ["report_cnn", "mylab.nets:build"])
def test_backbone_knobs_belong_to_backbones(architecture: str, field: str, value: object) -> None:
    """Weights, freezing, fine-tuning and the head's dropout are refused by name elsewhere."""
    problems = _problems(architecture=architecture, **{field: value})
    assert "only keras.applications backbones" in problems[field]


def test_parameters_belong_to_builders_of_your_own() -> None:
    """architecture_params on a built-in name, or naming the fixed arguments, is refused."""
    assert (
        "has none"
        in _problems(architecture="resnet50", architecture_params={"a": 1})["architecture_params"]
    )
    problems = _problems(architecture="m:f", architecture_params={"num_classes": 3})
    assert "keyword argument" in problems["architecture_params"]


def test_fine_tuning_follows_a_frozen_phase_within_the_run() -> None:
    """fine_tune needs freeze_backbone and an at_epoch within the epochs; layers is all or K."""
    base = {"architecture": "efficientnet_b0", "weights": "imagenet", "epochs": 5}
    assert "freeze_backbone" in _problems(**base, fine_tune={"at_epoch": 3})["fine_tune"]
    late = _problems(**base, freeze_backbone=True, fine_tune={"at_epoch": 6})
    assert "after the last epoch (5)" in late["fine_tune.at_epoch"]
    assert "fine_tune.layers" in _problems(
        **base, freeze_backbone=True, fine_tune={"at_epoch": 3, "layers": 0}
    )
    config = parse_config(
        {"name": "x", **base, "freeze_backbone": True, "fine_tune": {"at_epoch": 3, "layers": 20}}
    )
    assert config.fine_tune is not None
    assert (config.fine_tune.layers, config.fine_tune.learning_rate) == (20, 1e-5)
    assert parse_config(config.to_json()) == config


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("ImageNet", "imagenet"),
        ("", None),
        (None, None),
        ("weights/mobilenet.weights.h5", "weights/mobilenet.weights.h5"),
        ("/models/run7.keras", "/models/run7.keras"),
        ("cache/resnet50_notop.h5", "cache/resnet50_notop.h5"),
    ],
)
def test_weights_are_imagenet_null_or_a_weights_file(value: str | None, stored: str | None) -> None:
    """`weights` takes imagenet (any case), nothing, or a .weights.h5/.h5/.keras path."""
    config = parse_config({"name": "x", "architecture": "resnet50", "weights": value})
    assert config.weights == stored


def test_other_weights_files_are_refused() -> None:
    """A file Keras cannot read as weights is refused at queue time, naming `weights`."""
    message = _problems(architecture="resnet50", weights="resnet50.pt")["weights"]
    assert ".weights.h5" in message and "resnet50.pt" in message


def test_configs_without_the_new_fields_keep_their_identity_hash() -> None:
    """A config queued before backbones existed hashes as it did then, so repeats still match."""
    config = parse_config({"name": "x", "optimizer": "sgd"})
    payload = config.model_dump(mode="json", exclude={"name", "tags", "priority", "study"})
    for field in ("architecture_params", "weights", "freeze_backbone", "fine_tune", "head_dropout"):
        payload.pop(field)
    before = hashlib.sha256(
        json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    assert config.identity_hash() == before
    frozen = parse_config({"name": "x", "architecture": "resnet50", "freeze_backbone": True})
    plain = parse_config({"name": "x", "architecture": "resnet50"})
    assert frozen.identity_hash() != plain.identity_hash()

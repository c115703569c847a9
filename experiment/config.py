"""The experiment config: one validated, frozen object with a JSON round-trip.

The YAML file format, the Queue form and the database all use these field names. Anything a
user can type passes through `parse_config`, whose `ConfigError` names each bad field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from db.entities import NewRun
from experiment.architectures import (
    BUILT_IN,
    architecture_info,
    is_user_architecture,
    unknown_architecture_message,
)

# Smallest input each built-in architecture can take (report_cnn: three stride-3 convs, two
# pools); builders of the user's own are checked on the worker.
MIN_IMAGE_SIZE = {name: info.min_image_size for name, info in BUILT_IN.items()}
ARCHITECTURES = tuple(BUILT_IN)
WEIGHTS_SUFFIXES = (".weights.h5", ".h5", ".hdf5", ".keras")
# Fields added after runs were first hashed: left out of `identity_hash` while at their
# default, so a config queued before they existed still matches its repeats.
_HASHED_ONLY_WHEN_SET: dict[str, Any] = {
    "architecture_params": {},
    "weights": None,
    "freeze_backbone": False,
    "fine_tune": None,
    "head_dropout": 0.0,
}
OPTIMIZERS = ("sgd", "adam", "adamax", "rmsprop")
DEFAULT_DATASET = "var/data/weather-sample"
Monitor = Literal["val_loss", "val_accuracy", "loss", "accuracy"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _check_range(value: tuple[float, float] | None, name: str) -> tuple[float, float] | None:
    if value is not None and value[0] > value[1]:
        raise ValueError(f"{name} must be [low, high] with low <= high, got {list(value)}")
    return value


class Augmentation(_Strict):
    """Random transforms with ImageDataGenerator's meanings; every one is off unless set."""

    shear_range: float = Field(0.0, ge=0, le=90, description="shear angle in degrees")
    zoom_range: tuple[float, float] | None = Field(
        None, description="[low, high] zoom factors; below 1 zooms in (as ImageDataGenerator)"
    )
    rotation_range: float = Field(0.0, ge=0, le=180, description="degrees, uniform in ±range")
    horizontal_flip: bool = False
    vertical_flip: bool = False
    brightness_range: tuple[float, float] | None = Field(
        None, description="[low, high] brightness factors; 1 keeps the image"
    )
    contrast_range: tuple[float, float] | None = Field(
        None, description="[low, high] contrast factors; 1 keeps the image"
    )

    @field_validator("zoom_range", "brightness_range", "contrast_range")
    @classmethod
    def _ordered_positive(
        cls, value: tuple[float, float] | None, info: Any
    ) -> tuple[float, float] | None:
        if value is not None and not (0 < value[0] <= 10 and 0 < value[1] <= 10):
            raise ValueError(f"factors must be in (0, 10], got {list(value)}")
        return _check_range(value, info.field_name)

    @property
    def enabled(self) -> bool:
        return bool(
            self.shear_range
            or self.rotation_range
            or self.horizontal_flip
            or self.vertical_flip
            or self.zoom_range not in (None, (1.0, 1.0))
            or self.brightness_range not in (None, (1.0, 1.0))
            or self.contrast_range not in (None, (1.0, 1.0))
        )


class EarlyStoppingConfig(_Strict):
    monitor: Monitor = "val_loss"
    patience: int = Field(4, ge=0, le=1000)
    min_delta: float = Field(1e-4, ge=0, le=1)
    restore_best_weights: bool = False


class ReduceLRConfig(_Strict):
    monitor: Monitor = "val_loss"
    factor: float = Field(0.1, gt=0, lt=1)
    patience: int = Field(3, ge=0, le=1000)
    min_delta: float = Field(1e-4, ge=0, le=1)
    min_lr: float = Field(0.0, ge=0)


class MinAccuracyConfig(_Strict):
    """Stop once the monitored accuracy exceeds `threshold` (the report's custom callback)."""

    monitor: Literal["accuracy", "val_accuracy"] = "accuracy"
    threshold: float = Field(0.94, gt=0, le=1)


class FineTuneConfig(_Strict):
    """Unfreeze a frozen backbone at `at_epoch` (1-based) and go on at a new learning rate."""

    at_epoch: int = Field(..., ge=2, le=10_000, description="first epoch that fine-tunes")
    layers: Literal["all"] | int = Field(
        "all", description="the backbone's last K layers, or all; batch norm stays frozen"
    )
    learning_rate: float = Field(1e-5, gt=0, le=10)

    @field_validator("layers")
    @classmethod
    def _positive(cls, value: str | int) -> str | int:
        if isinstance(value, int) and not 1 <= value <= 100_000:
            raise ValueError(f"must be 'all' or a number of layers >= 1, got {value}")
        return value


class ExperimentConfig(_Strict):
    """Everything one training run needs; defaults follow the report where it chose."""

    name: str = Field(..., min_length=1, max_length=200)
    dataset: str = Field(DEFAULT_DATASET, min_length=1, max_length=1000)
    image_size: int = Field(224, ge=16, le=1024)
    architecture: str = Field(
        "report_cnn",
        min_length=1,
        max_length=200,
        description="a built-in name (python -m trainer models) or 'package.module:function'",
    )
    architecture_params: dict[str, Any] = Field(
        default_factory=dict, description="keyword arguments of a builder of your own"
    )
    weights: str | None = Field(
        None, max_length=1000, description="imagenet, null, or a weights file on the workers"
    )
    freeze_backbone: bool = False
    fine_tune: FineTuneConfig | None = None
    head_dropout: float = Field(0.0, ge=0, lt=1)
    optimizer: Literal["sgd", "adam", "adamax", "rmsprop"] = "adam"
    learning_rate: float = Field(0.001, gt=0, le=10)
    batch_size: int = Field(16, ge=1, le=4096)
    epochs: int = Field(50, ge=1, le=10_000)
    steps_per_epoch: int | None = Field(None, ge=1, le=1_000_000)
    validation_steps: int | None = Field(None, ge=1, le=1_000_000)
    validation_split: float = Field(0.2, ge=0.05, le=0.9)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    augmentation: Augmentation = Augmentation()
    early_stopping: EarlyStoppingConfig | None = None
    reduce_lr: ReduceLRConfig | None = None
    min_accuracy: MinAccuracyConfig | None = None
    tags: tuple[str, ...] = Field((), max_length=20)
    priority: int = Field(0, ge=-1000, le=1000)
    study: str | None = Field(None, min_length=1, max_length=200)
    deterministic: bool = False
    mixed_precision: bool = False
    jit_compile: bool = False

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(dict.fromkeys(tag.strip() for tag in tags if tag.strip()))
        for tag in cleaned:
            if len(tag) > 50:
                raise ValueError(f"tag {tag[:20]!r}... is longer than 50 characters")
        return cleaned

    @field_validator("architecture")
    @classmethod
    def _known_architecture(cls, name: str) -> str:
        if architecture_info(name) is None and not is_user_architecture(name):
            raise ValueError(unknown_architecture_message(name))
        return name

    @field_validator("architecture_params")
    @classmethod
    def _keyword_arguments(cls, params: dict[str, Any]) -> dict[str, Any]:
        for key in params:
            if not key.isidentifier() or key in ("input_shape", "num_classes"):
                raise ValueError(f"{key!r} cannot be a keyword argument of the builder")
        try:
            encoded = json.dumps(params, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise ValueError(f"must hold JSON values only ({error})") from None
        if len(encoded) > 10_000:
            raise ValueError("is longer than 10,000 characters of JSON")
        return params

    @field_validator("weights")
    @classmethod
    def _weights_source(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if value.strip().lower() == "imagenet":
            return "imagenet"
        if not value.lower().endswith(WEIGHTS_SUFFIXES):
            raise ValueError(
                "expected imagenet, null, or the path of a .weights.h5, .h5 or .keras file "
                f"on the workers, got {value[:60]!r}"
            )
        return value

    @model_validator(mode="after")
    def _compatible(self) -> ExperimentConfig:
        minimum = MIN_IMAGE_SIZE.get(self.architecture)
        if minimum is not None and self.image_size < minimum:
            raise ValueError(
                f"image_size: {self.architecture} needs at least {minimum} px, "
                f"got {self.image_size}"
            )
        self._check_backbone_knobs()
        if self.mixed_precision and self.deterministic:
            raise ValueError("mixed_precision and deterministic cannot both be on")
        return self

    def _check_backbone_knobs(self) -> None:
        """Weights, freezing, fine-tuning and the head belong to keras.applications backbones."""
        info = architecture_info(self.architecture)
        if self.architecture_params and info is not None:
            raise ValueError(
                f"architecture_params: only a builder of your own ('package.module:function') "
                f"takes parameters; {self.architecture} has none"
            )
        if info is None or not info.is_application:
            what = (
                "a builder of your own sets up its own weights and layers"
                if info is None
                else f"{self.architecture} is one of the lab's own models, trained from scratch"
            )
            for field, is_set in (
                ("weights", self.weights is not None),
                ("freeze_backbone", self.freeze_backbone),
                ("fine_tune", self.fine_tune is not None),
                ("head_dropout", self.head_dropout > 0),
            ):
                if is_set:
                    raise ValueError(f"{field}: only keras.applications backbones take it ({what})")
            return
        if self.fine_tune is not None:
            if not self.freeze_backbone:
                raise ValueError(
                    "fine_tune: needs freeze_backbone: true (it unfreezes a backbone that "
                    "trained frozen until fine_tune.at_epoch)"
                )
            if self.fine_tune.at_epoch > self.epochs:
                raise ValueError(
                    f"fine_tune.at_epoch: {self.fine_tune.at_epoch} is after the last epoch "
                    f"({self.epochs})"
                )

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def identity_hash(self) -> str:
        """Equal for configs that train the same model: name, tags, priority, study ignored."""
        payload = self.model_dump(mode="json", exclude={"name", "tags", "priority", "study"})
        for field, default in _HASHED_ONLY_WHEN_SET.items():
            if payload.get(field) == default:
                payload.pop(field, None)
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def to_new_run(self) -> NewRun:
        """The database's view of this config: the JSON plus its filterable knobs."""
        return NewRun(
            name=self.name,
            config=self.to_json(),
            dataset=self.dataset,
            architecture=self.architecture,
            optimizer=self.optimizer,
            learning_rate=self.learning_rate,
            batch_size=self.batch_size,
            epochs=self.epochs,
            image_size=self.image_size,
            augmented=self.augmentation.enabled,
            seed=self.seed,
            tags=self.tags,
            priority=self.priority,
            study=self.study,
            config_hash=self.identity_hash(),
        )


class ConfigError(ValueError):
    """A config a user wrote is invalid; `problems` lists (field, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]], *, source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        prefix = f"{source}: " if source else ""
        lines = [f"{field}: {message}" if field else message for field, message in problems]
        super().__init__(prefix + "; ".join(lines))


def _describe(error: Mapping[str, Any]) -> tuple[str, str]:
    location = ".".join(str(part) for part in error["loc"] if not isinstance(part, int))
    kind = error["type"]
    if kind == "extra_forbidden":
        return location, "unknown field (check the spelling; see README's config format)"
    if kind == "missing":
        return location, "is required"
    message = str(error["msg"]).removeprefix("Value error, ")
    if "input" in error and kind not in ("model_type", "dict_type", "value_error"):
        shown = repr(error["input"])
        message = f"{message} (got {shown[:60]})"
    return location, message


def parse_config(data: Any, *, source: str | None = None) -> ExperimentConfig:
    """Validate user data into an ExperimentConfig or raise ConfigError naming each bad field."""
    if not isinstance(data, Mapping):
        raise ConfigError(
            [("", f"a config must be a mapping of fields, got {type(data).__name__}")],
            source=source,
        )
    try:
        return ExperimentConfig.model_validate(dict(data))
    except ValidationError as error:
        raise ConfigError([_describe(e) for e in error.errors()], source=source) from None


def field_names() -> list[str]:
    """Every settable field, nested ones dotted (`augmentation.zoom_range`), for grids and forms."""
    names: list[str] = []
    for name, info in ExperimentConfig.model_fields.items():
        annotation = info.annotation
        nested = [a for a in getattr(annotation, "__args__", (annotation,)) if _is_model(a)]
        if nested and nested[0] is not None:
            names.extend(f"{name}.{sub}" for sub in nested[0].model_fields)
        else:
            names.append(name)
    return names


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)

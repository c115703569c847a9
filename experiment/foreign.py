"""Configs the lab did not write (imported runs, a user's own scripts): which of their keys
mean one of our fields.

Such a config is any JSON. Where it names a field of `ExperimentConfig` with a value that
field accepts (`learning_rate: 0.001`, `batch_size: 32`), the run gets that knob in the run
table, so filters and colour-by work; and the run can be cloned into the Queue form when
every one of our fields it names is valid there.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any

from pydantic import TypeAdapter, ValidationError

from experiment.config import ExperimentConfig

# The run-table columns filled from a config (db.models.Run); `augmented` is derived from a
# whole augmentation section, which a foreign config does not have.
KNOB_FIELDS = (
    "dataset", "architecture", "optimizer", "learning_rate", "batch_size", "epochs",
    "image_size", "seed",
)  # fmt: skip


@cache
def _adapter(name: str) -> TypeAdapter[Any]:
    """Validates one field's value with its type and constraints (`gt=0`, `le=1024`, ...)."""
    info = ExperimentConfig.model_fields[name]
    annotated: Any = Annotated[info.annotation, info]  # type: ignore[name-defined]
    return TypeAdapter(annotated)


def knob_values(config: Mapping[str, Any]) -> dict[str, Any]:
    """The knobs `config` names with a value our field accepts, validated (32.0 -> 32)."""
    values: dict[str, Any] = {}
    for name in KNOB_FIELDS:
        if name in config:
            try:
                values[name] = _adapter(name).validate_python(config[name])
            except ValidationError:
                continue
    return values


def clone_fields(config: Mapping[str, Any]) -> dict[str, Any] | None:
    """The fields of the Queue form a foreign config fills, or None when it names none of
    them or names one with a value the form would refuse (then it cannot be cloned)."""
    ours = {k: v for k, v in config.items() if k in ExperimentConfig.model_fields and k != "name"}
    if not ours:
        return None
    try:
        ExperimentConfig.model_validate({"name": "clone", **ours})
    except ValidationError:
        return None
    return ours

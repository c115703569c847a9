"""The Queue form: every ExperimentConfig field as a widget, plus the grid written in YAML.

Widgets hold a flat mapping (`augmentation.zoom_range.low`, `early_stopping.on`, ...) that
`config_from_form` turns into the config dict `parse_config` validates. Widgets set no min/max:
the config's own validation is the single judge, and its errors name the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import pandas as pd
import streamlit as st
import yaml

from experiment.config import (
    ARCHITECTURES,
    OPTIMIZERS,
    Augmentation,
    ConfigError,
    EarlyStoppingConfig,
    ExperimentConfig,
    MinAccuracyConfig,
    ReduceLRConfig,
    parse_config,
)
from experiment.grid import expand
from experiment.presets import REPORT_BEST
from settings import PROJECT_ROOT

KEY_PREFIX = "cfg."
SECTIONS: dict[str, type[Any]] = {
    "early_stopping": EarlyStoppingConfig,
    "reduce_lr": ReduceLRConfig,
    "min_accuracy": MinAccuracyConfig,
}
RANGES = ("zoom_range", "brightness_range", "contrast_range")
AUTO_FIELDS = ("steps_per_epoch", "validation_steps")  # 0 in the form means "auto" (None)
PLAIN_FIELDS = (
    "name", "dataset", "image_size", "architecture", "optimizer", "learning_rate", "batch_size",
    "epochs", "validation_split", "seed", "priority", "deterministic", "mixed_precision",
    "jit_compile",
)  # fmt: skip
AUGMENTATION_PLAIN = ("shear_range", "rotation_range", "horizontal_flip", "vertical_flip")
STEPS = {
    "learning_rate": 1e-4,
    "validation_split": 0.05,
    "augmentation.shear_range": 1.0,
    "augmentation.rotation_range": 1.0,
    "reduce_lr.factor": 0.05,
    "reduce_lr.min_lr": 1e-5,
    "min_accuracy.threshold": 0.01,
    "early_stopping.min_delta": 1e-4,
    "reduce_lr.min_delta": 1e-4,
}


def _float_keys() -> set[str]:
    """Flat keys whose widget must hold a float even when the default is a whole number."""
    keys = {n for n, f in ExperimentConfig.model_fields.items() if f.annotation is float}
    keys |= {
        f"augmentation.{n}" for n, f in Augmentation.model_fields.items() if f.annotation is float
    }
    keys |= {f"augmentation.{r}.{end}" for r in RANGES for end in ("low", "high")}
    for section, model in SECTIONS.items():
        keys |= {f"{section}.{n}" for n, f in model.model_fields.items() if f.annotation is float}
    return keys


def _choices(key: str) -> tuple[str, ...] | None:
    if key == "architecture":
        return ARCHITECTURES
    if key == "optimizer":
        return OPTIMIZERS
    if key.endswith(".monitor"):
        section = SECTIONS[key.split(".")[0]]
        return tuple(get_args(section.model_fields["monitor"].annotation))
    return None


def dataset_default(dataset_dir: Path) -> str:
    """The settings' dataset, relative to the project when inside it, as workers resolve it."""
    try:
        return str(dataset_dir.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(dataset_dir)


def default_config(dataset: str) -> dict[str, Any]:
    """The report's best setting (REPORT_BEST), complete with every field's default."""
    return parse_config({**REPORT_BEST, "dataset": dataset}).to_json()


def form_defaults(config: Mapping[str, Any]) -> dict[str, Any]:
    """A complete config dict -> the form's flat widget values."""
    values: dict[str, Any] = {key: config[key] for key in PLAIN_FIELDS}
    values["study"] = config.get("study") or ""
    values["tags"] = ", ".join(config.get("tags") or ())
    for key in AUTO_FIELDS:
        values[key] = config.get(key) or 0
    augmentation = config.get("augmentation") or {}
    for key in AUGMENTATION_PLAIN:
        values[f"augmentation.{key}"] = augmentation.get(
            key, Augmentation.model_fields[key].default
        )
    for key in RANGES:
        span = augmentation.get(key)
        low, high = span if span is not None else (1.0, 1.0)
        values[f"augmentation.{key}.on"] = span is not None
        values[f"augmentation.{key}.low"] = low
        values[f"augmentation.{key}.high"] = high
    for section, model in SECTIONS.items():
        current = config.get(section)
        values[f"{section}.on"] = current is not None
        for key, value in (current or model().model_dump()).items():
            values[f"{section}.{key}"] = value
    floats = _float_keys()
    return {k: float(v) if k in floats else v for k, v in values.items()}


def config_from_form(values: Mapping[str, Any]) -> dict[str, Any]:
    """The form's flat values -> a config dict for `parse_config` (not yet validated)."""
    config: dict[str, Any] = {key: values[key] for key in PLAIN_FIELDS}
    config["study"] = str(values["study"]).strip() or None
    config["tags"] = [tag.strip() for tag in str(values["tags"]).split(",") if tag.strip()]
    for key in AUTO_FIELDS:
        config[key] = values[key] or None
    augmentation = {key: values[f"augmentation.{key}"] for key in AUGMENTATION_PLAIN}
    for key in RANGES:
        prefix = f"augmentation.{key}"
        on = values[f"{prefix}.on"]
        augmentation[key] = [values[f"{prefix}.low"], values[f"{prefix}.high"]] if on else None
    config["augmentation"] = augmentation
    for section, model in SECTIONS.items():
        fields = {key: values[f"{section}.{key}"] for key in model.model_fields}
        config[section] = fields if values[f"{section}.on"] else None
    return config


def parse_grid_text(text: str) -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
    """YAML `field: [v1, v2]` lines (and an optional `variants:` list) -> (grid, variants)."""
    try:
        document = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        raise ConfigError([("grid", f"YAML error at {where}: {error.problem}")]) from None
    except yaml.YAMLError as error:
        raise ConfigError([("grid", f"YAML error: {error}")]) from None
    if document is None:
        raise ConfigError([("grid", "type at least one line such as `optimizer: [sgd, adam]`")])
    if not isinstance(document, dict):
        raise ConfigError([("grid", "write one `field: [value, value]` per line")])
    grid = {str(key): value for key, value in document.items() if key != "variants"}
    return grid, document.get("variants")


def expand_grid(base: Mapping[str, Any], text: str) -> list[ExperimentConfig]:
    """Every combination of the form's config with the grid's values; ConfigError if any fails."""
    grid, variants = parse_grid_text(text)
    return expand(base, grid, variants, source="grid")


def _lookup(config: Mapping[str, Any], dotted: str) -> Any:
    value: Any = config
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def grid_table(configs: list[dict[str, Any]], text: str) -> pd.DataFrame:
    """Preview rows: each expanded run's name and the values the grid gives it."""
    grid, variants = parse_grid_text(text)
    keys = list(dict.fromkeys([*grid, *(k for v in variants or [] for k in v)]))
    rows = [
        {"name": config["name"], **{key: str(_lookup(config, key)) for key in keys}}
        for config in configs
    ]
    return pd.DataFrame(rows, columns=["name", *keys])


@dataclass(frozen=True)
class FormResult:
    """What the user submitted: which button, the flat values and the grid text."""

    action: str | None  # "queue", "grid" or None when nothing was submitted
    values: dict[str, Any]
    grid_text: str


class _Inputs:
    """Draws one widget per flat key, picking the widget from the default's type."""

    def __init__(self, defaults: Mapping[str, Any]) -> None:
        self.defaults = defaults
        self.values: dict[str, Any] = {}
        self.descriptions = _descriptions()

    def __call__(self, key: str, label: str, container: Any = st) -> None:
        default = self.defaults[key]
        options = _choices(key)
        common = {"key": KEY_PREFIX + key, "help": self.descriptions.get(key)}
        if options is not None:
            value = container.selectbox(label, options, index=options.index(default), **common)
        elif isinstance(default, bool):
            value = container.checkbox(label, value=default, **common)
        elif isinstance(default, int):
            value = container.number_input(label, value=default, step=1, **common)
        elif isinstance(default, float):
            step = STEPS.get(key, 0.1)
            value = container.number_input(label, value=default, step=step, format="%g", **common)
        else:
            value = container.text_input(label, value=str(default), **common)
        self.values[key] = value


def _descriptions() -> dict[str, str]:
    found = {n: f.description for n, f in ExperimentConfig.model_fields.items() if f.description}
    for name, info in Augmentation.model_fields.items():
        if info.description:
            found[f"augmentation.{name}"] = info.description
            found[f"augmentation.{name}.on"] = info.description
    found["steps_per_epoch"] = "batches per epoch; 0 = the whole training split"
    found["validation_steps"] = "validation batches per epoch; 0 = the whole validation split"
    found["tags"] = "comma separated"
    found["study"] = "runs of one study open together on Compare; blank = none"
    return found


def render_config_form(defaults: Mapping[str, Any]) -> FormResult:
    """Draw the form (grouped so it is not a wall of inputs) and report what was submitted."""
    put = _Inputs(defaults)
    with st.form("config_form", enter_to_submit=False, border=True):
        top = st.columns([2, 2, 2, 1])
        put("name", "Name", top[0])
        put("study", "Study", top[1])
        put("tags", "Tags", top[2])
        put("priority", "Priority", top[3])
        _model_and_data(put)
        _augmentation(put)
        _callbacks(put)
        with st.expander("Runtime"):
            row = st.columns(3)
            put("deterministic", "Deterministic ops", row[0])
            put("mixed_precision", "Mixed precision (GPU)", row[1])
            put("jit_compile", "XLA jit_compile", row[2])
        with st.expander("Grid: queue every combination"):
            grid_text = st.text_area(
                "One `field: [value, value]` per line (YAML)",
                placeholder="optimizer: [sgd, adam]\nbatch_size: [16, 32]",
                help="Dotted names reach nested fields (augmentation.rotation_range); an "
                "optional `variants:` list links fields (batch_size with steps_per_epoch). "
                "Every other field comes from this form.",
                key="grid.text",
            )
            preview = st.form_submit_button("Preview grid", key="grid.preview_button")
        queue = st.form_submit_button("Queue run", type="primary", key="cfg.submit")
    action = "queue" if queue else "grid" if preview else None
    return FormResult(action=action, values=put.values, grid_text=grid_text)


def _model_and_data(put: _Inputs) -> None:
    st.markdown("**Data and model**")
    data = st.columns([4, 1, 1, 1])
    put("dataset", "Dataset folder", data[0])
    put("image_size", "Image size (px)", data[1])
    put("validation_split", "Validation split", data[2])
    put("seed", "Seed", data[3])
    model = st.columns(4)
    put("architecture", "Architecture", model[0])
    put("optimizer", "Optimizer", model[1])
    put("learning_rate", "Learning rate", model[2])
    put("batch_size", "Batch size", model[3])
    schedule = st.columns(4)
    put("epochs", "Epochs", schedule[0])
    put("steps_per_epoch", "Steps per epoch (0 = auto)", schedule[1])
    put("validation_steps", "Validation steps (0 = auto)", schedule[2])


def _augmentation(put: _Inputs) -> None:
    with st.expander("Augmentation (training images only)"):
        geometry = st.columns(4)
        put("augmentation.shear_range", "Shear (degrees)", geometry[0])
        put("augmentation.rotation_range", "Rotation (± degrees)", geometry[1])
        put("augmentation.horizontal_flip", "Horizontal flip", geometry[2])
        put("augmentation.vertical_flip", "Vertical flip", geometry[3])
        for column, name in zip(st.columns(3), RANGES, strict=True):
            title = name.removesuffix("_range")
            put(f"augmentation.{name}.on", f"{title.capitalize()} range", column)
            low, high = column.columns(2)
            put(f"augmentation.{name}.low", f"{title} low", low)
            put(f"augmentation.{name}.high", f"{title} high", high)


def _callbacks(put: _Inputs) -> None:
    with st.expander("Callbacks: early stopping, learning-rate schedule, accuracy target"):
        early, reduce, target = st.columns(3)
        put("early_stopping.on", "Early stopping", early)
        put("early_stopping.monitor", "monitor", early)
        put("early_stopping.patience", "patience (epochs)", early)
        put("early_stopping.min_delta", "min_delta", early)
        put("early_stopping.restore_best_weights", "restore best weights", early)
        put("reduce_lr.on", "Reduce LR on plateau", reduce)
        put("reduce_lr.monitor", "monitor", reduce)
        put("reduce_lr.factor", "factor", reduce)
        put("reduce_lr.patience", "patience (epochs)", reduce)
        put("reduce_lr.min_delta", "min_delta", reduce)
        put("reduce_lr.min_lr", "min_lr", reduce)
        put("min_accuracy.on", "Stop at an accuracy", target)
        put("min_accuracy.monitor", "monitor", target)
        put("min_accuracy.threshold", "threshold", target)


def show_problems(error: ConfigError) -> None:
    """One error per problem, each naming its field, so the user knows what to change."""
    for field, message in error.problems:
        st.error(f"`{field or 'config'}`: {message}", icon=":material/error:")

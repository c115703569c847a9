"""The Queue form: every ExperimentConfig field as a widget, plus the grid written in YAML.

Widgets hold a flat mapping (`augmentation.zoom_range.low`, `early_stopping.on`, ...) that
`config_from_form` turns into the config dict `parse_config` validates. Widgets set no min/max:
the config's own validation is the single judge, and its errors name the field. The form only
translates typed text (JSON keyword arguments, a number of layers) into values; a builder of the
user's own is a name here, never imported: the workers import and check it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import pandas as pd
import streamlit as st
import yaml

from dashboard.knobs import flatten, format_value
from experiment.config import (
    ARCHITECTURES,
    MIN_IMAGE_SIZE,
    OPTIMIZERS,
    Augmentation,
    ConfigError,
    EarlyStoppingConfig,
    ExperimentConfig,
    FineTuneConfig,
    MinAccuracyConfig,
    ReduceLRConfig,
    parse_config,
)
from experiment.grid import expand
from experiment.presets import CPU_START
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
    "name", "dataset", "image_size", "optimizer", "learning_rate", "batch_size", "epochs",
    "validation_split", "seed", "priority", "deterministic", "mixed_precision", "jit_compile",
    "freeze_backbone", "head_dropout",
)  # fmt: skip
OWN_ARCHITECTURE = "architecture.own"  # the text field that names a builder of the user's own
# Fine-tuning's widget values while it is off: half-way through CPU_START's 10 epochs.
FINE_TUNE_OFF = {"at_epoch": 5, "layers": "all", "learning_rate": 1e-5}
TEXT_AREAS = {"architecture_params"}
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
    "head_dropout": 0.05,
    "fine_tune.learning_rate": 1e-5,
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
    keys |= {
        f"fine_tune.{n}" for n, f in FineTuneConfig.model_fields.items() if f.annotation is float
    }
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


def default_config(dataset: str, preset: Mapping[str, Any] = CPU_START) -> dict[str, Any]:
    """A preset (the form opens at CPU_START) on `dataset`, complete with every field."""
    return parse_config({**preset, "dataset": dataset}).to_json()


def form_defaults(config: Mapping[str, Any]) -> dict[str, Any]:
    """A complete config dict -> the form's flat widget values."""
    values: dict[str, Any] = {key: config[key] for key in PLAIN_FIELDS}
    values.update(_architecture_defaults(config))
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


def _architecture_defaults(config: Mapping[str, Any]) -> dict[str, Any]:
    """The architecture's select and text field, weights, and fine-tuning as flat values."""
    name = config["architecture"]
    built_in = name in ARCHITECTURES
    params = config.get("architecture_params") or {}
    fine_tune = config.get("fine_tune")
    values: dict[str, Any] = {
        "architecture": name if built_in else ARCHITECTURES[0],
        OWN_ARCHITECTURE: "" if built_in else name,
        "architecture_params": json.dumps(params) if params else "",
        "weights": config.get("weights") or "",
        "fine_tune.on": fine_tune is not None,
    }
    for key, value in (fine_tune or FINE_TUNE_OFF).items():
        values[f"fine_tune.{key}"] = str(value) if key == "layers" else value
    return values


def config_from_form(values: Mapping[str, Any]) -> dict[str, Any]:
    """The form's flat values -> a config dict for `parse_config` (not yet validated)."""
    config: dict[str, Any] = {key: values[key] for key in PLAIN_FIELDS}
    config["architecture"] = str(values[OWN_ARCHITECTURE]).strip() or values["architecture"]
    config["architecture_params"] = parse_params_text(str(values["architecture_params"]))
    config["weights"] = str(values["weights"]).strip() or None
    config["fine_tune"] = _fine_tune(values) if values["fine_tune.on"] else None
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


def parse_params_text(text: str) -> dict[str, Any]:
    """The builder's keyword arguments typed as a JSON object; blank is none."""
    if not text.strip():
        return {}
    example = 'write a JSON object such as {"width": 64, "dropout": 0.1}'
    try:
        params = json.loads(text)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}"
        raise ConfigError(
            [("architecture_params", f"not JSON ({error.msg} at {where}); {example}")]
        ) from None
    if not isinstance(params, dict):
        raise ConfigError(
            [("architecture_params", f"got a JSON {type(params).__name__}; {example}")]
        )
    return params


def _fine_tune(values: Mapping[str, Any]) -> dict[str, Any]:
    """Fine-tuning's widgets -> its config; `layers` is typed as `all` or a number."""
    layers = str(values["fine_tune.layers"]).strip().lower()
    if layers != "all" and not layers.isdigit():
        raise ConfigError(
            [("fine_tune.layers", f"write all or a number of layers, got {layers[:30]!r}")]
        )
    return {
        "at_epoch": values["fine_tune.at_epoch"],
        "layers": layers if layers == "all" else int(layers),
        "learning_rate": values["fine_tune.learning_rate"],
    }


def load_yaml(text: str, box: str) -> Any:
    """A box's YAML, or ConfigError naming the box and where the YAML breaks."""
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        raise ConfigError([(box, f"YAML error at {where}: {error.problem}")]) from None
    except yaml.YAMLError as error:
        raise ConfigError([(box, f"YAML error: {error}")]) from None


def parse_grid_text(text: str) -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
    """YAML `field: [v1, v2]` lines (and an optional `variants:` list) -> (grid, variants)."""
    document = load_yaml(text, "grid")
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


def preview_table(configs: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per config: its name and the fields whose values differ between the configs."""
    flat = [flatten(config) for config in configs]
    keys = list(dict.fromkeys(key for row in flat for key in row if key != "name"))
    varied = [key for key in keys if len({format_value(row.get(key)) for row in flat}) > 1]
    rows = [
        {"name": config["name"], **{key: format_value(row.get(key)) for key in varied}}
        for config, row in zip(configs, flat, strict=True)
    ]
    return pd.DataFrame(rows, columns=["name", *varied])


@dataclass(frozen=True)
class FormResult:
    """What the form holds now, the button pressed (if any), and a place for notes on it."""

    action: str | None  # "queue", "grid", "search" or None when no button was pressed
    values: dict[str, Any]
    grid_text: str
    search_text: str
    notes: Any  # a container below the schedule fields, for the cost and images notes


def seed_form(defaults: Mapping[str, Any], *, replace: bool = False) -> None:
    """Put the form's values in session state: the missing ones, or all of them (`replace`:
    a preset button). The widgets then take their values from there and from nothing else."""
    for key, value in defaults.items():
        if replace or KEY_PREFIX + key not in st.session_state:
            st.session_state[KEY_PREFIX + key] = value


class _Inputs:
    """Draws one widget per flat key, picking the widget from the value's type.

    Values live in session state (`seed_form`), so a preset button can replace them all. Each
    widget also gets the same value as its default: the browser shows a widget's default when
    it (re)creates one, and a number field created while a rerun interrupted the run that set
    its state would otherwise show (and send back) 0. Streamlit's warning about a widget with
    both is switched off in `.streamlit/config.toml` for that reason.
    """

    def __init__(self, defaults: Mapping[str, Any]) -> None:
        self.defaults = defaults
        self.values: dict[str, Any] = {}

    def __call__(self, key: str, label: str, container: Any = st) -> None:
        default = self.defaults[key]
        current = st.session_state.get(KEY_PREFIX + key, default)
        options = _choices(key)
        common = {"key": KEY_PREFIX + key, "help": FIELD_HELP.get(key)}
        if options is not None:
            index = options.index(current) if current in options else 0
            value = container.selectbox(label, options, index=index, **common)
        elif isinstance(default, bool):
            value = container.checkbox(label, value=bool(current), **common)
        elif isinstance(default, int):
            value = container.number_input(label, value=int(current), step=1, **common)
        elif isinstance(default, float):
            step = STEPS.get(key, 0.1)
            value = container.number_input(
                label, value=float(current), step=step, format="%g", **common
            )
        elif key in TEXT_AREAS:
            value = container.text_area(label, value=str(current), height=68, **common)
        else:
            value = container.text_input(label, value=str(current), **common)
        self.values[key] = value


def _field_help() -> dict[str, str]:
    """Help for every widget: the config's own descriptions, then the form's words."""
    found = {n: f.description for n, f in ExperimentConfig.model_fields.items() if f.description}
    for name, info in Augmentation.model_fields.items():
        if info.description:
            found[f"augmentation.{name}"] = info.description
    for name in RANGES:
        described = Augmentation.model_fields[name].description or ""
        found[f"augmentation.{name}.on"] = described
        found[f"augmentation.{name}.low"] = "the smallest factor drawn; " + described
        found[f"augmentation.{name}.high"] = "the largest factor drawn; " + described
    for name, info in FineTuneConfig.model_fields.items():
        if info.description:
            found[f"fine_tune.{name}"] = info.description
    found.update(FORM_HELP)
    found["image_size"] = (
        "Images are resized to this many pixels square. Smaller trains much faster (a quarter "
        f"of the pixels per halving). Smallest each architecture takes: {minimum_sizes()}."
    )
    return found


def minimum_sizes() -> str:
    """Every architecture's smallest image size, the common one said once."""
    sizes = list(MIN_IMAGE_SIZE.values())
    common = max(set(sizes), key=sizes.count)
    special = ", ".join(f"{name} {px} px" for name, px in MIN_IMAGE_SIZE.items() if px != common)
    return f"{special}; every other one {common} px"


FORM_HELP: dict[str, str] = {
    "name": "What the run is called in lists and charts; need not be unique.",
    "study": "Runs of one study open together on Compare; blank = none.",
    "tags": "Comma separated labels to filter runs by.",
    "priority": "Workers take higher numbers first (-1000 to 1000), then the oldest run.",
    "dataset": "A folder of class folders, or of files named like cloudy12.jpg; relative "
    "paths start at the repository root on each worker.",
    "validation_split": "Share of each class held out for validation (stratified, the same "
    "for a seed).",
    "seed": "Seeds the split, shuffling, augmentation and weights: same seed, same run.",
    "architecture": "report_cnn: the report's 3-convolution CNN (fast, needs 106 px); "
    "resnet20: ResNet v1 depth 20 (about 10x slower an image); every other name is a "
    "keras.applications backbone (ResNet, EfficientNet, MobileNet, ConvNeXt, DenseNet, "
    "Inception, Xception, NASNet, VGG) under a global-pooling, dropout and softmax head. "
    "`python -m trainer models` lists them with their parameter counts.",
    OWN_ARCHITECTURE: "A builder of your own, written package.module:function, installed on "
    "the workers: build(input_shape, num_classes, **architecture_params) -> keras.Model. "
    "When filled it replaces the architecture chosen above. The workers import and check it "
    "before the first epoch; this page never runs it.",
    "architecture_params": "Keyword arguments of your own builder as a JSON object, e.g. "
    '{"width": 64}; blank = none. Built-in architectures take none.',
    "weights": "Backbones only. imagenet (Keras downloads them once into ~/.keras/models; a "
    "worker without network needs the file put there), blank = random weights, or the path "
    "of a .weights.h5 saved from the same constructor with include_top=False, or of a "
    ".keras model of ours, on the workers.",
    "freeze_backbone": "Backbones only. Train the head alone and keep the backbone's weights "
    "(transfer learning); fine-tuning below unfreezes it later.",
    "head_dropout": "Backbones only. Dropout before the softmax layer (0 = none).",
    "fine_tune.on": "Needs a frozen backbone: at an epoch, unfreeze its last layers (batch "
    "norm stays frozen) and go on at a new learning rate. The curves mark the epoch.",
    "fine_tune.at_epoch": "The first epoch that fine-tunes (2 or later, at most the epochs).",
    "fine_tune.layers": "all, or how many of the backbone's last layers to unfreeze.",
    "fine_tune.learning_rate": "The rate from that epoch on; about 1/100 of the first one "
    "keeps the pretrained features.",
    "optimizer": "sgd, adam, adamax or rmsprop with Keras's defaults besides the rate.",
    "learning_rate": "The optimizer's step size; the report used 0.001 with Adam. Reduce LR "
    "on plateau (Callbacks) lowers it during training.",
    "batch_size": "Images per training step.",
    "epochs": "Training passes; early stopping and the accuracy target can end a run sooner.",
    "steps_per_epoch": "Batches per epoch; 0 = one pass over the training split. More than "
    "a pass repeats images (the report: 70 batches of 16).",
    "validation_steps": "Validation batches per epoch; 0 = the whole validation split.",
    "deterministic": "TensorFlow's deterministic ops: the same run twice gives the same "
    "numbers, a little slower.",
    "mixed_precision": "mixed_float16 on a GPU: faster, less memory; no gain on a CPU.",
    "jit_compile": "Compile the model with XLA; can be faster on a GPU.",
    "augmentation.horizontal_flip": "Mirror half of the training images left to right.",
    "augmentation.vertical_flip": "Mirror half of the training images upside down.",
    "early_stopping.on": "Stop when the monitored value stops improving.",
    "early_stopping.monitor": "The value early stopping watches.",
    "early_stopping.patience": "Epochs without improvement before stopping.",
    "early_stopping.min_delta": "The smallest change that counts as an improvement.",
    "early_stopping.restore_best_weights": "Keep the best epoch's weights, not the last.",
    "reduce_lr.on": "Lower the learning rate when the monitored value stops improving.",
    "reduce_lr.monitor": "The value the schedule watches.",
    "reduce_lr.factor": "New rate = rate x factor.",
    "reduce_lr.patience": "Epochs without improvement before lowering the rate.",
    "reduce_lr.min_delta": "The smallest change that counts as an improvement.",
    "reduce_lr.min_lr": "The rate never goes below this.",
    "min_accuracy.on": "Stop as soon as an accuracy passes a threshold (the report's "
    "MinAccuracy callback).",
    "min_accuracy.monitor": "Training or validation accuracy.",
    "min_accuracy.threshold": "Stop once the accuracy is above this (0-1).",
}
FIELD_HELP = _field_help()
GRID_HELP = (
    "Dotted names reach nested fields (augmentation.rotation_range); an optional `variants:` "
    "list links fields (batch_size with steps_per_epoch). Every other field comes from this "
    'form. With lines here, "Queue run" shows the grid\'s preview; its "Queue N runs" '
    "button queues it."
)

SEARCH_PLACEHOLDER = """search:
  objective: {metric: val_accuracy, direction: maximize}
  budget: 12
  parallel: 2
  pruner: {kind: median, warmup_epochs: 2}
  space:
    learning_rate: {low: 1.0e-4, high: 1.0e-1, log: true}
    optimizer: [sgd, adam]"""
SEARCH_HELP = (
    'Paste a search file or just its `search:` section (README, "Search"): every trial is '
    "this form's config with the searched fields set; other top-level fields in the box "
    "(`name`, `epochs`, ...) replace the form's. The search is named after the box's `name`, "
    'else the form\'s Study, else its Name. "Preview search" checks it and shows the first '
    'suggestions; its "Queue search" creates it.'
)


def render_config_form(defaults: Mapping[str, Any]) -> FormResult:
    """Draw the form (grouped so it is not a wall of inputs) and report what it holds.

    Not an `st.form`: the notes under the schedule (what the run costs, how many images an
    epoch sees) follow each change, as do the buttons' meaning when the grid box fills.
    """
    seed_form(defaults)
    put = _Inputs(defaults)
    with st.container(border=True):
        top = st.columns([2, 2, 2, 1])
        put("name", "Name", top[0])
        put("study", "Study", top[1])
        put("tags", "Tags", top[2])
        put("priority", "Priority", top[3])
        _model_and_data(put)
        notes = st.container()
        _augmentation(put)
        _callbacks(put)
        with st.expander("Runtime"):
            row = st.columns(3)
            put("deterministic", "Deterministic ops", row[0])
            put("mixed_precision", "Mixed precision (GPU)", row[1])
            put("jit_compile", "XLA jit_compile", row[2])
        typed = str(st.session_state.get("grid.text") or "").strip()
        with st.expander("Grid: queue every combination", expanded=bool(typed)):
            grid_text = st.text_area(
                "One `field: [value, value]` per line (YAML)",
                placeholder="optimizer: [sgd, adam]\nbatch_size: [16, 32]",
                help=GRID_HELP,
                key="grid.text",
            )
        searching = str(st.session_state.get("search.text") or "").strip()
        with st.expander("Search: the lab chooses the runs (Optuna)", expanded=bool(searching)):
            search_text = st.text_area(
                "A `search:` section (YAML); fields beside it replace the form's",
                placeholder=SEARCH_PLACEHOLDER,
                help=SEARCH_HELP,
                height=220,
                key="search.text",
            )
        buttons = st.container(horizontal=True, vertical_alignment="center")
        queue = buttons.button("Queue run", type="primary", key="cfg.submit")
        preview = buttons.button("Preview grid", key="grid.preview_button")
        search = buttons.button("Preview search", key="search.preview_button")
        if grid_text.strip() or search_text.strip():
            box = "grid" if grid_text.strip() else "search"
            box = "grid and search" if grid_text.strip() and search_text.strip() else box
            buttons.caption(f"The {box} box is filled: every button previews it first.")
    action = "queue" if queue else "grid" if preview else "search" if search else None
    return FormResult(
        action=action,
        values=put.values,
        grid_text=grid_text,
        search_text=search_text,
        notes=notes,
    )


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
    _backbone(put)


def _backbone(put: _Inputs) -> None:
    """Pretrained weights, freezing and fine-tuning (backbones), or a builder of your own."""
    changed = any(
        st.session_state.get(KEY_PREFIX + key) not in (None, "", False, 0.0)
        for key in (OWN_ARCHITECTURE, "architecture_params", "weights", "freeze_backbone",
                    "head_dropout", "fine_tune.on")
    )  # fmt: skip
    title = "Backbone: pretrained weights, freezing, fine-tuning; or a builder of your own"
    with st.expander(title, expanded=changed):
        row = st.columns([3, 1, 1])
        put("weights", "Weights (imagenet, blank, or a file)", row[0])
        put("freeze_backbone", "Freeze the backbone", row[1])
        put("head_dropout", "Head dropout", row[2])
        tune = st.columns(4)
        put("fine_tune.on", "Fine-tune at an epoch", tune[0])
        put("fine_tune.at_epoch", "from epoch", tune[1])
        put("fine_tune.layers", "layers (all or K)", tune[2])
        put("fine_tune.learning_rate", "learning rate", tune[3])
        own = st.columns([2, 3])
        put(OWN_ARCHITECTURE, "Your own builder (package.module:function)", own[0])
        put("architecture_params", "Its keyword arguments (JSON)", own[1])


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


_NAMED = re.compile(r"^([a-z_]+(?:\.[a-z_]+)*): (.+)$", re.DOTALL)


def named_problem(field: str, message: str) -> tuple[str, str]:
    """A problem of the whole config whose message starts with a field's name (`image_size:
    resnet50 needs at least 32 px`) -> that field and the rest of the message."""
    match = _NAMED.match(message) if not field else None
    return (match.group(1), match.group(2)) if match else (field, message)


def show_problems(error: ConfigError) -> None:
    """One error per problem, each naming its field, so the user knows what to change."""
    for problem in error.problems:
        field, message = named_problem(*problem)
        st.error(f"`{field or 'config'}`: {message}", icon=":material/error:")

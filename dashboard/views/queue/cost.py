"""What the form's run will cost: the images an epoch sees and the time it should take, live,
and the presets one click away (a CPU-sized start, the report's best setting)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from dashboard.queries import fetch_run_timings
from dashboard.views.queue.config_form import (
    KEY_PREFIX,
    config_from_form,
    default_config,
    form_defaults,
    named_problem,
    seed_form,
)
from db.metrics import RunTiming
from db.session import Database
from experiment.config import ConfigError, ExperimentConfig, parse_config
from experiment.estimate import dataset_images, duration_text, estimate_run, images_per_second
from experiment.presets import CPU_START, REPORT_BEST

PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "cpu": ("Quick CPU start (112 px, 10 epochs)", CPU_START),
    "report": ("Report's best setting (224 px, 50 epochs)", REPORT_BEST),
}


def _apply(preset: Mapping[str, Any], dataset: str) -> None:
    """Fill the form with a preset, keeping the dataset folder the user typed."""
    typed = st.session_state.get(KEY_PREFIX + "dataset") or dataset
    seed_form(form_defaults(default_config(str(typed), preset)), replace=True)


def preset_buttons(dataset: str) -> None:
    """One click to the CPU-sized start or to the report's own values."""
    row = st.container(horizontal=True, vertical_alignment="center")
    row.caption("Start from:")
    for key, (label, preset) in PRESETS.items():
        row.button(
            label, key=f"preset.{key}", on_click=_apply, args=(preset, dataset),
            icon=":material/restart_alt:",
        )  # fmt: skip


def epoch_text(config: ExperimentConfig, history: list[RunTiming]) -> str:
    """How many images one epoch trains on, and how that compares with the training split."""
    total = dataset_images(config.dataset, history)
    train = None if total is None else round(total * (1 - config.validation_split))
    split = "" if train is None else f"the training split has ~{train:,}"
    batch = config.batch_size
    if config.steps_per_epoch is None:
        if train is None:
            return f"Each epoch is one pass over the training split, in batches of {batch}."
        batches = -(-train // batch)
        return f"Each epoch is one pass over the ~{train:,} training images: {batches} x {batch}."
    seen = config.steps_per_epoch * config.batch_size
    text = (
        f"Each epoch trains on {config.steps_per_epoch} batches of {config.batch_size} = "
        f"{seen:,} images"
    )
    if train is None:
        return text + "."
    if seen > train:
        return text + f"; {split}, so an epoch repeats {seen / train:.1f}x of it."
    return text + f"; {split}, so an epoch sees {seen / train:.0%} of it."


def cost_text(config: ExperimentConfig, history: list[RunTiming]) -> str:
    """The estimate for this run on the lab's workers, or why there is none yet."""
    estimate = estimate_run(config, history)
    if estimate is None and images_per_second(config, history) is None:
        return (
            f"No time estimate yet: no finished {config.architecture} run to take its speed "
            "from. After the first one, this says how long a run takes (on a CPU, 224 px "
            "costs about four times 112 px)."
        )
    if estimate is None:
        return (
            "No time estimate yet: how many images an epoch sees is known once a run on this "
            "dataset has finished (or set the steps per epoch)."
        )
    return (
        f"On this lab's workers: {duration_text(estimate.total_seconds)} "
        f"({duration_text(estimate.epoch_seconds)} an epoch x {estimate.epochs}, plus "
        f"{duration_text(estimate.overhead_seconds)} of start-up and evaluation); early "
        "stopping can end it sooner."
    )


def form_notes(database: Database, values: Mapping[str, Any]) -> None:
    """Images per epoch and the time estimate for the form as it is now."""
    try:
        config = parse_config(config_from_form(values))
    except ConfigError as error:
        field, message = named_problem(*error.problems[0])
        st.caption(f"No estimate while `{field or 'config'}` is invalid: {message}")
        return
    history = fetch_run_timings(database)
    st.caption(epoch_text(config, history) + " " + cost_text(config, history))

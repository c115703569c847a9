"""Hyper-parameters as table columns: formatting, flattening configs, what differs, seed groups.

Pure pandas, no Streamlit: the Runs and Compare pages, the charts and the tables share it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

# The key hyper-parameters a run row carries, in the order a default colouring prefers them.
KNOBS: tuple[str, ...] = (
    "optimizer",
    "batch_size",
    "epochs",
    "architecture",
    "weights",
    "freeze_backbone",
    "fine_tune.at_epoch",
    "fine_tune.layers",
    "fine_tune.learning_rate",
    "head_dropout",
    "learning_rate",
    "augmented",
    "image_size",
    "seed",
    "study",
)
# The knobs the run filters offer one multi-select each for.
FILTER_KNOBS: tuple[str, ...] = (
    "architecture",
    "optimizer",
    "learning_rate",
    "batch_size",
    "epochs",
    "image_size",
    "augmented",
    "seed",
)
# Config fields that name or schedule a run without changing what it trains.
NOT_TRAINING: frozenset[str] = frozenset({"name", "tags", "priority", "study"})
# Fields added after runs were first stored, as a config that predates them means them: an old
# run of a lab architecture trained from scratch, unfrozen, without head dropout.
ADDED_DEFAULTS: dict[str, Any] = {"freeze_backbone": False, "head_dropout": 0.0}
# Fields that do not separate "the same experiment": runs equal apart from these are repeats.
REPEAT_FIELDS: frozenset[str] = frozenset({"seed", "study"})


def is_missing(value: Any) -> bool:
    """None, NaN and NaT: a value a run does not have."""
    if value is None or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)


def format_value(value: Any) -> str:
    """A hyper-parameter's value as legends, filters and URLs show it: `0.001`, `16`, `adam`."""
    if is_missing(value):
        return "none"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        return f"{float(value):g}"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


def sort_key(value: Any) -> tuple[int, float, str]:
    """Numbers in numeric order, then text, then missing values last."""
    if is_missing(value):
        return (2, 0.0, "")
    if isinstance(value, bool | int | float | np.number):
        return (0, float(value), "")
    return (1, 0.0, format_value(value))


def sorted_values(values: Iterable[Any]) -> list[Any]:
    """Distinct values in `sort_key` order (missing values collapse into one)."""
    distinct: dict[str, Any] = {}
    for value in values:
        distinct.setdefault(format_value(value), value)
    return sorted(distinct.values(), key=sort_key)


_SCALARS = (str, int, float, type(None))  # a tuple: isinstance is quickest with one


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config -> dotted keys with hashable values (`augmentation.zoom_range`: (0.2, 0.5))."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, _SCALARS):  # most values: skip the ABC check below
            flat[name] = value
        elif isinstance(value, list | tuple):
            flat[name] = tuple(value)
        elif isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def config_of(value: Mapping[str, Any] | str | None) -> Mapping[str, Any]:
    """A run's config from a runs frame, where it may still be JSON text: the run list leaves
    it undecoded (`queries.fetch_runs`) because only the runs a page opens need it."""
    if isinstance(value, str):
        decoded = json.loads(value)
        return decoded if isinstance(decoded, Mapping) else {}
    return value or {}


def hyperparameters(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run (index: run id): every config field that changes training, plus the
    derived `augmented` flag and the study (not a knob, but worth seeing when it differs)."""
    rows = [
        {k: v for k, v in flatten(config_of(config)).items() if k not in NOT_TRAINING}
        for config in runs["config"]
    ]
    for row in rows:
        if "architecture" in row:  # a lab config (a script's run may name none of these)
            for field, default in ADDED_DEFAULTS.items():
                row.setdefault(field, default)
    frame = pd.DataFrame(rows, index=pd.Index(runs["id"].astype(int), name="id"))
    for column in ("augmented", "study"):
        if column in runs.columns:
            frame[column] = runs[column].to_numpy()
    return frame.astype(object).where(frame.notna(), None)


def _preferred_order(columns: Iterable[str]) -> list[str]:
    """Key knobs first, in KNOBS order, then every other field alphabetically."""
    rank = {knob: i for i, knob in enumerate(KNOBS)}
    return sorted(columns, key=lambda c: (rank.get(c, len(rank)), c))


def _shown_column(values: pd.Series) -> np.ndarray:
    codes, distinct = pd.factorize(values, use_na_sentinel=False)
    texts = np.array([format_value(v) for v in distinct], dtype=object)
    return texts[codes] if len(texts) else np.array([], dtype=object)


def shown(frame: pd.DataFrame) -> pd.DataFrame:
    """Every cell as `format_value` shows it (missing = "none"), formatting each distinct
    value of a column once rather than every cell."""
    return pd.DataFrame(
        {column: _shown_column(frame[column]) for column in frame.columns}, index=frame.index
    )


def differing(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> list[str]:
    """The columns that take more than one value among the rows (a missing value counts)."""
    candidates = [c for c in (columns if columns is not None else frame.columns) if c in frame]

    def varies(values: pd.Series) -> bool:
        # Distinct raw values first (hashing, no formatting), then distinct as shown.
        return len({format_value(v) for v in pd.unique(values.to_numpy(dtype=object))}) > 1

    return _preferred_order(c for c in candidates if varies(frame[c]))


def repeat_groups(frame: pd.DataFrame) -> pd.Series:
    """An integer per row; rows equal in every column but seed (and study) share it.

    These are repeats of one experiment, whose curves a band can summarise.
    """
    keys = shown(frame[[c for c in frame.columns if c not in REPEAT_FIELDS]])
    if keys.empty or not len(keys.columns):
        return pd.Series(0, index=frame.index, dtype="int64")
    # One tuple of shown cells per row: equal tuples are equal rows, numbered in order of
    # first appearance.
    rows = np.empty(len(keys), dtype=object)
    rows[:] = list(zip(*(keys[c] for c in keys.columns), strict=True))
    codes, _ = pd.factorize(rows, sort=False)
    return pd.Series(codes, index=frame.index, dtype="int64")

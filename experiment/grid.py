"""Grids: any field may take a list of values; the cartesian product becomes one study.

A grid is `grid: {field: [values...]}` (dotted names reach nested fields, e.g.
`augmentation.rotation_range`) times an optional `variants: [{...}, {...}]` list of linked
overrides (e.g. batch 16 with 70 steps vs batch 32 with 35). Every expanded config is
validated before anything is queued; one bad combination rejects the whole grid.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from experiment.config import ConfigError, ExperimentConfig, field_names, parse_config

MAX_GRID_RUNS = 500


def set_dotted(target: dict[str, Any], key: str, value: Any) -> None:
    """Set `a.b` inside nested dicts, creating the parent mapping when it is missing or null."""
    head, _, rest = key.partition(".")
    if not rest:
        target[head] = value
        return
    child = target.get(head)
    if not isinstance(child, dict):
        child = {}
        target[head] = child
    set_dotted(child, rest, value)


def _label(value: Any) -> str:
    if value is None or value is False:
        return "off"
    if value is True:
        return "on"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_label(v) for v in value) + "]"
    return str(value)


def name_parts(key: str, value: Any) -> list[str]:
    """How a grid value reads in a run's name: `optimizer=sgd`, `augmentation=off` for an
    empty (or null) section, `augmentation.horizontal_flip=on` for what a section sets."""
    if isinstance(value, Mapping):
        if not value:
            return [f"{key}=off"]
        return [part for k, v in value.items() for part in name_parts(f"{key}.{k}", v)]
    return [f"{key}={_label(value)}"]


def _check_grid(grid: Any, variants: Any) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    known = set(field_names()) | {name.split(".")[0] for name in field_names()}
    if not isinstance(grid, Mapping):
        return [("grid", "must map field names to lists of values")]
    for key, values in grid.items():
        if not isinstance(key, str) or key not in known or key == "name":
            problems.append((f"grid.{key}", "unknown field (or one a grid cannot vary)"))
        elif not isinstance(values, list) or not values:
            problems.append((f"grid.{key}", "must be a non-empty list of values"))
    if not isinstance(variants, list) or not all(isinstance(v, Mapping) for v in variants):
        problems.append(("variants", "must be a list of mappings of field values"))
        return problems
    for variant in variants:
        problems.extend(
            (f"variants.{key}", "unknown field (or one a variant cannot set)")
            for key in variant
            if not isinstance(key, str) or key not in known or key == "name"
        )
    return problems


def expand(
    base: Mapping[str, Any],
    grid: Mapping[str, Sequence[Any]] | None = None,
    variants: Sequence[Mapping[str, Any]] | None = None,
    *,
    source: str | None = None,
) -> list[ExperimentConfig]:
    """Validate every combination of `base` x `grid` x `variants`; all or nothing.

    Expanded runs are named `base name [field=value, ...]` and share the study name (the
    base's `study`, else its `name`), so the Compare page can open them together.
    """
    grid = {} if grid is None else grid
    variants = (
        [{}] if variants is None or (isinstance(variants, list) and not variants) else variants
    )
    problems = _check_grid(grid, variants)
    if problems:
        raise ConfigError(problems, source=source)
    assert isinstance(variants, list)
    count = len(variants)
    for values in grid.values():
        count *= len(values)
    if count > MAX_GRID_RUNS:
        raise ConfigError(
            [("grid", f"expands to {count} runs; the limit is {MAX_GRID_RUNS}")], source=source
        )
    keys = list(grid)
    configs: list[ExperimentConfig] = []
    all_problems: list[tuple[str, str]] = []
    single = count == 1
    for combo in itertools.product(*(grid[key] for key in keys)):
        for variant in variants:
            data = copy.deepcopy(dict(base))
            labels = []
            for key, value in [*zip(keys, combo, strict=True), *variant.items()]:
                set_dotted(data, key, copy.deepcopy(value))
                labels.extend(name_parts(key, value))
            if not single:
                data.setdefault("study", base.get("name"))
                data["name"] = f"{base.get('name', 'run')} [{', '.join(labels)}]"
            try:
                configs.append(parse_config(data))
            except ConfigError as error:
                prefix = f"[{', '.join(labels)}] " if labels else ""
                all_problems.extend((f, prefix + m) for f, m in error.problems)
    if all_problems:
        unique = list(dict.fromkeys(all_problems))
        raise ConfigError(unique, source=source)
    return configs

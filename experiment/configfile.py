"""Config files: YAML (safe_load only), one config or a list, each with an optional grid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from experiment.config import ConfigError, ExperimentConfig
from experiment.grid import expand

MAX_CONFIG_BYTES = 1_000_000


def parse_yaml(text: str, *, source: str = "config") -> list[ExperimentConfig]:
    """Parse YAML text into validated configs; a syntax error names its line and column."""
    try:
        document = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown line"
        problem = error.problem or "invalid YAML"
        context = error.context_mark
        if context is not None and mark is not None and context.line != mark.line:
            problem += f" ({error.context or 'opened'} at line {context.line + 1})"
        raise ConfigError(
            [("", f"YAML syntax error at {where}: {problem}")], source=source
        ) from None
    except yaml.YAMLError as error:
        raise ConfigError([("", f"YAML error: {error}")], source=source) from None
    items = document if isinstance(document, list) else [document]
    if not items or document is None:
        raise ConfigError([("", "the file holds no config")], source=source)
    configs: list[ExperimentConfig] = []
    for position, item in enumerate(items, start=1):
        where = source if len(items) == 1 else f"{source} (item {position})"
        configs.extend(_expand_item(item, where))
    return configs


def _expand_item(item: Any, source: str) -> list[ExperimentConfig]:
    if not isinstance(item, dict):
        raise ConfigError(
            [("", f"expected a mapping of fields, got {type(item).__name__}")], source=source
        )
    base = dict(item)
    grid = base.pop("grid", None)
    variants = base.pop("variants", None)
    return expand(base, grid, variants, source=source)


def load_config_file(path: Path) -> list[ExperimentConfig]:
    """Read and validate a YAML config file."""
    try:
        size = path.stat().st_size
    except OSError as error:
        raise ConfigError([("", f"cannot read {path}: {error.strerror}")]) from None
    if size > MAX_CONFIG_BYTES:
        raise ConfigError([("", f"{path} is {size} bytes; config files are limited to 1 MB")])
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError([("", f"{path} is not UTF-8 text")]) from None
    return parse_yaml(text, source=str(path))

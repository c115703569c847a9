"""Config files: YAML (safe_load only), one config or a list, each with an optional grid; or
one config with a `search:` section (experiment/search_space.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from experiment.config import ConfigError, ExperimentConfig
from experiment.grid import expand
from experiment.search_space import SearchSpec, is_search, parse_search

MAX_CONFIG_BYTES = 1_000_000


def read_document(text: str, *, source: str = "config") -> Any:
    """Parse YAML text (safe_load); a syntax error names its line and column."""
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
    return document


def parse_yaml(text: str, *, source: str = "config") -> list[ExperimentConfig]:
    """Parse YAML text into validated configs (grids expanded); a search is refused here."""
    document = read_document(text, source=source)
    if is_search(document):
        raise ConfigError(
            [("search", "this file is a search: queue it with `python -m trainer queue FILE`")],
            source=source,
        )
    return _configs(document, source)


def parse_queue_yaml(text: str, *, source: str = "config") -> list[ExperimentConfig] | SearchSpec:
    """Parse YAML text into the configs to queue, or the search it defines."""
    document = read_document(text, source=source)
    if is_search(document):
        return parse_search(document, source=source)
    return _configs(document, source)


def _configs(document: Any, source: str) -> list[ExperimentConfig]:
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
    return parse_yaml(_read_text(path), source=str(path))


def load_queue_file(path: Path) -> list[ExperimentConfig] | SearchSpec:
    """Read and validate a YAML file of configs or of a search."""
    return parse_queue_yaml(_read_text(path), source=str(path))


def _read_text(path: Path) -> str:
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
    return text

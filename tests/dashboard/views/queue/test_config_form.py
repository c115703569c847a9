"""The Queue form's flat widget values round-trip to configs; the grid text parses."""

from __future__ import annotations

import pytest

from dashboard.views.queue.config_form import (
    config_from_form,
    default_config,
    expand_grid,
    form_defaults,
    grid_table,
    parse_grid_text,
)
from experiment.config import ConfigError, ExperimentConfig, parse_config
from experiment.presets import REPORT_BEST


def test_form_covers_every_config_field() -> None:
    """The form produces a value for every ExperimentConfig field."""
    config = config_from_form(form_defaults(default_config("var/data/x")))
    assert set(config) == set(ExperimentConfig.model_fields)


def test_defaults_are_the_reports_best_setting() -> None:
    """Submitting the untouched form gives REPORT_BEST on the given dataset."""
    config = parse_config(config_from_form(form_defaults(default_config("var/data/x"))))
    assert config == parse_config({**REPORT_BEST, "dataset": "var/data/x"})


def test_float_fields_get_float_widgets() -> None:
    """Float fields hold floats even when their default is a whole number."""
    values = form_defaults(default_config("d"))
    assert isinstance(values["augmentation.rotation_range"], float)
    assert isinstance(values["reduce_lr.min_lr"], float)
    assert isinstance(values["epochs"], int)


def test_switched_off_parts_become_none() -> None:
    """Unticked ranges and callbacks are None; 0 steps mean auto; blank study is None."""
    values = form_defaults(default_config("d"))
    values.update(
        {
            "augmentation.zoom_range.on": False,
            "early_stopping.on": False,
            "steps_per_epoch": 0,
            "study": "  ",
            "tags": "a, ,b",
        }
    )
    config = config_from_form(values)
    assert config["augmentation"]["zoom_range"] is None
    assert config["early_stopping"] is None
    assert config["steps_per_epoch"] is None
    assert config["study"] is None
    assert config["tags"] == ["a", "b"]


def test_grid_text_lists_become_axes() -> None:
    """`field: [a, b]` lines become grid axes; `variants:` is kept apart."""
    grid, variants = parse_grid_text(
        "optimizer: [sgd, adam]\nvariants:\n  - {batch_size: 16}\n  - {batch_size: 32}"
    )
    assert grid == {"optimizer": ["sgd", "adam"]}
    assert variants == [{"batch_size": 16}, {"batch_size": 32}]


def test_grid_yaml_error_names_the_line() -> None:
    """Broken YAML is a ConfigError on `grid` that says where."""
    with pytest.raises(ConfigError) as caught:
        parse_grid_text("optimizer: [sgd, adam\nbatch_size: [1]")
    field, message = caught.value.problems[0]
    assert field == "grid" and "line" in message


def test_grid_expands_over_the_form_config() -> None:
    """Two optimizers times two batch sizes are four configs named after their values."""
    configs = expand_grid(default_config("d"), "optimizer: [sgd, adam]\nbatch_size: [16, 32]")
    assert len(configs) == 4
    assert configs[0].name == "report-best [optimizer=sgd, batch_size=16]"
    table = grid_table(
        [c.to_json() for c in configs], "optimizer: [sgd, adam]\nbatch_size: [16, 32]"
    )
    assert list(table.columns) == ["name", "optimizer", "batch_size"]

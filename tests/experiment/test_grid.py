"""Grids and YAML files: expansion, naming, validation of every combination."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiment.config import ConfigError
from experiment.configfile import load_config_file, parse_yaml
from experiment.grid import MAX_GRID_RUNS, expand
from experiment.presets import report_study


def test_grid_is_the_cartesian_product() -> None:
    """Two lists of 4 and 2 values give 8 configs sharing the study name."""
    configs = expand(
        {"name": "opt"}, {"optimizer": ["sgd", "adam", "adamax", "rmsprop"], "batch_size": [16, 32]}
    )
    assert len(configs) == 8
    assert {c.study for c in configs} == {"opt"}
    assert len({c.name for c in configs}) == 8
    assert {(c.optimizer, c.batch_size) for c in configs} == {
        (o, b) for o in ("sgd", "adam", "adamax", "rmsprop") for b in (16, 32)
    }


def test_variants_link_values() -> None:
    """Variants keep batch 16 with 70 steps and batch 32 with 35 steps together."""
    configs = expand(
        {"name": "b"},
        None,
        [{"batch_size": 16, "steps_per_epoch": 70}, {"batch_size": 32, "steps_per_epoch": 35}],
    )
    assert [(c.batch_size, c.steps_per_epoch) for c in configs] == [(16, 70), (32, 35)]


def test_dotted_keys_set_nested_fields() -> None:
    """augmentation.rotation_range in a grid sets the nested field."""
    configs = expand({"name": "r"}, {"augmentation.rotation_range": [0, 5]})
    assert [c.augmentation.rotation_range for c in configs] == [0, 5]


def test_one_bad_combination_rejects_the_grid() -> None:
    """An invalid value anywhere in the grid is reported and nothing is returned."""
    with pytest.raises(ConfigError) as info:
        expand({"name": "x"}, {"batch_size": [16, 0]})
    assert any(field == "batch_size" for field, _ in info.value.problems)


def test_unknown_grid_field_is_named() -> None:
    """A grid over a field that does not exist names it."""
    with pytest.raises(ConfigError, match=r"grid\.batchsize"):
        expand({"name": "x"}, {"batchsize": [1, 2]})


def test_huge_grid_is_refused_before_expansion() -> None:
    """A grid beyond the limit is refused with its size."""
    with pytest.raises(ConfigError, match=str(MAX_GRID_RUNS)):
        expand({"name": "x"}, {"seed": list(range(100)), "batch_size": list(range(1, 11))})


def test_yaml_with_grid_expands() -> None:
    """A YAML file's grid section expands into runs."""
    text = "name: opt\nepochs: 2\ngrid:\n  optimizer: [sgd, adam]\n"
    assert [c.optimizer for c in parse_yaml(text)] == ["sgd", "adam"]


def test_yaml_syntax_error_names_the_line() -> None:
    """A YAML syntax error says its line."""
    with pytest.raises(ConfigError, match="line 2, column 9"):
        parse_yaml("name: x\n  epochs: 2\n")


def test_unclosed_bracket_names_where_it_opened() -> None:
    """An unclosed flow list points back at the line that opened it."""
    with pytest.raises(ConfigError, match="at line 3"):
        parse_yaml("name: x\nepochs: 2\nbatch_size: [16\n")


def test_yaml_list_of_configs() -> None:
    """A YAML list queues each item."""
    assert len(parse_yaml("- name: a\n- name: b\n")) == 2


def test_yaml_refuses_python_tags() -> None:
    """safe_load only: a python object tag is an error, not code."""
    with pytest.raises(ConfigError):
        parse_yaml("name: !!python/object/apply:os.system ['echo hi']\n")


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    """A file that does not exist is reported, not raised as OSError."""
    with pytest.raises(ConfigError, match="cannot read"):
        load_config_file(tmp_path / "nope.yaml")


def test_grid_names_read_well() -> None:
    """Sections read as off or as the dotted fields they set; booleans as on/off."""
    configs = expand(
        {"name": "g"},
        {
            "augmentation": [{}, {"horizontal_flip": True, "rotation_range": 5}],
            "deterministic": [False],
        },
    )
    assert [c.name for c in configs] == [
        "g [augmentation=off, deterministic=off]",
        "g [augmentation.horizontal_flip=on, augmentation.rotation_range=5, deterministic=off]",
    ]
    names = [c.name for c in report_study(image_size=112, epochs_scale=0.2)]
    assert "report [augmentation=off]" in names

"""The experiment config: defaults, validation messages naming fields, JSON round-trip."""

from __future__ import annotations

import pytest

from experiment.config import ConfigError, ExperimentConfig, field_names, parse_config


def _problems(data: dict) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    return dict(info.value.problems)


def test_defaults_follow_the_report() -> None:
    """A name alone gives the report's 224 px, report CNN, Adam 0.001, batch 16, 50 epochs."""
    config = parse_config({"name": "x"})
    assert (config.image_size, config.architecture, config.optimizer) == (224, "report_cnn", "adam")
    assert (config.learning_rate, config.batch_size, config.epochs) == (0.001, 16, 50)
    assert config.steps_per_epoch is None and config.validation_split == 0.2
    assert not config.augmentation.enabled


def test_json_round_trip_is_exact() -> None:
    """to_json then parse_config gives an equal config."""
    config = parse_config(
        {"name": "x", "augmentation": {"zoom_range": [0.2, 0.5]}, "early_stopping": {}}
    )
    assert parse_config(config.to_json()) == config


def test_unknown_keys_are_named() -> None:
    """An unknown key, top-level or nested, is refused by name."""
    problems = _problems({"name": "x", "batchsize": 4, "augmentation": {"flip": True}})
    assert "unknown field" in problems["batchsize"]
    assert "unknown field" in problems["augmentation.flip"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("batch_size", 0),
        ("learning_rate", 0),
        ("epochs", 0),
        ("image_size", 8),
        ("validation_split", 1.0),
        ("optimizer", "adagrad"),
        ("architecture", "vgg"),
        ("seed", -1),
        ("steps_per_epoch", 0),
        ("batch_size", "sixteen"),
    ],
)
def test_out_of_range_values_name_the_field(field: str, value: object) -> None:
    """Each bad value is reported against its own field."""
    assert field in _problems({"name": "x", field: value})


def test_reversed_zoom_range_is_refused() -> None:
    """A [low, high] range with low > high names the field."""
    problems = _problems({"name": "x", "augmentation": {"zoom_range": [0.5, 0.2]}})
    assert "low <= high" in problems["augmentation.zoom_range"]


def test_image_size_below_the_architecture_minimum_is_refused() -> None:
    """report_cnn cannot take 32 px images; the message says the minimum."""
    with pytest.raises(ConfigError, match="at least 106"):
        parse_config({"name": "x", "image_size": 32})


def test_missing_name_is_required() -> None:
    """The name is required."""
    assert _problems({})["name"] == "is required"


def test_a_non_mapping_is_refused() -> None:
    """A list or a string is not a config."""
    with pytest.raises(ConfigError, match="mapping"):
        parse_config(["name", "x"])


def test_tags_are_stripped_and_deduplicated() -> None:
    """Tags lose blanks and repeats."""
    assert parse_config({"name": "x", "tags": [" a", "a", "", "b"]}).tags == ("a", "b")


def test_new_run_carries_the_key_knobs() -> None:
    """to_new_run copies the filterable knobs and flags augmentation."""
    config = parse_config({"name": "x", "augmentation": {"horizontal_flip": True}, "priority": 3})
    new = config.to_new_run()
    assert (new.optimizer, new.batch_size, new.augmented, new.priority) == ("adam", 16, True, 3)
    assert new.config == config.to_json()


def test_field_names_reach_nested_fields() -> None:
    """Dotted names cover nested sections for grids and forms."""
    names = field_names()
    assert "augmentation.zoom_range" in names and "early_stopping.patience" in names
    assert set(ExperimentConfig.model_fields) - {
        "augmentation",
        "early_stopping",
        "reduce_lr",
        "min_accuracy",
        "fine_tune",
    } <= set(names)
    assert "fine_tune.at_epoch" in names

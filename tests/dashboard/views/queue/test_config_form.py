"""The Queue form's flat widget values round-trip to configs; the grid text parses."""

from __future__ import annotations

import pytest

from dashboard.views.queue.config_form import (
    FIELD_HELP,
    config_from_form,
    default_config,
    expand_grid,
    form_defaults,
    named_problem,
    parse_grid_text,
    preview_table,
)
from experiment.config import ConfigError, ExperimentConfig, parse_config
from experiment.presets import CPU_START, REPORT_BEST, report_study


def test_form_covers_every_config_field() -> None:
    """The form produces a value for every ExperimentConfig field."""
    config = config_from_form(form_defaults(default_config("var/data/x")))
    assert set(config) == set(ExperimentConfig.model_fields)


def test_defaults_are_the_cpu_start_and_the_report_one_preset_away() -> None:
    """The untouched form gives CPU_START (the report's setting at 112 px, 10 epochs); the
    report preset gives REPORT_BEST, both on the given dataset."""
    config = parse_config(config_from_form(form_defaults(default_config("var/data/x"))))
    assert config == parse_config({**CPU_START, "dataset": "var/data/x"})
    assert (config.image_size, config.epochs, config.optimizer) == (112, 10, "adam")
    report = default_config("var/data/x", REPORT_BEST)
    assert parse_config(config_from_form(form_defaults(report))) == parse_config(
        {**REPORT_BEST, "dataset": "var/data/x"}
    )


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
    assert configs[0].name == "quick-start [optimizer=sgd, batch_size=16]"
    table = preview_table([c.to_json() for c in configs])
    assert list(table.columns) == ["name", "optimizer", "batch_size"]


def test_preview_table_shows_what_differs_in_the_report_study() -> None:
    """The report's study: names plus the fields its comparisons vary, "none" for off."""
    table = preview_table([c.to_json() for c in report_study(image_size=112)])
    assert {"epochs", "batch_size", "steps_per_epoch", "optimizer", "architecture"} <= set(
        table.columns
    )
    assert "augmentation.zoom_range" in table.columns and "image_size" not in table.columns
    off = table.set_index("name").loc["report [augmentation=off]"]
    assert off["augmentation.zoom_range"] == "none"


def test_every_field_has_help() -> None:
    """Each widget of the form has a help text; image size names the report CNN's 106 px."""
    keys = form_defaults(default_config("d"))
    assert set(keys) - set(FIELD_HELP) == set()
    assert "report_cnn 106 px" in FIELD_HELP["image_size"]


def _backbone_values(**changes: object) -> dict:
    values = form_defaults(default_config("d"))
    values.update({"architecture": "mobilenet_v2", "image_size": 96, **changes})
    return values


def test_backbone_fields_reach_the_config() -> None:
    """Weights, freezing, head dropout and fine-tuning typed in the form parse into the config."""
    values = _backbone_values(
        weights=" imagenet ",
        freeze_backbone=True,
        head_dropout=0.2,
        **{
            "fine_tune.on": True,
            "fine_tune.at_epoch": 4,
            "fine_tune.layers": "20",
            "fine_tune.learning_rate": 1e-5,
        },
    )
    config = parse_config(config_from_form(values))
    assert (config.architecture, config.weights, config.freeze_backbone) == (
        "mobilenet_v2",
        "imagenet",
        True,
    )
    assert config.head_dropout == 0.2
    assert config.fine_tune is not None
    assert (config.fine_tune.at_epoch, config.fine_tune.layers) == (4, 20)


def test_a_backbone_config_round_trips_through_the_form() -> None:
    """A cloned backbone config (fine-tuning all layers) gives the same config back."""
    original = parse_config(
        {
            "name": "x",
            "architecture": "efficientnet_b0",
            "weights": "imagenet",
            "freeze_backbone": True,
            "fine_tune": {"at_epoch": 3, "layers": "all", "learning_rate": 2e-5},
            "head_dropout": 0.3,
            "epochs": 6,
        }
    )
    values = form_defaults(original.to_json())
    assert values["fine_tune.on"] and values["fine_tune.layers"] == "all"
    assert parse_config(config_from_form(values)) == original


def test_a_builder_of_your_own_round_trips_and_its_text_wins() -> None:
    """`package.module:function` in the text field replaces the select; params are JSON."""
    original = parse_config(
        {"name": "x", "architecture": "mylab.nets:build", "architecture_params": {"width": 8}}
    )
    values = form_defaults(original.to_json())
    assert values["architecture.own"] == "mylab.nets:build"
    assert parse_config(config_from_form(values)) == original
    values["architecture.own"] = "  "
    assert config_from_form(values)["architecture"] == values["architecture"]


@pytest.mark.parametrize(
    ("text", "words"),
    [('{"width": 8', "not JSON"), ("[1, 2]", "got a JSON list"), ("{'a': 1}", "not JSON")],
)
def test_bad_architecture_params_text_names_the_field(text: str, words: str) -> None:
    """Text that is not a JSON object is a ConfigError on architecture_params with an example."""
    values = form_defaults(default_config("d"))
    values["architecture_params"] = text
    with pytest.raises(ConfigError) as caught:
        config_from_form(values)
    [(field, message)] = caught.value.problems
    assert field == "architecture_params" and words in message and '{"width": 64' in message


def test_fine_tune_layers_must_be_all_or_a_number() -> None:
    """`layers` typed as neither all nor a number names fine_tune.layers."""
    values = _backbone_values(**{"fine_tune.on": True, "fine_tune.layers": "half"})
    with pytest.raises(ConfigError) as caught:
        config_from_form(values)
    assert caught.value.problems[0][0] == "fine_tune.layers"


def test_the_minimum_image_size_of_a_backbone_names_image_size() -> None:
    """inception_v3 at 64 px: the problem names image_size and the 75 px it needs."""
    values = _backbone_values(architecture="inception_v3", image_size=64)
    with pytest.raises(ConfigError) as caught:
        parse_config(config_from_form(values))
    field, message = named_problem(*caught.value.problems[0])
    assert field == "image_size" and "needs at least 75 px" in message


def test_named_problem_leaves_field_problems_alone() -> None:
    """A problem that already names its field keeps its message whole."""
    assert named_problem("weights", "x: y") == ("weights", "x: y")
    assert named_problem("", "no field here") == ("", "no field here")
    assert named_problem("", "freeze_backbone: only backbones") == (
        "freeze_backbone",
        "only backbones",
    )


def test_every_built_in_architecture_is_a_choice() -> None:
    """The architecture select offers every built-in name; help says where to list them."""
    from dashboard.views.queue.config_form import _choices
    from experiment.architectures import BUILT_IN

    assert set(_choices("architecture") or ()) == set(BUILT_IN)
    assert "python -m trainer models" in FIELD_HELP["architecture"]

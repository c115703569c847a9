"""Hyper-parameters as columns: formatting, flattened configs, differences, repeats."""

from __future__ import annotations

import json

import pandas as pd

from dashboard.knobs import (
    config_of,
    differing,
    flatten,
    format_value,
    hyperparameters,
    repeat_groups,
)
from experiment.config import parse_config


def _runs(*configs: dict) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": range(1, len(configs) + 1),
            "config": list(configs),
            "augmented": [True] * len(configs),
            "study": ["s"] * len(configs),
        }
    )


def test_format_value_shows_values_as_legends_do() -> None:
    """Floats compact, booleans yes/no, missing none, lists bracketed."""
    assert [format_value(v) for v in (0.001, True, None, float("nan"), (0.2, 0.5), 16)] == [
        "0.001", "yes", "none", "none", "[0.2, 0.5]", "16",
    ]  # fmt: skip


def test_flatten_dots_nested_keys_and_freezes_lists() -> None:
    """Nested dicts become dotted keys; lists become tuples (hashable)."""
    assert flatten({"a": 1, "aug": {"zoom": [0.2, 0.5], "flip": True}}) == {
        "a": 1,
        "aug.zoom": (0.2, 0.5),
        "aug.flip": True,
    }


def test_hyperparameters_drop_fields_that_do_not_change_training() -> None:
    """name, tags and priority are left out; augmented and study are added."""
    frame = hyperparameters(_runs({"name": "x", "tags": ["t"], "priority": 3, "optimizer": "sgd"}))
    assert sorted(frame.columns) == ["augmented", "optimizer", "study"]
    assert frame.index.tolist() == [1]


def test_differing_finds_nested_fields_and_puts_key_knobs_first() -> None:
    """A nested field that differs is found; key knobs lead, in their usual order."""
    frame = hyperparameters(
        _runs(
            {"optimizer": "sgd", "early_stopping": {"patience": 4}, "seed": 0},
            {"optimizer": "adam", "early_stopping": {"patience": 6}, "seed": 0},
        )
    )
    assert differing(frame) == ["optimizer", "early_stopping.patience"]


def test_differing_counts_a_missing_value_as_a_value() -> None:
    """A field one run lacks (None) differs from one that has it."""
    frame = hyperparameters(_runs({"reduce_lr": None}, {"reduce_lr": {"factor": 0.1}}))
    assert differing(frame) == ["reduce_lr.factor"]


def test_repeat_groups_join_runs_that_differ_only_in_seed() -> None:
    """Same settings with seeds 0 and 1 share a group; another optimizer does not."""
    frame = hyperparameters(
        _runs(
            {"optimizer": "sgd", "seed": 0},
            {"optimizer": "sgd", "seed": 1},
            {"optimizer": "adam", "seed": 0},
        )
    )
    groups = repeat_groups(frame).tolist()
    assert groups[0] == groups[1] != groups[2]


def test_configs_left_as_json_text_read_like_decoded_ones() -> None:
    """The run list leaves configs as JSON text on SQLite; every reader decodes it alike."""
    config = {"optimizer": "sgd", "augmentation": {"zoom_range": [0.2, 0.5]}}
    decoded = hyperparameters(_runs(config))
    as_text = hyperparameters(_runs(json.dumps(config)))  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(decoded, as_text)
    assert config_of(None) == {} and config_of(json.dumps(config)) == config


def test_repeat_groups_do_not_merge_rows_whose_joined_text_matches() -> None:
    """Rows are compared cell by cell, not as one joined string."""
    frame = pd.DataFrame({"a": ["x\x1f", "x"], "b": ["y", "\x1fy"], "seed": [0, 1]})
    assert repeat_groups(frame).tolist() == [0, 1]


def test_backbone_knobs_are_knobs_and_old_configs_read_as_their_defaults() -> None:
    """A config from before freeze_backbone and head_dropout existed reads as False and 0, so
    only real differences show; weights, freezing and fine-tuning rank right after the
    architecture, as the colour and dash pickers offer them."""
    new = parse_config({"name": "n", "optimizer": "adam"}).to_json()
    added = ("architecture_params", "weights", "freeze_backbone", "fine_tune", "head_dropout")
    old = {key: value for key, value in new.items() if key not in added}
    frame = hyperparameters(_runs(old, new))
    assert differing(frame) == []
    tuned = parse_config(
        {
            "name": "t",
            "architecture": "mobilenet_v2",
            "weights": "imagenet",
            "freeze_backbone": True,
            "fine_tune": {"at_epoch": 3},
            "epochs": 5,
        }
    ).to_json()
    frame = hyperparameters(_runs(old, new, tuned))
    assert differing(frame)[:6] == [
        "epochs",
        "architecture",
        "weights",
        "freeze_backbone",
        "fine_tune.at_epoch",
        "fine_tune.layers",
    ]
    assert frame["fine_tune.at_epoch"].tolist() == [None, None, 3]


def test_a_scripts_run_without_an_architecture_gets_no_backbone_defaults() -> None:
    """A config naming no architecture (an imported script's run) is left as it is."""
    frame = hyperparameters(_runs({"optimizer": "adam"}))
    assert "freeze_backbone" not in frame.columns

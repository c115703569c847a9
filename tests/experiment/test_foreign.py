"""Configs the lab did not write: which keys become knobs, and when the form can clone them."""

from __future__ import annotations

from experiment.foreign import clone_fields, knob_values


def test_knobs_are_the_valid_fields_a_config_names() -> None:
    """HParams-style values validate into knobs (32.0 -> 32); invalid and unknown keys don't."""
    config = {"learning_rate": 0.01, "batch_size": 32.0, "optimizer": "lion", "note": "x"}
    assert knob_values(config) == {"learning_rate": 0.01, "batch_size": 32}


def test_a_config_clones_only_when_all_our_fields_in_it_are_valid() -> None:
    """Clone fills the form with the fields it names; bad values or none at all refuse."""
    assert clone_fields({"learning_rate": 0.01, "epochs": 3, "note": "x"}) == {
        "learning_rate": 0.01,
        "epochs": 3,
    }
    assert clone_fields({"learning_rate": -1.0}) is None
    assert clone_fields({"lr": 0.01, "note": "x"}) is None

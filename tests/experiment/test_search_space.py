"""The `search:` section: what it accepts, its defaults, and errors that name the field."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from experiment.config import ConfigError
from experiment.configfile import parse_queue_yaml, parse_yaml
from experiment.search_space import Param, SearchSpec, parse_search

ISSUE_EXAMPLE = """
name: lr-search
dataset: var/data/weather-sample
image_size: 112
epochs: 10
search:
  objective: {metric: val_accuracy, direction: maximize}  # any recorded per-epoch metric
  budget: 24          # runs in all
  parallel: 4         # at most this many queued or running at once
  sampler: tpe        # tpe | random | grid (grid: the space must be all lists)
  pruner: {kind: median, warmup_epochs: 2}   # median | hyperband | none
  seed: 0
  space:
    learning_rate: {low: 1.0e-4, high: 1.0e-1, log: true}
    optimizer: [sgd, adam, adamax, rmsprop]
    batch_size: [16, 32]
    augmentation.rotation_range: {low: 0, high: 30}
"""


def _document(**search: Any) -> dict[str, Any]:
    document = yaml.safe_load(ISSUE_EXAMPLE)
    document["search"].update(search)
    return document


def _problems(document: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as raised:
        parse_search(document)
    return dict(raised.value.problems)


def test_the_issue_example_parses() -> None:
    """The issue's YAML gives a TPE search of 24 runs, 4 at once, over four fields."""
    spec = parse_queue_yaml(ISSUE_EXAMPLE)
    assert isinstance(spec, SearchSpec)
    assert (spec.name, spec.budget, spec.parallel, spec.seed) == ("lr-search", 24, 4, 0)
    assert (spec.objective.metric, spec.objective.direction) == ("val_accuracy", "maximize")
    assert spec.sampler.kind == "tpe" and spec.pruner.kind == "median"
    assert spec.pruner.warmup_epochs == 2 and spec.max_epochs == 10
    assert spec.params == (
        Param("learning_rate", "float", 1e-4, 1e-1, log=True),
        Param("optimizer", "choice", choices=("sgd", "adam", "adamax", "rmsprop")),
        Param("batch_size", "choice", choices=(16, 32)),
        Param("augmentation.rotation_range", "float", 0.0, 30.0),
    )


def test_the_spec_survives_its_json_round_trip() -> None:
    """What the searches table stores reads back as the same spec."""
    spec = parse_search(_document(sampler={"kind": "tpe", "startup_trials": 4}))
    assert SearchSpec.from_json(copy.deepcopy(spec.to_json())) == spec


def test_a_trial_config_sets_nested_fields_and_names_the_values() -> None:
    """A trial's config is the base with the values set, in the search's study."""
    spec = parse_search(_document())
    values = {
        "learning_rate": 0.003,
        "optimizer": "adam",
        "batch_size": 32,
        "augmentation.rotation_range": 12.5,
    }
    config = spec.trial_config(values, 7)
    assert config.study == "lr-search" and config.image_size == 112
    assert config.augmentation.rotation_range == 12.5 and config.learning_rate == 0.003
    assert config.name == (
        "lr-search #7 [learning_rate=0.003, optimizer=adam, batch_size=32, "
        "augmentation.rotation_range=12.5]"
    )


def test_an_int_field_gets_an_int_range_and_a_step() -> None:
    """A range over an int field samples ints, with its step; shorthand sampler/pruner strings."""
    spec = parse_search(
        _document(
            space={"epochs": {"low": 4, "high": 10, "step": 2}, "optimizer": ["sgd", "adam"]},
            sampler="random",
            pruner="hyperband",
        )
    )
    assert spec.params[0] == Param("epochs", "int", 4, 10, step=2)
    assert spec.max_epochs == 10 and spec.distinct_points() == 8
    assert (spec.sampler.kind, spec.pruner.kind) == ("random", "hyperband")


def test_defaults_when_only_budget_and_space_are_given() -> None:
    """Objective val_accuracy up, 1 at a time, TPE, no pruning, seed 0."""
    spec = parse_search(
        {"name": "s", "search": {"budget": 9, "space": {"learning_rate": [0.1, 0.01]}}}
    )
    assert (spec.objective.metric, spec.objective.direction) == ("val_accuracy", "maximize")
    assert (spec.parallel, spec.sampler.kind, spec.pruner.kind, spec.seed) == (1, "tpe", "none", 0)
    assert spec.sampler.startup_trials == 3  # a third of the budget


@pytest.mark.parametrize(
    ("metric", "direction"),
    [("val_loss", "minimize"), ("accuracy", "maximize"), ("epoch_seconds", "minimize")],
)
def test_the_direction_is_inferred_from_the_metric_name(metric: str, direction: str) -> None:
    """Losses go down and accuracies up without saying so."""
    spec = parse_search(_document(objective={"metric": metric}))
    assert spec.objective.direction == direction


def test_any_metric_name_is_accepted_with_a_direction() -> None:
    """A metric the lab does not record yet is accepted (the dry run warns about it)."""
    spec = parse_search(_document(objective={"metric": "val_top3", "direction": "maximize"}))
    assert spec.objective.metric == "val_top3"


def test_a_small_finite_space_warns_that_trials_will_reuse_results() -> None:
    """Fewer distinct configs than the budget is allowed, with a warning."""
    spec = parse_search(_document(space={"optimizer": ["sgd", "adam"]}, budget=5))
    assert spec.distinct_points() == 2 and "reuse" in spec.warnings[0]


SPACE_ERRORS: dict[str, tuple[dict[str, Any], str, str]] = {
    "low above high": (
        {"space": {"learning_rate": {"low": 0.1, "high": 0.01}}},
        "search.space.learning_rate.low",
        "less than high",
    ),
    "log from zero": (
        {"space": {"learning_rate": {"low": 0, "high": 0.1, "log": True}}},
        "search.space.learning_rate.low",
        "above 0",
    ),
    "high beyond the field's limit": (
        {"space": {"learning_rate": {"low": 0.1, "high": 20}}},
        "search.space.learning_rate.high",
        "less than or equal to 10",
    ),
    "unknown field": (
        {"space": {"learnin_rate": [0.1]}},
        "search.space.learnin_rate",
        "unknown field",
    ),
    "range over a non-number": (
        {"space": {"optimizer": {"low": 0, "high": 1}}},
        "search.space.optimizer",
        "list of values",
    ),
    "bad choice": (
        {"space": {"optimizer": ["adam", "adamw"]}},
        "search.space.optimizer[1]",
        "optimizer",
    ),
    "fraction for an int": (
        {"space": {"batch_size": {"low": 8.5, "high": 32}}},
        "search.space.batch_size.low",
        "whole number",
    ),
    "step not dividing the range": (
        {"space": {"batch_size": {"low": 8, "high": 30, "step": 8}}},
        "search.space.batch_size.step",
        "multiple",
    ),
    "step with log": (
        {"space": {"learning_rate": {"low": 0.01, "high": 0.1, "log": True, "step": 0.01}}},
        "search.space.learning_rate.step",
        "log",
    ),
    "unknown range key": (
        {"space": {"learning_rate": {"low": 0.01, "high": 0.1, "logg": True}}},
        "search.space.learning_rate.logg",
        "unknown key",
    ),
    "a field that trains nothing different": (
        {"space": {"name": ["a", "b"]}},
        "search.space.name",
        "cannot be searched",
    ),
    "repeated choice": (
        {"space": {"batch_size": [16, 16]}},
        "search.space.batch_size",
        "twice",
    ),
    "empty space": ({"space": {}}, "search.space", "at least one field"),
    "missing budget": ({"budget": None}, "search.budget", "required"),
    "zero parallel": ({"parallel": 0}, "search.parallel", "from 1"),
    "unknown sampler": ({"sampler": "cmaes"}, "search.sampler", "tpe | random | grid"),
    "unknown pruner option": (
        {"pruner": {"kind": "median", "reduction_factor": 3}},
        "search.pruner.reduction_factor",
        "median",
    ),
    "warm-up as long as the run": (
        {"pruner": {"kind": "median", "warmup_epochs": 10}},
        "search.pruner.warmup_epochs",
        "less than epochs (10)",
    ),
    "direction unknown": (
        {"objective": {"metric": "val_top3"}},
        "search.objective.direction",
        "maximize or minimize",
    ),
    "bad metric name": (
        {"objective": {"metric": "val accuracy"}},
        "search.objective.metric",
        "metric name",
    ),
    "unknown section key": ({"trials": 5}, "search.trials", "unknown field"),
    "grid sampler over a range": (
        {"sampler": "grid"},
        "search.space.learning_rate",
        "list of values",
    ),
    "grid smaller than the budget": (
        {"sampler": "grid", "space": {"optimizer": ["sgd", "adam"]}, "budget": 3},
        "search.budget",
        "only 2 points",
    ),
    "threshold without bounds": (
        {"pruner": {"kind": "threshold"}},
        "search.pruner",
        "lower, upper",
    ),
}


@pytest.mark.parametrize(("changes", "where", "words"), SPACE_ERRORS.values(), ids=SPACE_ERRORS)
def test_a_bad_search_names_the_field(changes: dict[str, Any], where: str, words: str) -> None:
    """Each mistake is refused with its place in the file and what is wrong."""
    problems = _problems(_document(**changes))
    assert where in problems, problems
    assert words in problems[where]


def test_a_search_file_cannot_have_a_grid_too() -> None:
    """`grid:` beside `search:` is refused: the lists belong in the space."""
    document = _document()
    document["grid"] = {"optimizer": ["sgd"]}
    assert "search.space" in _problems(document)["grid"]


def test_every_problem_is_reported_at_once() -> None:
    """Two bad fields give two problems in one error."""
    problems = _problems(_document(budget=0, parallel=0))
    assert {"search.budget", "search.parallel"} <= set(problems)


def test_a_config_only_parser_refuses_a_search() -> None:
    """parse_yaml (grids, the Grid box) points a search file to the queue command."""
    with pytest.raises(ConfigError, match="search"):
        parse_yaml(ISSUE_EXAMPLE)

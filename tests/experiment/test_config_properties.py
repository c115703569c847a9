"""Property tests: whatever a user sends, the config parsers answer with ConfigError or a config."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from experiment.config import ConfigError, ExperimentConfig, field_names, parse_config
from experiment.configfile import parse_yaml
from experiment.grid import expand

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
_keys = st.one_of(
    st.sampled_from([*field_names(), *ExperimentConfig.model_fields]), st.text(max_size=12)
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_keys, _values, max_size=8))
def test_parse_config_raises_only_config_error(data: dict[str, Any]) -> None:
    """Any mapping yields a valid config or a ConfigError, never another exception."""
    try:
        config = parse_config(data)
    except ConfigError as error:
        assert error.problems
    else:
        assert parse_config(config.to_json()) == config


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_parse_yaml_raises_only_config_error(text: str) -> None:
    """Any text yields configs or a ConfigError."""
    try:
        configs = parse_yaml(text)
    except ConfigError as error:
        assert error.problems
    else:
        assert configs and all(isinstance(c, ExperimentConfig) for c in configs)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(_keys, st.lists(_values, max_size=3), max_size=3), _values)
def test_grid_expansion_raises_only_config_error(grid: dict[str, Any], variants: Any) -> None:
    """Any grid and variants yield configs or a ConfigError."""
    try:
        configs = expand({"name": "g"}, grid, variants)
    except ConfigError as error:
        assert error.problems
    else:
        assert configs

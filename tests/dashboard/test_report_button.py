""" "Save as report" is a write: locked when signed out in team mode."""

from __future__ import annotations

import pytest

from tests.dashboard.conftest import EvaluatedLab, open_page


def test_saving_is_locked_when_signed_out_in_team_mode(
    evaluated_lab: EvaluatedLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a team password set and nobody signed in, "Save as report" is disabled."""
    monkeypatch.setenv("LAB_PASSWORD", "secret")
    at = open_page("run", id=str(evaluated_lab.a))
    assert not at.exception
    locked = at.button(key="run.report.locked")
    assert locked.disabled and "Sign in" in locked.help

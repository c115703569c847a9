"""Access: local installs are open; team mode needs a sign-in for writes; config is locked down."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tests.dashboard.conftest import Lab, open_page

CONFIG = Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml"


def test_streamlit_config_is_local_with_xsrf_and_cors() -> None:
    """The shipped config binds to 127.0.0.1 with XSRF and CORS protection and an upload cap."""
    config = tomllib.loads(CONFIG.read_text())
    server = config["server"]
    assert server["address"] == "127.0.0.1"
    assert server["enableXsrfProtection"] is True
    assert server["enableCORS"] is True
    assert server["maxUploadSize"] == 10


def test_team_mode_refuses_to_queue_until_signed_in(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With LAB_PASSWORD set, submitting the form asks for the password and queues nothing."""
    monkeypatch.setenv("LAB_PASSWORD", "s3cret")
    before = lab.count_runs()
    at = open_page("queue")
    at.button(key="cfg.submit").click().run()
    assert not at.exception
    assert lab.count_runs() == before
    assert any("to queue runs" in warning.value for warning in at.warning)


def test_wrong_password_is_refused(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong team password does not sign the session in."""
    monkeypatch.setenv("LAB_PASSWORD", "s3cret")
    at = open_page("queue")
    at.text_input(key="auth.attempt").set_value("guess")
    next(b for b in at.button if b.label == "Sign in").click().run()
    assert any("not right" in e.value for e in at.error)
    assert "auth.user" not in at.session_state


def test_signed_in_team_member_can_queue(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """After the right password, the same form queues the run."""
    monkeypatch.setenv("LAB_PASSWORD", "s3cret")
    before = lab.count_runs()
    at = open_page("queue")
    at.text_input(key="auth.attempt").set_value("s3cret")
    next(b for b in at.button if b.label == "Sign in").click().run()
    assert at.session_state["auth.user"] == "team member"
    at.button(key="cfg.submit").click().run()
    assert not at.exception
    assert lab.count_runs() == before + 1


def test_viewing_stays_open_in_team_mode(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """Team mode without LAB_PRIVATE still shows the Runs page to everyone."""
    monkeypatch.setenv("LAB_PASSWORD", "s3cret")
    at = open_page("runs")
    assert not at.exception
    assert at.dataframe
    assert all("view this lab" not in i.value for i in at.info)


def test_private_mode_hides_pages_until_signed_in(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With LAB_PRIVATE=1 a page shows only the sign-in form."""
    monkeypatch.setenv("LAB_PASSWORD", "s3cret")
    monkeypatch.setenv("LAB_PRIVATE", "1")
    at = open_page("runs")
    assert not at.exception
    assert any("to view this lab" in info.value for info in at.info)
    assert not at.dataframe

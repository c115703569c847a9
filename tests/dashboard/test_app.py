"""The router through AppTest: `/` opens Queue; a stale schema names the command to run."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import APP, Lab, open_page


def test_app_root_opens_the_queue_page(lab: Lab) -> None:
    """`/` (the hidden default page) forwards to Queue, so `/queue` links work too."""
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert at.title[0].value == "Queue runs"


@pytest.mark.parametrize("view", ["queue", "runs", "compare", "predict"])
def test_unmigrated_database_shows_the_command_to_run(
    view: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty database gives one error naming `python -m db upgrade`, not a traceback."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'blank.db'}")
    at = open_page(view)
    assert not at.exception
    assert len(at.error) == 1 and "python -m db upgrade" in at.error[0].value

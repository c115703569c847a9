"""Run page actions: clone into the form, re-run, delete; gated in team mode."""

from __future__ import annotations

import pytest

from db.models import RunStatus
from tests.dashboard.conftest import Lab, open_page


def _statuses(lab: Lab) -> dict[int, RunStatus]:
    from db.runs import list_runs

    with lab.database.read() as session:
        return {run.id: run.status for run in list_runs(session)}


def test_clone_opens_the_form_with_the_runs_config(lab: Lab) -> None:
    """`/queue?clone=N` pre-fills the form from run N's config."""
    at = open_page("queue", clone=str(lab.sgd))
    assert not at.exception
    assert at.text_input(key="cfg.name").value == "sgd-run (copy)"
    assert at.selectbox(key="cfg.optimizer").value == "sgd"


def test_rerun_queues_a_copy(lab: Lab) -> None:
    """Re-run on a failed run's page queues a new run."""
    before = _statuses(lab)
    at = open_page("run", id=str(lab.failed))
    at.button(key="run.rerun").click().run()
    assert not at.exception
    after = _statuses(lab)
    new = set(after) - set(before)
    assert len(new) == 1 and after[new.pop()] is RunStatus.QUEUED


def test_delete_removes_the_run(lab: Lab) -> None:
    """Delete for good removes a finished run."""
    at = open_page("run", id=str(lab.failed))
    at.button(key="run.delete").click().run()
    assert lab.failed not in _statuses(lab)


def test_rerun_needs_sign_in_in_team_mode(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """In team mode a signed-out Re-run changes nothing and says to sign in."""
    monkeypatch.setenv("LAB_PASSWORD", "s3cret")
    before = _statuses(lab)
    at = open_page("run", id=str(lab.failed))
    at.button(key="run.rerun").click().run()
    assert not at.exception
    assert _statuses(lab) == before
    assert any("re-run runs" in w.value for w in at.warning)

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


def test_cancel_says_it_was_requested_and_the_header_follows(lab: Lab) -> None:
    """Cancel on a running run: a message names the request, the status reads cancelling,
    and the Cancel button is gone."""
    at = open_page("run", id=str(lab.running))
    at.button(key="run.cancel").click().run()
    assert not at.exception
    assert any(f"Asked run {lab.running}'s worker to stop" in s.value for s in at.success)
    assert any(m.label == "status" and m.value == "running, cancelling" for m in at.metric)
    assert all(b.key != "run.cancel" for b in at.button)


def test_rerun_says_which_run_it_queued(lab: Lab) -> None:
    """Re-run names the new run with a link to its page."""
    at = open_page("run", id=str(lab.failed))
    at.button(key="run.rerun").click().run()
    new = lab.queued + 1
    assert any(f"Queued [run {new}](run?id={new})" in s.value for s in at.success)


def test_a_running_runs_page_shows_its_final_state_when_it_ends(lab: Lab) -> None:
    """The header follows the database: running 2/3 with Cancel, then succeeded 3/3."""
    from db.entities import EpochRecord
    from db.metrics import record_epoch
    from db.models import StopReason
    from db.queue import finish_run

    at = open_page("run", id=str(lab.running))
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["status"], metrics["epochs done"]) == ("running", "2/3")
    assert any(b.key == "run.cancel" for b in at.button)
    with lab.database.begin() as session:
        assert record_epoch(session, lab.running, 1, EpochRecord(3, val_accuracy=0.9))
        finish_run(
            session, lab.running, 1, status=RunStatus.SUCCEEDED, stop_reason=StopReason.COMPLETED
        )
    from dashboard.queries import fetch_run

    fetch_run.clear()  # the page's 2 s cache, which a live page outlasts
    at.run()
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["status"], metrics["epochs done"]) == ("succeeded", "3/3")
    assert all(b.key != "run.cancel" for b in at.button)
    assert any(b.key == "run.rerun" for b in at.button)

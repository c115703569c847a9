"""The Workers page through AppTest: who is alive, the queue with starts, attempts."""

from __future__ import annotations

import pytest

from tests.dashboard.conftest import EvaluatedLab, Lab, open_page


def test_no_workers_says_how_to_start_one(lab: Lab) -> None:
    """Without any worker the page names the command that starts one."""
    at = open_page("workers")
    assert not at.exception
    assert "python -m trainer worker" in at.info[0].value


def test_workers_queue_and_attempts(evaluated_lab: EvaluatedLab) -> None:
    """Alive and lost workers, the queue in claim order with start estimates, and attempts."""
    lab = evaluated_lab
    at = open_page("workers")
    assert not at.exception
    workers, queue, attempts = (frame.value for frame in at.dataframe)
    alive = workers.set_index("name").loc["gpu-box"]
    assert (alive["status"], alive["run"], alive["epoch"]) == (
        "alive",
        f"run?id={lab.lab.running}",
        "3 of 3",
    )
    assert workers.set_index("name").loc["old-box", "status"] == "lost"
    assert list(queue["run"]) == [f"run?id={lab.urgent}", f"run?id={lab.handed_back}"]
    # The running run has 1 epoch of 1 s left; queued report_cnn runs took 1 s an epoch.
    assert list(queue["starts_in"]) == ["~1 s", "~4 s"]
    handed = attempts[attempts["run"] == f"run?id={lab.handed_back}"]
    assert list(handed["outcome"]) == ["handed_back"]


@pytest.mark.parametrize("view", ["run", "workers", "reports", "report"])
def test_unmigrated_database_shows_the_command_to_run(
    view: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new pages, too, give one error naming `python -m db upgrade` on an empty database."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'blank.db'}")
    at = open_page(view)
    assert not at.exception
    assert len(at.error) == 1 and "python -m db upgrade" in at.error[0].value

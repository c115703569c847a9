"""The Run page's badges: how the worker fed the run its images (its recorded input pipeline)."""

from __future__ import annotations

import pytest

from db.queue import set_run_info
from tests.dashboard.conftest import Lab, open_page

REASON = "decoded images need 4.5 GB, over the memory budget of 2.0 GB (8 GB / 4 workers)"


def _pipeline_badges(at) -> list:
    return [m for m in at.markdown if "-badge[" in m.value and "images" in m.value]


@pytest.mark.parametrize(
    ("mode", "label"),
    [
        ("memory", "images in memory"),
        ("disk", "images from decoded files"),
        ("stream", "images streamed from disk"),
    ],
)
def test_badge_says_which_input_pipeline_the_run_used(lab: Lab, mode: str, label: str) -> None:
    """The worker's recorded `input_pipeline` shows as a badge; its reason is the badge's help."""
    environment = {"input_pipeline": mode, "input_pipeline_reason": REASON}
    with lab.database.begin() as session:
        assert set_run_info(session, lab.running, 1, environment=environment)
    at = open_page("run", id=str(lab.running))
    assert not at.exception
    [badge] = _pipeline_badges(at)
    assert label in badge.value
    assert badge.proto.help == REASON


def test_no_badge_before_a_worker_recorded_one(lab: Lab) -> None:
    """A queued run (nothing recorded yet) has no input pipeline badge."""
    at = open_page("run", id=str(lab.queued))
    assert not at.exception
    assert not _pipeline_badges(at)

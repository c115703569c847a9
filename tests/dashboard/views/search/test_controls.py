"""What the search view's buttons say they did."""

from __future__ import annotations

from dashboard.views.search.controls import cancel_message, extend_message
from db.models import SearchState
from db.searches import StudyCancel
from experiment.searches import Advance


def test_cancel_names_the_runs_it_reached() -> None:
    """Cancelling a running search counts the queued runs cancelled and the running stopping."""
    text = cancel_message("lr", StudyCancel("lr", (4, 5), (3,)))
    assert text == (
        "Search lr cancelled: no more runs will be queued; 2 queued runs cancelled, "
        "1 running run asked to stop (at the worker's next heartbeat)."
    )


def test_cancel_of_an_ended_search_says_so() -> None:
    """A search that had already ended is not said to be cancelled."""
    assert cancel_message("lr", StudyCancel(None, (), ())).startswith("Search lr had already ended")


def test_extend_names_the_runs_it_queued() -> None:
    """A larger budget that leaves room queues runs, and the message links them."""
    text = extend_message("lr", 8, 2, Advance(1, SearchState.RUNNING, queued=(7, 8)))
    assert text == "Budget of lr set to 8 runs; queued runs [7](run?id=7)–[8](run?id=8) now."


def test_extend_without_room_now_says_when_runs_follow() -> None:
    """With every place taken, nothing is queued now and the message says why."""
    text = extend_message("lr", 8, 2, Advance(1, SearchState.RUNNING))
    assert "nothing more queued now: 2 runs at once are queued or running already" in text


def test_extend_of_a_full_search_says_it_is_done() -> None:
    """A budget equal to the trials it has leaves the search done."""
    text = extend_message("lr", 4, 2, Advance(1, SearchState.DONE))
    assert text.endswith("the search is done: every trial it may have has finished.")

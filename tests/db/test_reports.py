"""Reports: a frozen view round-trips under a short random id and outlives its runs."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import delete

from db import queue
from db.models import Run
from db.reports import get_report, list_reports, save_report
from db.session import Database
from tests.db.factories import new_run

STATE = {"run_ids": [1, 2], "runs": [{"id": 1, "name": "a"}], "settings": {"metric": "loss"}}
FIGURES = {"Accuracy": {"data": [{"type": "scatter", "y": [0.5, 0.75]}], "layout": {}}}


def _save(database: Database, title: str = "Adam vs SGD", **changes: object) -> str:
    values = {"title": title, "note": "**SGD** lags", "kind": "compare", "state": STATE}
    values.update(changes)
    with database.begin() as session:
        return save_report(session, figures=FIGURES, **values)  # type: ignore[arg-type]


def test_report_round_trips(database: Database) -> None:
    """Title, note, kind, state and figures come back as saved, with a creation time."""
    report_id = _save(database)
    with database.read() as session:
        report = get_report(session, report_id)
    assert report is not None
    assert (report.title, report.note, report.kind) == ("Adam vs SGD", "**SGD** lags", "compare")
    assert report.state == STATE and report.figures == FIGURES
    assert report.created_at is not None and report.created_at.tzinfo is not None


def test_ids_are_short_random_and_url_safe(database: Database) -> None:
    """Each report gets its own 8-character URL-safe id."""
    ids = {_save(database) for _ in range(5)}
    assert len(ids) == 5
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{8}", report_id) for report_id in ids)


def test_list_is_newest_first_without_figures(database: Database) -> None:
    """The list names each report's runs and puts the latest first."""
    first = _save(database, "first")
    time.sleep(0.01)  # SQLite's clock has milliseconds: two saves in one would tie
    second = _save(database, "second")
    with database.read() as session:
        listed = list_reports(session)
    assert [r.id for r in listed] == [second, first]
    assert listed[0].run_ids == (1, 2) and not hasattr(listed[0], "figures")


def test_unknown_id_is_none(database: Database) -> None:
    """An id nobody saved reads as None."""
    with database.read() as session:
        assert get_report(session, "nope1234") is None


def test_report_outlives_its_runs(database: Database) -> None:
    """Deleting the runs a report shows leaves the report as it was."""
    with database.begin() as session:
        run_id = queue.enqueue(session, new_run("gone"))
    report_id = _save(database, state={"run_ids": [run_id], "runs": [{"id": run_id}]})
    with database.begin() as session:
        session.execute(delete(Run).where(Run.id == run_id))
    with database.read() as session:
        report = get_report(session, report_id)
    assert report is not None and report.state["run_ids"] == [run_id]


@pytest.mark.parametrize(("title", "kind"), [("  ", "compare"), ("x" * 201, "compare"), ("t", "")])
def test_blank_or_oversized_title_and_kind_are_refused(
    database: Database, title: str, kind: str
) -> None:
    """An empty or too-long title, or an empty kind, is a ValueError and stores nothing."""
    with pytest.raises(ValueError), database.begin() as session:
        save_report(session, title=title, note="", kind=kind, state={}, figures={})
    with database.read() as session:
        assert list_reports(session) == []

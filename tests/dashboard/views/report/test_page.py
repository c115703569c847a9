"""The Report page: one saved report, read-only, even after its runs are gone."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import delete

from db.models import Run
from tests.dashboard.conftest import Lab, open_page
from tests.dashboard.saved_reports import NOTE, saved_report


def test_report_view_is_read_only_and_outlives_its_runs(lab: Lab) -> None:
    """After its runs are deleted the report still shows its note, runs and figure."""
    report_id = saved_report(lab, [lab.adam, lab.sgd])
    with lab.database.begin() as session:
        session.execute(delete(Run).where(Run.id.in_([lab.adam, lab.sgd])))
    at = open_page("report", id=report_id)
    assert not at.exception
    assert at.title[0].value == r"Adam \<i\>vs\</i\> SGD"
    notes = [m for m in at.markdown if "wins" in m.value]
    assert [m.value for m in notes] == [NOTE] and not notes[0].proto.allow_html
    assert list(at.dataframe[0].value["id"]) == [lab.adam, lab.sgd]
    [chart] = at.get("plotly_chart")
    assert json.loads(chart.proto.spec)["data"][0]["y"] == [0.9, 0.5]
    assert not at.get("button") and not at.get("text_area")  # nothing to edit


@pytest.mark.parametrize("report_id", ["", "nope1234"])
def test_missing_or_unknown_report_id(lab: Lab, report_id: str) -> None:
    """No `?id=` or an unknown one explains itself and links to the list."""
    at = open_page("report", id=report_id) if report_id else open_page("report")
    assert not at.exception
    assert (at.warning if report_id else at.info)[0].value
    assert at.get("page_link")

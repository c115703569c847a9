"""The Reports page: every saved report, newest first, linked by id."""

from __future__ import annotations

from tests.dashboard.conftest import Lab, open_page
from tests.dashboard.saved_reports import saved_report


def test_reports_list_is_empty_at_first(lab: Lab) -> None:
    """Without reports the page says how to make one."""
    at = open_page("reports")
    assert not at.exception
    assert "Save as report" in at.info[0].value


def test_reports_list_links_each_report_by_id(lab: Lab) -> None:
    """Each saved report is a link to `/report?id=...`, its title shown as text."""
    report_id = saved_report(lab, [lab.adam, lab.sgd])
    at = open_page("reports")
    assert not at.exception
    [link] = at.get("page_link")
    assert link.proto.label == r"Adam \<i\>vs\</i\> SGD"
    assert link.proto.query_string == f"id={report_id}"
    assert any(report_id in caption.value for caption in at.caption)

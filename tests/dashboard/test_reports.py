"""Reports: the list, the read-only view (after its runs are gone), and freezing figures."""

from __future__ import annotations

import json

import pandas as pd
import plotly.graph_objects as go
import pytest
from sqlalchemy import delete

from dashboard.report_panels import build_report, default_title, figure_from_json, figure_json
from db.models import Run
from db.reports import save_report
from tests.dashboard.conftest import EvaluatedLab, Lab, open_page

NOTE = "Adam **wins**.\n\n<script>alert('x')</script> <b>not bold</b>"


def _report(lab: Lab, run_ids: list[int], title: str = "Adam <i>vs</i> SGD") -> str:
    figure = go.Figure(go.Bar(x=["cloudy", "rain"], y=[0.9, 0.5], name="adam"))
    state, figures = build_report(
        "compare",
        {"metric": "accuracy", "color": "optimizer"},
        pd.DataFrame({"id": run_ids, "name": [f"run {i}" for i in run_ids]}),
        {"Accuracy per class": figure},
        view="/compare?runs=1,2",
    )
    with lab.database.begin() as session:
        return save_report(
            session, title=title, note=NOTE, kind="compare", state=state, figures=figures
        )


def test_figure_json_round_trips() -> None:
    """A figure frozen as JSON redraws with the same data and layout."""
    figure = go.Figure(go.Heatmap(z=[[1, -2], [0, 3]], x=["a", "b"], y=["a", "b"]))
    figure.update_layout(title="delta")
    again = figure_from_json(json.loads(json.dumps(figure_json(figure))))
    assert [list(row) for row in again.data[0].z] == [[1, -2], [0, 3]]
    assert again.layout.title.text == "delta"


def test_build_report_keeps_ids_runs_and_settings() -> None:
    """The frozen state names the runs, keeps their rows as JSON, and the view's settings."""
    runs = pd.DataFrame(
        {"id": [3, 5], "name": ["a", "b"], "best_val_accuracy": [0.9, float("nan")]}
    )
    state, figures = build_report("compare", {"metric": "loss"}, runs, {}, view="/compare")
    assert state["run_ids"] == [3, 5]
    assert state["runs"][1] == {"id": 5, "name": "b", "best_val_accuracy": None}
    assert state["settings"] == {"metric": "loss"} and figures == {}
    assert default_title("compare", [3, 5]) == "Compare: runs 3, 5"
    assert default_title("run", [3, 5]) == "Run 3 versus run 5"


def test_reports_list_is_empty_at_first(lab: Lab) -> None:
    """Without reports the page says how to make one."""
    at = open_page("reports")
    assert not at.exception
    assert "Save as report" in at.info[0].value


def test_reports_list_links_each_report_by_id(lab: Lab) -> None:
    """Each saved report is a link to `/report?id=...`, its title shown as text."""
    report_id = _report(lab, [lab.adam, lab.sgd])
    at = open_page("reports")
    assert not at.exception
    [link] = at.get("page_link")
    assert link.proto.label == r"Adam \<i\>vs\</i\> SGD"
    assert link.proto.query_string == f"id={report_id}"
    assert any(report_id in caption.value for caption in at.caption)


def test_report_view_is_read_only_and_outlives_its_runs(lab: Lab) -> None:
    """After its runs are deleted the report still shows its note, runs and figure."""
    report_id = _report(lab, [lab.adam, lab.sgd])
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


def test_saving_is_locked_when_signed_out_in_team_mode(
    evaluated_lab: EvaluatedLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a team password set and nobody signed in, "Save as report" is disabled."""
    monkeypatch.setenv("LAB_PASSWORD", "secret")
    at = open_page("run", id=str(evaluated_lab.a))
    assert not at.exception
    locked = at.button(key="run.report.locked")
    assert locked.disabled and "Sign in" in locked.help

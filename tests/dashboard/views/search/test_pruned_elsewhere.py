"""A search's trials on the other pages: "pruned" is a state of its own on Runs and Compare,
and the Run page says which trial of which search a run is, and when and why it was pruned."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from db.session import Database
from tests.dashboard.conftest import open_page
from tests.dashboard.searches import SearchLab, seed_search


@pytest.fixture
def search_lab(empty_lab: Database) -> SearchLab:
    return seed_search(empty_lab)


def _drawn_runs(at: AppTest) -> set[int]:
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    labels = {text for trace in figure["data"] for text in trace.get("customdata") or []}
    return {int(text[1:].split(" ", 1)[0]) for text in labels if text.startswith("#")}


def test_runs_page_filters_on_pruned(search_lab: SearchLab) -> None:
    """?status=pruned picks the pruned chip and lists only the pruned trial, "stopped by"
    pruned."""
    at = open_page("runs", status="pruned")
    assert not at.exception
    assert "pruned" in at.pills(key="runs.f.status").options
    assert at.pills(key="runs.f.status").value == ["pruned"]
    table = at.dataframe(key="runs.table").value
    assert table["id"].tolist() == [search_lab.pruned]
    assert table["stop_reason"].tolist() == ["pruned"]


def test_compare_filters_on_pruned(search_lab: SearchLab) -> None:
    """Compare's status filter takes pruned too and draws only the pruned trial."""
    at = open_page("compare", status="pruned")
    assert not at.exception
    assert at.pills(key="compare.f.status").value == ["pruned"]
    assert _drawn_runs(at) == {search_lab.pruned}


def test_run_page_names_the_trial_and_links_to_the_search(search_lab: SearchLab) -> None:
    """A trial's page says "trial 3 of lr-search", linked to the search's view."""
    at = open_page("run", id=str(search_lab.best))
    assert not at.exception
    captions = "\n".join(c.value for c in at.caption)
    assert "[trial 3 of lr-search](search?name=lr-search) (budget 4 runs)" in captions


def test_run_page_says_when_and_why_a_run_was_pruned(search_lab: SearchLab) -> None:
    """A pruned run's status is pruned and its stop reason leads with the epoch."""
    at = open_page("run", id=str(search_lab.pruned))
    assert not at.exception
    assert any(m.label == "status" and m.value == "pruned" for m in at.metric)
    texts = [t.value for t in at.text]
    assert (
        "Stop reason: pruned at epoch 2: best val_accuracy 0.35 below the median 0.6 of 1 "
        "earlier runs" in texts
    )


def test_a_run_outside_any_search_names_no_trial(
    search_lab: SearchLab, empty_lab: Database
) -> None:
    """Runs that are not trials say nothing about a search."""
    from tests.dashboard.conftest import queue_one

    run_id = queue_one(empty_lab, "plain-run")
    at = open_page("run", id=str(run_id))
    assert not at.exception
    assert not any("search?name=" in c.value for c in at.caption)

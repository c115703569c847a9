"""The Search page through AppTest: the list, one search's view and its three actions."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from db import searches as db_searches
from db.models import RunStatus, SearchState
from db.runs import list_runs
from db.session import Database
from tests.dashboard.conftest import open_page
from tests.dashboard.searches import NAME, SearchLab, seed_search


@pytest.fixture
def search_lab(empty_lab: Database) -> SearchLab:
    return seed_search(empty_lab)


def _titles(at: AppTest) -> list[str]:
    titles = []
    for chart in at.get("plotly_chart"):
        title = json.loads(chart.proto.spec)["layout"].get("title", {})
        titles.append(title.get("text", "") if isinstance(title, dict) else str(title))
    return titles


def _search(database: Database) -> db_searches.SearchRecord:
    with database.read() as session:
        found = db_searches.get_search(session, NAME)
    assert found is not None
    return found


def test_no_search_yet_says_how_to_start_one(empty_lab: Database) -> None:
    """Without any search the page says where to queue one."""
    at = open_page("search")
    assert not at.exception
    assert "No search yet" in at.info[0].value


def test_the_list_links_every_search(search_lab: SearchLab) -> None:
    """Without ?name= the page lists the searches with their progress and a link each."""
    at = open_page("search")
    assert not at.exception
    table = at.dataframe[0].value
    assert table["name"].tolist() == [NAME]
    assert table["open"].tolist() == ["search?name=lr-search"]
    assert (table["finished"].iloc[0], table["budget"].iloc[0]) == (3, 4)


def test_an_unknown_name_says_so_and_lists_the_searches(search_lab: SearchLab) -> None:
    """A shared link to a search that is gone warns and falls back to the list."""
    at = open_page("search", name="nope")
    assert not at.exception
    assert "no search named nope" in at.warning[0].value
    assert at.dataframe[0].value["name"].tolist() == [NAME]


def test_the_view_shows_progress_trials_and_parameters(search_lab: SearchLab) -> None:
    """?name= opens the search: counts, best run, every figure, and the trials table."""
    at = open_page("search", name=NAME)
    assert not at.exception
    assert at.title[0].value == "Search lr-search"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["runs finished"] == "3 of 4"
    assert metrics["best val_accuracy"] == "0.8"
    titles = _titles(at)
    assert titles.count("Best val accuracy so far") == 2
    assert any("pruned runs faded" in t for t in titles)
    assert any(t.startswith("Searched fields and val accuracy") for t in titles)
    assert {"learning_rate", "optimizer"} <= set(titles)
    trials = next(t.value for t in at.dataframe if "trial" in t.value.columns)
    assert trials["state"].tolist() == ["succeeded", "pruned", "succeeded", "queued"]
    assert trials["epochs"].tolist() == [3, 2, 3, 0]
    assert trials["stopped"].iloc[1].startswith("pruned at epoch 2: best val_accuracy 0.35")
    assert trials["open"].iloc[2] == f"run?id={search_lab.best}"
    links = [link.proto for link in at.get("page_link")]
    [compare] = [link for link in links if link.label == "Open its runs in Compare"]
    assert compare.query_string == "study=lr-search"


def test_queue_the_best_config_with_three_seeds(search_lab: SearchLab) -> None:
    """The button queues the best trial's config under 3 new seeds as study lr-search-best."""
    at = open_page("search", name=NAME)
    at.button(key="search.best_seeds").click().run()
    assert not at.exception
    with search_lab.database.read() as session:
        new = [r for r in list_runs(session) if r.study == "lr-search-best"]
    best = next(r for r in _runs(search_lab) if r.id == search_lab.best)
    assert sorted(r.seed for r in new) == [best.seed + 1, best.seed + 2, best.seed + 3]
    assert {(r.learning_rate, r.optimizer) for r in new} == {(best.learning_rate, best.optimizer)}
    assert "trial 3's config with seeds" in at.success[0].value


def _runs(search_lab: SearchLab):
    with search_lab.database.read() as session:
        return list_runs(session)


def test_cancel_stops_the_search_and_its_queued_run(search_lab: SearchLab) -> None:
    """Cancel search marks it cancelled, cancels its queued trial and says so."""
    at = open_page("search", name=NAME)
    at.button(key="search.cancel").click().run()
    assert not at.exception
    assert _search(search_lab.database).state is SearchState.CANCELLED
    queued = next(r for r in _runs(search_lab) if r.id == search_lab.queued)
    assert queued.status is RunStatus.CANCELLED
    assert "Search lr-search cancelled" in at.success[0].value
    assert "1 queued run cancelled" in at.success[0].value


def test_extend_budget_queues_more_trials_and_says_which(search_lab: SearchLab) -> None:
    """A larger budget is stored and the trials that fit now are queued and named."""
    at = open_page("search", name=NAME)
    at.number_input(key="search.budget").set_value(6)
    at.button(key="search.extend").click().run()
    assert not at.exception
    assert _search(search_lab.database).budget == 6
    queued = [r for r in _runs(search_lab) if r.status is RunStatus.QUEUED]
    assert len(queued) == 2  # trial 4 and one new trial: 2 at once
    assert "Budget of lr-search set to 6 runs; queued" in at.success[0].value


def test_a_search_whose_runs_ended_without_a_result_says_so(empty_lab: Database) -> None:
    """A search cancelled before any epoch draws no empty best-so-far charts; it says why."""
    from experiment.searches import create_search
    from tests.dashboard.searches import search_spec

    with empty_lab.begin() as session:
        create_search(session, search_spec())
        db_searches.cancel_study(session, NAME)
    at = open_page("search", name=NAME)
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["state"] == "cancelled"
    assert any("2 runs of this search ended without a result" in c.value for c in at.caption)
    assert not [t for t in _titles(at) if t.startswith("Best")]

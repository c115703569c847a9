"""The Runs page through AppTest: filters from and to the URL, selection, compare actions."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.state import parse_ids
from tests.dashboard.conftest import Lab, open_page
from tests.dashboard.foreign import seed_foreign
from tests.dashboard.studies import StudyLab, seed_studies


@pytest.fixture
def studies(lab: Lab) -> StudyLab:
    """`lab` plus the five runs of study "seeds"."""
    return seed_studies(lab)


def _listed(at: AppTest) -> list[int]:
    return [int(i) for i in at.dataframe(key="runs.table").value["id"]]


def _select(at: AppTest, ids: list[int]) -> AppTest:
    """Select table rows the way a click does: by their positions in the shown table."""
    listed = _listed(at)
    rows = [listed.index(i) for i in ids]
    at.session_state["runs.table"] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    return at.run()


def test_runs_status_filter_comes_from_the_url(lab: Lab) -> None:
    """?status=failed lists only the failed run and pre-selects the filter."""
    at = open_page("runs", status="failed")
    assert not at.exception
    assert at.pills(key="runs.f.status").value == ["failed"]
    assert _listed(at) == [lab.failed]


def test_changing_the_status_filter_writes_the_url(lab: Lab) -> None:
    """Picking statuses rewrites ?status=, so the address bar is the share link."""
    at = open_page("runs")
    at.pills(key="runs.f.status").set_value(["running", "queued"]).run()
    assert at.query_params["status"] == "running,queued"
    assert sorted(_listed(at)) == [lab.running, lab.queued]


def test_runs_study_filter_comes_from_the_url(lab: Lab) -> None:
    """?study=optim lists the study's two runs."""
    at = open_page("runs", study="optim")
    assert sorted(_listed(at)) == [lab.adam, lab.sgd]


def test_search_matches_words_in_names(studies: StudyLab) -> None:
    """?q=sgd s1 lists the one run whose name has both."""
    at = open_page("runs", q="sgd s1")
    assert _listed(at) == [studies.sgd1]


def test_search_matches_config_fields(studies: StudyLab) -> None:
    """?q=seed=1 matches the config field, not the name."""
    at = open_page("runs", q="seed=1")
    assert sorted(_listed(at)) == [studies.adam1, studies.sgd1]


def test_hyper_parameter_filter_comes_from_the_url(studies: StudyLab) -> None:
    """?batch_size=32 keeps the batch-32 runs and fills that filter."""
    at = open_page("runs", batch_size="32")
    assert at.multiselect(key="runs.f.k.batch_size").value == ["32"]
    assert sorted(_listed(at)) == [studies.lab.running, studies.sgd_batch32]


def test_typing_a_search_writes_the_url(studies: StudyLab) -> None:
    """A search typed in the box lands in ?q=."""
    at = open_page("runs")
    at.text_input(key="runs.f.q").input("adam").run()
    assert at.query_params["q"] == "adam"
    assert set(_listed(at)) == {studies.lab.adam, studies.adam0, studies.adam1}


def test_tag_filter_lists_tagged_runs(studies: StudyLab) -> None:
    """?tag=baseline lists the two runs tagged baseline."""
    at = open_page("runs", tag="baseline")
    assert sorted(_listed(at)) == [studies.adam0, studies.adam1]


def test_each_row_links_to_its_run_page(lab: Lab) -> None:
    """The run column holds run?id=N for every listed run."""
    table = open_page("runs").dataframe(key="runs.table").value
    assert list(table["open"]) == [f"run?id={i}" for i in table["id"]]


def test_progress_and_outcome_columns_are_listed(lab: Lab) -> None:
    """The table shows epochs done and the best validation accuracy."""
    table = open_page("runs").dataframe(key="runs.table").value.set_index("id")
    assert table.loc[lab.running, "epochs_text"] == "2/3"
    assert table.loc[lab.adam, "best_val_accuracy"] == pytest.approx(0.75)


def test_selecting_rows_writes_runs_to_the_url(lab: Lab) -> None:
    """Selected rows are kept as ?runs= ids."""
    at = _select(open_page("runs"), [lab.sgd, lab.failed])
    assert sorted(parse_ids(at.query_params["runs"])) == sorted([lab.sgd, lab.failed])


def test_selection_survives_a_filter_that_hides_it(lab: Lab) -> None:
    """Filtering to failed runs keeps a selected succeeded run in ?runs=."""
    at = open_page("runs", runs=f"{lab.adam},{lab.failed}")
    at.pills(key="runs.f.status").set_value(["failed"]).run()
    assert sorted(parse_ids(at.query_params["runs"])) == sorted([lab.adam, lab.failed])
    assert "1 hidden by the filters" in at.caption[0].value


def test_compare_selected_opens_compare_with_those_runs(lab: Lab) -> None:
    """The Compare-selected button opens Compare with ?runs= set to the selection."""
    at = open_page("runs", runs=f"{lab.adam},{lab.sgd}")
    at.button(key="runs.compare").click().run()
    assert not at.exception
    assert sorted(parse_ids(at.query_params["runs"])) == [lab.adam, lab.sgd]
    assert at.segmented_control(key="compare.mode").value == "pick"


def test_compare_all_matching_opens_compare_on_the_filter(studies: StudyLab) -> None:
    """ "Compare all matching" carries the filter, so the study's later runs join too."""
    at = open_page("runs", study="seeds")
    at.button(key="runs.compare_all").click().run()
    assert not at.exception
    assert at.query_params.get("study") == "seeds" and "runs" not in at.query_params
    assert at.segmented_control(key="compare.mode").value == "all"


def test_compare_selected_is_disabled_without_a_selection(lab: Lab) -> None:
    """With nothing selected the Compare-selected button cannot be pressed."""
    assert open_page("runs").button(key="runs.compare").disabled


def test_no_match_says_so(lab: Lab) -> None:
    """A filter nothing matches shows a message instead of an empty table."""
    at = open_page("runs", q="nothing-is-called-this")
    assert not at.exception
    assert "No run matches" in at.info[0].value


def test_source_filter_comes_from_the_url(lab: Lab) -> None:
    """?source=import,script lists only the imported and the script's runs."""
    foreign = seed_foreign(lab)
    at = open_page("runs", source="import,script")
    assert not at.exception
    assert at.pills(key="runs.f.source").value == ["import", "script"]
    assert sorted(_listed(at)) == sorted([foreign.imported, foreign.script])
    shown = at.dataframe(key="runs.table").value.set_index("id")["source"]
    assert shown[foreign.imported] == "import" and shown[foreign.script] == "script"


def test_changing_the_source_filter_writes_the_url(lab: Lab) -> None:
    """Picking "queued" rewrites ?source= and hides the runs the lab did not train."""
    foreign = seed_foreign(lab)
    at = open_page("runs")
    assert {foreign.imported, foreign.script} <= set(_listed(at))
    at.pills(key="runs.f.source").set_value(["queued"]).run()
    assert not at.exception
    assert at.query_params["source"] == "queued"
    assert sorted(_listed(at)) == sorted([lab.adam, lab.sgd, lab.running, lab.failed, lab.queued])

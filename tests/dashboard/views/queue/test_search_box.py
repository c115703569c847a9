"""The Queue page's Search box through AppTest: checked, previewed, then created."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from db import searches as db_searches
from db.models import RunStatus
from db.runs import list_runs
from tests.dashboard.conftest import Lab, open_page

SEARCH = """name: lr-search
epochs: 2
search:
  budget: 6
  parallel: 2
  pruner: {kind: median, warmup_epochs: 1}
  space:
    learning_rate: {low: 1.0e-4, high: 1.0e-1, log: true}
    optimizer: [sgd, adam]
"""


def _errors(at: AppTest) -> str:
    return "\n".join(error.value for error in at.error)


def _preview(text: str, button: str = "search.preview_button") -> AppTest:
    at = open_page("queue")
    at.text_area(key="search.text").set_value(text)
    at.button(key=button).click().run()
    assert not at.exception
    return at


def test_bad_yaml_names_the_box_and_the_place(lab: Lab) -> None:
    """YAML that does not parse is refused with the box's name and the line; nothing queued."""
    at = _preview("search:\n  budget: [4\n  space: {}")
    assert "`search`: YAML error at line" in _errors(at)
    assert not at.success and lab.count_runs() == 5


def test_a_box_without_a_search_section_says_what_to_write(lab: Lab) -> None:
    """A mapping without `search:` is refused with what the box needs."""
    at = _preview("optimizer: [sgd, adam]")
    assert "start with a `search:` section" in _errors(at)


def test_a_bad_range_names_its_field(lab: Lab) -> None:
    """low above high is refused, naming search.space.learning_rate."""
    at = _preview(SEARCH.replace("low: 1.0e-4, high: 1.0e-1", "low: 0.1, high: 0.01"))
    assert "search.space.learning_rate" in _errors(at)
    assert lab.count_runs() == 5


def test_preview_describes_the_search_and_its_first_suggestions(lab: Lab) -> None:
    """Preview shows what the search is and its first `parallel` suggestions; queues nothing."""
    at = _preview(SEARCH)
    markdown = "\n".join(m.value for m in at.markdown)
    assert "Search preview: lr-search" in markdown
    assert "budget 6 runs, at most 2 at once" in markdown
    table = next(t.value for t in at.dataframe if "optimizer" in t.value.columns)
    assert table["trial"].tolist() == [1, 2] and "problem" not in table.columns
    assert set(table["optimizer"]) <= {"sgd", "adam"}
    assert lab.count_runs() == 5


def test_queue_search_creates_it_and_links_to_its_view(lab: Lab) -> None:
    """The preview's "Queue search" creates the search, its first 2 runs, and links to it."""
    at = _preview(SEARCH)
    at.button(key="search.queue").click().run()
    assert not at.exception
    message = at.success[0].value
    assert message.startswith("Queued search [lr-search](search?name=lr-search): 2 runs")
    with lab.database.read() as session:
        search = db_searches.get_search(session, "lr-search")
        runs = [r for r in list_runs(session) if r.study == "lr-search"]
    assert search is not None and search.budget == 6
    assert len(runs) == 2 and {r.status for r in runs} == {RunStatus.QUEUED}
    assert {r.epochs for r in runs} == {2}  # the box's fields replace the form's


def test_a_search_section_alone_searches_over_the_form(lab: Lab) -> None:
    """A bare `search:` section takes the rest from the form, named after its Name."""
    at = open_page("queue")
    at.text_input(key="cfg.name").set_value("form-search")
    at.text_area(key="search.text").set_value(SEARCH.split("epochs: 2\n")[1])
    at.button(key="search.preview_button").click().run()
    assert not at.exception
    assert any("Search preview: form-search" in m.value for m in at.markdown)


def test_queue_run_with_a_filled_search_box_previews_the_search(lab: Lab) -> None:
    """With the search box filled, "Queue run" previews the search instead and says so."""
    at = _preview(SEARCH, button="cfg.submit")
    assert "previewed the search instead" in at.info[0].value
    assert lab.count_runs() == 5


def test_both_boxes_filled_queue_nothing_and_say_why(lab: Lab) -> None:
    """With a grid and a search typed, no button picks one silently: an error says so."""
    at = open_page("queue")
    at.text_area(key="grid.text").set_value("optimizer: [sgd, adam]")
    at.text_area(key="search.text").set_value(SEARCH)
    at.button(key="cfg.submit").click().run()
    assert not at.exception
    assert "Both the grid box and the search box are filled" in _errors(at)
    assert lab.count_runs() == 5


def test_a_taken_name_warns_in_the_preview_and_is_refused(lab: Lab) -> None:
    """A second search of the same name is flagged before and refused on queueing."""
    at = _preview(SEARCH)
    at.button(key="search.queue").click().run()
    at.button(key="search.preview_button").click().run()
    assert any("exists already" in w.value for w in at.warning)
    at.button(key="search.queue").click().run()
    assert not at.exception
    assert "search extend lr-search" in _errors(at)


def test_empty_search_box_preview_asks_for_a_search(lab: Lab) -> None:
    """An empty search box previewed says what to paste."""
    at = open_page("queue")
    at.button(key="search.preview_button").click().run()
    assert "The search box is empty" in at.warning[0].value


def test_a_suggestion_with_an_invalid_config_says_why() -> None:
    """The suggestions table shows values as run names do and a problem column when needed."""
    from dashboard.views.queue.search_box import suggestions_table
    from experiment.searches import PlannedTrial
    from tests.dashboard.searches import search_spec

    spec = search_spec()
    planned = [
        PlannedTrial(1, {"learning_rate": 0.000585913, "optimizer": "sgd"}, None, "too big"),
        PlannedTrial(2, {"learning_rate": 0.01, "optimizer": "adam"}, None, None),
    ]
    table = suggestions_table(spec, planned)
    assert table["learning_rate"].tolist() == ["0.0005859", "0.01"]
    assert table["problem"].tolist() == ["too big", None]


def test_a_fresh_lab_knows_the_metrics_its_workers_record(empty_lab: object) -> None:
    """No run has trained yet, but val_accuracy is what every worker records: no warning."""
    at = _preview(SEARCH)
    assert not at.exception
    assert not [w.value for w in at.warning if "no run is known to record" in w.value]
    assert at.button(key="search.queue")  # the preview offers to queue it

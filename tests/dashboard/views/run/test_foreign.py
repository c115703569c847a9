"""The Run page of runs the lab did not train: an import and a script's run are read-only,
show where they came from, and draw whatever metrics (and per-batch values) they logged."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import Lab, open_page
from tests.dashboard.foreign import IMPORTED_FROM, ForeignLab, seed_foreign


def _figures(at: AppTest) -> dict[str, dict]:
    figures = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    return {figure["layout"]["title"]["text"]: figure for figure in figures}


def _links(at: AppTest) -> list[str]:
    return [str(getattr(link, "label", "")) for link in at.get("page_link")]


def _buttons(at: AppTest) -> list[str]:
    return [button.label for button in at.button]


def test_an_imported_run_is_read_only_and_says_where_it_came_from(lab: Lab) -> None:
    """No Re-run, no Clone (its config names none of our fields); the file's path is shown."""
    foreign = seed_foreign(lab)
    at = open_page("run", id=str(foreign.imported))
    assert not at.exception
    assert IMPORTED_FROM in at.caption[0].value and "read-only" in at.caption[0].value
    assert "attempt" not in at.caption[0].value
    assert "Re-run" not in _buttons(at) and "Cancel run" not in _buttons(at)
    assert "Clone into the form" not in _links(at)
    assert "Open in Compare" in _links(at)


def test_a_script_run_whose_config_maps_onto_our_fields_can_be_cloned(lab: Lab) -> None:
    """A script's run: no Re-run, but "Clone into the form" since it names optimizer, lr, batch."""
    foreign = seed_foreign(lab)
    at = open_page("run", id=str(foreign.script))
    assert not at.exception
    assert "your own script /home/ana/train.py" in at.caption[0].value
    assert "Re-run" not in _buttons(at)
    assert "Clone into the form" in _links(at)


def test_cloning_a_script_run_fills_only_our_fields(lab: Lab) -> None:
    """`/queue?clone=` of the script's run: its optimizer and batch size, not its other keys."""
    foreign = seed_foreign(lab)
    at = open_page("queue", clone=str(foreign.script))
    assert not at.exception
    assert at.selectbox(key="cfg.optimizer").value == "sgd"
    assert at.text_input(key="cfg.name").value == "my-script (copy)"


def test_cloning_an_import_that_maps_onto_nothing_says_so(lab: Lab) -> None:
    """`/queue?clone=` of the import: a warning, and the form keeps its usual values."""
    foreign = seed_foreign(lab)
    at = open_page("queue", clone=str(foreign.imported))
    assert not at.exception
    assert "names none of the form's fields" in at.warning[0].value


def test_curves_tab_draws_every_logged_metric_with_its_best_epoch(lab: Lab) -> None:
    """auc, my_score and top_3_accuracy get a figure each; auc marks val_auc's best epoch (3),
    my_score (direction unknown) marks none."""
    foreign = seed_foreign(lab)
    at = open_page("run", id=str(foreign.imported))
    figures = _figures(at)
    assert {"Accuracy", "Loss", "auc", "my_score", "top_3_accuracy"} <= set(figures)
    assert [t["name"] for t in figures["auc"]["data"]] == ["train", "validation"]
    [best] = figures["auc"]["layout"]["shapes"]
    assert best["x0"] == 3
    assert not figures["my_score"]["layout"].get("shapes")


def test_a_configured_direction_marks_a_custom_metrics_best_epoch(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LAB_METRIC_DIRECTIONS=my_score=min: my_score's figure marks val_my_score's lowest (3)."""
    monkeypatch.setenv("LAB_METRIC_DIRECTIONS", "my_score=min")
    foreign = seed_foreign(lab)
    at = open_page("run", id=str(foreign.imported))
    [best] = _figures(at)["my_score"]["layout"]["shapes"]
    assert best["x0"] == 3


def test_per_batch_values_get_a_step_axis_chart(lab: Lab) -> None:
    """The import's six logged batches: a "Per batch" figure over steps 1..6."""
    foreign = seed_foreign(lab)
    at = open_page("run", id=str(foreign.imported))
    figure = _figures(at)["Per batch"]
    assert figure["layout"]["xaxis"]["title"]["text"].startswith("step")
    assert [t["name"] for t in figure["data"]] == ["batch_loss"]


def test_a_run_without_steps_has_no_step_chart(lab: Lab) -> None:
    """A queued run that logged epochs only: no "Per batch" figure."""
    at = open_page("run", id=str(lab.adam))
    assert "Per batch" not in _figures(at)


def test_other_tabs_say_what_the_lab_does_not_know(lab: Lab) -> None:
    """Evaluation, Augmentation and Details of an import explain instead of failing."""
    foreign: ForeignLab = seed_foreign(lab)
    at = open_page("run", id=str(foreign.imported), tab="Evaluation")
    assert not at.exception
    assert any("not imported runs" in c.value for c in at.caption)
    at = open_page("run", id=str(foreign.imported), tab="Versus")
    assert not at.exception
    assert any("this one was imported" in c.value for c in at.caption)
    at = open_page("run", id=str(foreign.imported), tab="Augmentation")
    assert not at.exception and "was imported" in at.info[0].value
    at = open_page("run", id=str(foreign.imported), tab="Details")
    assert not at.exception
    [times] = [d.value for d in at.dataframe if "event" in d.value.columns]
    assert times["event"].tolist()[0] == "imported"
    assert not any(h.value == "Attempts" for h in at.subheader)

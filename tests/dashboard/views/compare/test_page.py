"""The Compare page through AppTest, on a database with runs of several studies."""

from __future__ import annotations

import base64
import json

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.state import parse_ids
from dashboard.views.compare import panels
from tests.dashboard.conftest import Lab, open_page
from tests.dashboard.foreign import seed_foreign
from tests.dashboard.studies import StudyLab, seed_studies


@pytest.fixture
def studies(lab: Lab) -> StudyLab:
    """`lab` plus the five runs of study "seeds"."""
    return seed_studies(lab)


def _figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def _drawn_runs(figure: dict) -> set[int]:
    """Run ids named by the hover labels of a curves figure."""
    labels = {text for trace in figure["data"] for text in trace.get("customdata") or []}
    return {int(text[1:].split(" ", 1)[0]) for text in labels if text.startswith("#")}


def test_runs_param_draws_those_runs_coloured_by_the_differing_knob(lab: Lab) -> None:
    """?runs= of an adam and an sgd run: one line per optimizer and series, two legend entries."""
    at = open_page("compare", runs=f"{lab.adam},{lab.sgd}")
    assert not at.exception
    [figure] = _figures(at)
    assert _drawn_runs(figure) == {lab.adam, lab.sgd}
    assert [t["name"] for t in figure["data"] if t.get("showlegend")] == [
        "optimizer=adam",
        "optimizer=sgd",
    ]


def test_study_param_opens_the_whole_study(studies: StudyLab) -> None:
    """?study=seeds compares every run of the study, in "all matching" mode."""
    at = open_page("compare", study="seeds")
    assert not at.exception
    assert at.segmented_control(key="compare.mode").value == "all"
    assert _drawn_runs(_figures(at)[0]) == set(studies.seeds_study)


def test_choosing_a_study_switches_to_all_of_it_and_writes_the_url(studies: StudyLab) -> None:
    """Picking a study in the filter replaces picked runs by the study: `?study=` only."""
    at = open_page("compare", runs=str(studies.lab.running))
    at.selectbox(key="compare.f.study").set_value("seeds").run()
    assert not at.exception
    assert at.query_params.get("study") == "seeds" and "runs" not in at.query_params
    assert _drawn_runs(_figures(at)[0]) == set(studies.seeds_study)


def test_filter_params_fill_the_filter_widgets(studies: StudyLab) -> None:
    """?study=seeds&optimizer=sgd&q=b32 pre-fills the widgets and selects the one match."""
    at = open_page("compare", study="seeds", optimizer="sgd", q="b32")
    assert at.multiselect(key="compare.f.k.optimizer").value == ["sgd"]
    assert at.text_input(key="compare.f.q").value == "b32"
    assert _drawn_runs(_figures(at)[0]) == {studies.sgd_batch32}


def test_switching_to_pick_starts_from_the_matching_runs(studies: StudyLab) -> None:
    """From "all matching", "Pick runs" writes those runs' ids to `?runs=`."""
    at = open_page("compare", study="seeds", optimizer="adam")
    at.segmented_control(key="compare.mode").set_value("pick").run()
    assert not at.exception
    assert sorted(parse_ids(at.query_params["runs"])) == [studies.adam0, studies.adam1]


def test_picking_rows_writes_runs_to_the_url(lab: Lab) -> None:
    """Selecting picker rows (by position) stores the runs' ids in `?runs=`."""
    at = open_page("compare", runs=str(lab.adam))
    picker = at.dataframe(key="compare.picker").value
    rows = [list(picker["id"]).index(i) for i in (lab.adam, lab.failed)]
    at.session_state["compare.picker"] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert sorted(parse_ids(at.query_params["runs"])) == sorted([lab.adam, lab.failed])


def test_picked_runs_hidden_by_a_filter_stay_picked(lab: Lab) -> None:
    """Filtering the picker to failed runs keeps the succeeded pick in `?runs=`."""
    at = open_page("compare", runs=f"{lab.adam},{lab.failed}")
    at.pills(key="compare.f.status").set_value(["failed"]).run()
    assert list(at.dataframe(key="compare.picker").value["id"]) == [lab.failed]
    assert sorted(parse_ids(at.query_params["runs"])) == sorted([lab.adam, lab.failed])


def test_curve_params_come_from_the_url(studies: StudyLab) -> None:
    """metrics, color, dash, band, smooth, x, logy and best set the widgets and the figure."""
    at = open_page(
        "compare", study="seeds", metrics="val_loss", color="seed", dash="batch_size",
        band="std", smooth="0.4", x="wall", logy="1", best="0",
    )  # fmt: skip
    assert not at.exception
    assert at.pills(key="compare.metrics").value == ["val_loss"]
    assert (at.selectbox(key="compare.color").value, at.selectbox(key="compare.dash").value) == (
        "seed",
        "batch_size",
    )
    assert at.slider(key="compare.smooth").value == pytest.approx(0.4)
    assert at.toggle(key="compare.logy").value and not at.toggle(key="compare.best").value
    [figure] = _figures(at)
    assert figure["layout"]["yaxis"]["type"] == "log"
    assert figure["layout"]["xaxis"]["title"]["text"] == "seconds since the run started"
    assert not any(t.get("name") == "best epoch" for t in figure["data"])


def test_changing_curve_widgets_writes_the_url(lab: Lab) -> None:
    """Colour, smoothing and log-y changes land in `?color=`, `?smooth=`, `?logy=`."""
    at = open_page("compare", runs=f"{lab.adam},{lab.sgd}")
    at.selectbox(key="compare.color").set_value("run")
    at.slider(key="compare.smooth").set_value(0.6)
    at.toggle(key="compare.logy").set_value(True).run()
    assert not at.exception
    assert (at.query_params["color"], at.query_params["smooth"], at.query_params["logy"]) == (
        "run",
        "0.6",
        "1",
    )


def test_band_over_seeds_draws_filled_bands(studies: StudyLab) -> None:
    """?band=minmax over a study with two seeds per setting draws filled bands."""
    at = open_page("compare", study="seeds", band="minmax")
    fills = [t for t in _figures(at)[0]["data"] if t.get("fill") == "toself"]
    assert fills  # adam and sgd (batch 16) each have two seeds


def test_unknown_params_fall_back_to_defaults(lab: Lab) -> None:
    """?color=bogus&x=sideways are ignored rather than failing."""
    at = open_page("compare", runs=f"{lab.adam},{lab.sgd}", color="bogus", x="sideways")
    assert not at.exception
    assert at.selectbox(key="compare.color").value == "auto"
    assert "color" not in at.query_params and "x" not in at.query_params


def test_table_tab_shows_only_differing_knobs_highlighted(studies: StudyLab) -> None:
    """?tab=table: optimizer, batch_size and seed columns, not image_size; cells are styled."""
    at = open_page("compare", study="seeds", tab="table")
    assert not at.exception and not _figures(at)
    table = at.dataframe[0]
    columns = list(table.value.columns)
    assert {"optimizer", "batch_size", "seed", "min_val_loss_epoch"} <= set(columns)
    assert "image_size" not in columns
    assert "background-color" in table.proto.arrow_data.styler.styles


def test_table_reports_best_and_lowest_loss_epochs(studies: StudyLab) -> None:
    """Each run's best validation accuracy is at epoch 3 of 4 in the seeded curves."""
    at = open_page("compare", study="seeds", tab="table")
    table = at.dataframe[0].value
    assert set(table["best_val_accuracy_epoch"]) == {3}
    assert set(table["min_val_loss_epoch"]) == {3}


def test_parallel_tab_draws_parallel_coordinates(studies: StudyLab) -> None:
    """?tab=parallel: one parcoords trace ending with best val accuracy."""
    at = open_page("compare", study="seeds", tab="parallel")
    [figure] = _figures(at)
    [trace] = figure["data"]
    assert trace["type"] == "parcoords"
    assert trace["dimensions"][-1]["label"] == "best val accuracy"


def test_downloads_are_offered_on_the_curves_tab(lab: Lab) -> None:
    """The curves tab offers the figure as HTML and the curves as CSV."""
    at = open_page("compare", runs=f"{lab.adam},{lab.sgd}")
    keys = {button.key for button in at.get("download_button")}
    assert {"compare.curves_html", "compare.curves_csv"} <= keys


def test_more_runs_than_drawn_says_so(studies: StudyLab, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the drawing cap, the page draws the newest and warns how many are left out."""
    monkeypatch.setattr(panels, "MAX_DRAWN", 2)
    at = open_page("compare", study="seeds")
    assert "Drawing the newest 2 of 5" in at.warning[0].value
    assert len(_drawn_runs(_figures(at)[0])) == 2


def test_running_runs_make_the_view_live(lab: Lab) -> None:
    """A selected running run says the view refreshes itself."""
    at = open_page("compare", runs=f"{lab.adam},{lab.running}")
    assert any("refreshing" in caption.value for caption in at.caption)


def test_compare_shares_the_view_as_a_relative_url(lab: Lab) -> None:
    """The share caption is the page's path with its query parameters."""
    at = open_page("compare", runs=f"{lab.adam},{lab.sgd}", metrics="loss,val_loss")
    path = f"/compare?runs={lab.adam},{lab.sgd}&metrics=loss,val_loss"
    assert any(path in caption.value for caption in at.caption)


def test_compare_with_nothing_picked_says_what_to_do(lab: Lab) -> None:
    """Without ?runs= or a filter the page asks for runs instead of drawing an empty chart."""
    at = open_page("compare")
    assert not at.exception and not _figures(at)
    assert "Pick runs" in at.info[0].value


def test_compare_saves_the_view_as_a_report(lab: Lab) -> None:
    """Save as report on Compare freezes the curves figure and the picked runs under an id."""
    from db.reports import list_reports

    at = open_page("compare", runs=f"{lab.adam},{lab.sgd}")
    title = next(t for t in at.text_input if t.label == "Title")
    title.set_value("adam vs sgd")
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception
    assert any("Saved report" in s.value for s in at.success)
    with lab.database.read() as session:
        reports = list_reports(session)
    assert [r.title for r in reports] == ["adam vs sgd"]


@pytest.mark.parametrize("mode", ["pick", "all"])
def test_a_status_filter_link_opens_the_mode_it_was_made_in(lab: Lab, mode: str) -> None:
    """Status "succeeded" in either mode: the URL it writes opens that mode and those runs."""
    at = open_page("compare")
    at.segmented_control(key="compare.mode").set_value(mode).run()
    at.pills(key="compare.f.status").set_value(["succeeded"]).run()
    assert at.segmented_control(key="compare.mode").value == mode
    shared = open_page("compare", **{k: at.query_params[k] for k in at.query_params})
    assert not shared.exception
    assert shared.segmented_control(key="compare.mode").value == mode
    drawn = _figures(shared)
    if mode == "all":
        assert _drawn_runs(drawn[0]) == {lab.adam, lab.sgd}
    else:
        assert not drawn and "Pick runs" in shared.info[0].value


def test_backbone_knobs_and_parameter_counts_in_the_table_pickers_and_curves(lab: Lab) -> None:
    """A fine-tuned MobileNetV2 against the report CNN: architecture, weights, freezing and
    fine-tuning are table columns and colour/dash choices, parameter counts are columns, and
    the curves mark where fine-tuning began."""
    from tests.dashboard.conftest import fine_tuned_run

    tuned = fine_tuned_run(lab.database, epochs=3)
    at = open_page("compare", runs=f"{lab.adam},{tuned}", tab="table")
    assert not at.exception
    table = next(t.value for t in at.dataframe if "epochs_text" in t.value.columns)
    table = table.set_index("id")
    knobs = ["architecture", "weights", "freeze_backbone", "fine_tune.at_epoch", "head_dropout"]
    assert set(knobs) <= set(table.columns)
    assert table.loc[tuned, "weights"] == "imagenet" and table.loc[lab.adam, "weights"] == "none"
    assert table.loc[tuned, "freeze_backbone"] and not table.loc[lab.adam, "freeze_backbone"]
    assert table.loc[tuned, "trainable_params"] == 1_865_000
    assert table.loc[tuned, "total_params"] == 2_260_000
    at = open_page("compare", runs=f"{lab.adam},{tuned}", color="weights", dash="freeze_backbone")
    assert not at.exception
    assert set(knobs) <= set(at.selectbox(key="compare.color").options)
    assert at.selectbox(key="compare.dash").value == "freeze_backbone"
    [figure] = _figures(at)
    marks = [t for t in figure["data"] if t["name"] == "fine-tuning starts"]
    assert len(marks) == 4  # one per series of the two panels
    assert all(t["customdata"][0].endswith("fine-tuning from epoch 3") for t in marks)


# Runs the lab did not train, with metrics of any name (tests/dashboard/foreign.py).


def _numbers(values: list | dict) -> list[float]:
    """A trace's array as Plotly's JSON holds it: a list, or typed bytes (`bdata`)."""
    if isinstance(values, dict):
        raw = base64.b64decode(values["bdata"])
        return np.frombuffer(raw, dtype=values["dtype"]).astype(float).tolist()
    return [float(v) for v in values]


def _diff_table(at: AppTest) -> pd.DataFrame:
    """The Table tab's table (after the picker), indexed by run id."""
    return at.dataframe[-1].value.set_index("id")


def _stars(figure: dict) -> list[tuple[float, float]]:
    """(epoch, value) of every best-epoch star, sorted."""
    return sorted(
        (x, y)
        for trace in figure["data"]
        if trace.get("name") == "best epoch"
        for x, y in zip(_numbers(trace["x"]), _numbers(trace["y"]), strict=True)
    )


def test_metric_picker_lists_every_metric_the_runs_logged(lab: Lab) -> None:
    """An import and a script run: the picker offers their own names, loss and accuracy first."""
    foreign = seed_foreign(lab)
    at = open_page("compare", runs=f"{foreign.imported},{foreign.script}")
    assert not at.exception
    options = at.pills(key="compare.metrics").options
    assert options[:4] == ["train loss", "validation loss", "train accuracy", "validation accuracy"]
    assert {"auc", "validation auc", "my_score", "validation my_score", "top_3_accuracy"} <= set(
        options
    )
    assert options[-1] == "seconds per epoch"


def test_a_custom_metric_draws_with_stars_at_its_best_epoch(lab: Lab) -> None:
    """?metrics=auc,val_auc: one "auc" panel; stars on each run's highest val_auc."""
    foreign = seed_foreign(lab)
    at = open_page("compare", runs=f"{foreign.imported},{foreign.script}", metrics="auc,val_auc")
    assert not at.exception
    [figure] = _figures(at)
    assert [a["text"] for a in figure["layout"]["annotations"]] == ["<b>auc</b>"]
    assert _drawn_runs(figure) == {foreign.imported, foreign.script}
    assert _stars(figure) == [(2.0, pytest.approx(0.77)), (3.0, pytest.approx(0.79))]
    assert at.query_params["metrics"] == "auc,val_auc"


def test_a_metric_of_unknown_direction_gets_no_stars_until_one_is_picked(lab: Lab) -> None:
    """val_my_score: a "better when" control and no stars; picking "lower" writes ?dir=."""
    foreign = seed_foreign(lab)
    at = open_page("compare", runs=f"{foreign.imported},{foreign.script}", metrics="val_my_score")
    assert not at.exception
    assert not _stars(_figures(at)[0])
    at.segmented_control(key="compare.dir.my_score").set_value("min").run()
    assert not at.exception
    assert at.query_params["dir"] == "my_score:min"
    assert _stars(_figures(at)[0]) == [(1.0, 2.5), (3.0, 1.0)]


def test_a_direction_in_the_url_stars_the_best_epochs(lab: Lab) -> None:
    """?dir=my_score:max sets the control and stars each run's highest val_my_score."""
    foreign = seed_foreign(lab)
    at = open_page(
        "compare",
        runs=f"{foreign.imported},{foreign.script}",
        metrics="val_my_score",
        dir="my_score:max",
    )
    assert at.segmented_control(key="compare.dir.my_score").value == "max"
    assert _stars(_figures(at)[0]) == [(2.0, 7.0), (2.0, 8.0)]


def test_a_url_direction_never_overrides_a_known_one(lab: Lab) -> None:
    """?dir=loss:max is dropped: loss is known to improve downwards, no control is offered."""
    at = open_page("compare", runs=f"{lab.adam},{lab.sgd}", metrics="val_loss", dir="loss:max")
    assert not at.exception
    assert "dir" not in at.query_params
    assert not [w for w in at.get("button_group") if w.key and w.key.startswith("compare.dir.")]
    assert _stars(_figures(at)[0]) == [(3.0, pytest.approx(0.4)), (3.0, pytest.approx(0.4))]


def test_table_shows_best_and_last_of_the_chosen_metric(lab: Lab) -> None:
    """?tab=table&of=val_auc: best and last val_auc with their epochs, per run."""
    foreign = seed_foreign(lab)
    at = open_page(
        "compare", runs=f"{foreign.imported},{foreign.script}", tab="table", of="val_auc"
    )
    assert not at.exception
    assert at.selectbox(key="compare.of").value == "val_auc"
    table = _diff_table(at)
    assert table.loc[foreign.imported, "best_val_auc"] == pytest.approx(0.79)
    assert table.loc[foreign.script, "best_val_auc_epoch"] == 2
    assert table.loc[foreign.imported, "last_val_auc"] == pytest.approx(0.79)
    assert "best_val_accuracy" not in table.columns


def test_table_of_a_metric_of_unknown_direction_asks_for_it(lab: Lab) -> None:
    """?of=val_my_score: last values only, until "lower" is picked; then the lowest too."""
    foreign = seed_foreign(lab)
    at = open_page(
        "compare", runs=f"{foreign.imported},{foreign.script}", tab="table", of="val_my_score"
    )
    table = _diff_table(at)
    assert "best_val_my_score" not in table.columns
    assert table.loc[foreign.imported, "last_val_my_score"] == 1.0
    assert any("is not known" in c.value for c in at.caption)
    at.segmented_control(key="compare.dir.my_score").set_value("min").run()
    table = _diff_table(at)
    assert table.loc[foreign.script, "best_val_my_score"] == 2.5
    assert at.query_params["dir"] == "my_score:min"


def test_table_default_is_validation_accuracy(lab: Lab) -> None:
    """?tab=table alone: best and last validation accuracy, and `of` stays out of the URL."""
    at = open_page("compare", runs=f"{lab.adam},{lab.sgd}", tab="table")
    assert at.selectbox(key="compare.of").value == "val_accuracy"
    assert "of" not in at.query_params
    columns = list(_diff_table(at).columns)
    assert {"best_val_accuracy", "last_val_accuracy", "min_val_loss"} <= set(columns)


def test_a_queued_run_offers_the_standard_metrics_before_its_first_epoch(lab: Lab) -> None:
    """A run not trained yet: the six series its worker will record, accuracy and loss picked."""
    at = open_page("compare", runs=str(lab.queued))
    assert not at.exception
    picker = at.pills(key="compare.metrics")
    assert len(picker.options) == 6
    assert set(picker.value or ()) == {"accuracy", "val_accuracy", "loss", "val_loss"}
    [figure] = _figures(at)
    assert "No epochs recorded yet" in [a["text"] for a in figure["layout"]["annotations"]]


def test_an_import_alone_offers_only_what_it_logged(lab: Lab) -> None:
    """An imported run's picker has no learning rate or epoch time: it logged neither."""
    foreign = seed_foreign(lab)
    at = open_page("compare", runs=str(foreign.imported))
    options = at.pills(key="compare.metrics").options
    assert "learning rate" not in options and "seconds per epoch" not in options
    assert "validation my_score" in options

"""Each page through AppTest (from dashboard/app.py, so navigation is real) on seeded SQLite."""

from __future__ import annotations

import io
import json

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.state import parse_ids
from db.models import RunStatus
from db.runs import get_run
from tests.dashboard.conftest import APP, CLASS_NAMES, TRACEBACK, Lab, open_page
from trainer.presets import report_study


def _run(lab: Lab, run_id: int):
    with lab.database.read() as session:
        return get_run(session, run_id)


def _figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def _errors(at: AppTest) -> str:
    return "\n".join(error.value for error in at.error)


# Router


def test_app_root_opens_the_queue_page(lab: Lab) -> None:
    """`/` (the hidden default page) forwards to Queue, so `/queue` links work too."""
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert at.title[0].value == "Queue runs"


# Queue


def test_queue_submit_queues_the_forms_values(lab: Lab) -> None:
    """Submitting the form queues one run carrying the values typed into it."""
    at = open_page("queue")
    at.text_input(key="cfg.name").set_value("my-run")
    at.selectbox(key="cfg.optimizer").set_value("sgd")
    at.number_input(key="cfg.epochs").set_value(7)
    at.button(key="cfg.submit").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == [f"Queued run {lab.queued + 1}"]
    run = _run(lab, lab.queued + 1)
    assert (run.name, run.optimizer, run.epochs, run.status) == (
        "my-run",
        "sgd",
        7,
        RunStatus.QUEUED,
    )
    assert run.config["augmentation"]["zoom_range"] == [0.2, 0.5]


def test_queue_zero_learning_rate_names_the_field_and_queues_nothing(lab: Lab) -> None:
    """A learning rate of 0 shows an error naming learning_rate; no run is added."""
    at = open_page("queue")
    at.number_input(key="cfg.learning_rate").set_value(0.0)
    at.button(key="cfg.submit").click().run()
    assert not at.exception
    assert "learning_rate" in _errors(at)
    assert not at.success
    assert lab.count_runs() == 5


def test_queue_zoom_low_above_high_names_the_field(lab: Lab) -> None:
    """A zoom range with low > high is refused with an error naming augmentation.zoom_range."""
    at = open_page("queue")
    at.number_input(key="cfg.augmentation.zoom_range.low").set_value(0.9)
    at.number_input(key="cfg.augmentation.zoom_range.high").set_value(0.5)
    at.button(key="cfg.submit").click().run()
    assert "augmentation.zoom_range" in _errors(at)
    assert lab.count_runs() == 5


def test_grid_preview_counts_combinations(lab: Lab) -> None:
    """Two optimizers times two batch sizes preview as 4 runs, none queued yet."""
    at = open_page("queue")
    at.text_area(key="grid.text").set_value("optimizer: [sgd, adam]\nbatch_size: [16, 32]")
    at.button(key="grid.preview_button").click().run()
    assert not at.exception
    assert any("4 runs" in m.value for m in at.markdown)
    preview = at.dataframe[0].value
    assert list(preview.columns) == ["name", "optimizer", "batch_size"] and len(preview) == 4
    assert at.button(key="grid.queue").label == "Queue 4 runs"
    assert lab.count_runs() == 5


def test_grid_queue_button_queues_every_combination(lab: Lab) -> None:
    """After a preview, "Queue N runs" adds all N runs in one go."""
    at = open_page("queue")
    at.text_area(key="grid.text").set_value("optimizer: [sgd, adam, rmsprop]")
    at.button(key="grid.preview_button").click().run()
    at.button(key="grid.queue").click().run()
    assert not at.exception
    assert lab.count_runs() == 5 + 3
    assert _run(lab, lab.queued + 3).name == "report-best [optimizer=rmsprop]"


def test_grid_with_a_bad_field_shows_the_problem(lab: Lab) -> None:
    """A grid over an unknown field is an error naming it, and no preview appears."""
    at = open_page("queue")
    at.text_area(key="grid.text").set_value("optimiser: [sgd, adam]")
    at.button(key="grid.preview_button").click().run()
    assert "grid.optimiser" in _errors(at)
    assert all(b.key != "grid.queue" for b in at.button)


def test_reproduce_report_queues_the_whole_study(lab: Lab) -> None:
    """The report button queues every run of report_study with the chosen size and scale."""
    at = open_page("queue")
    at.number_input(key="report.size").set_value(112)
    at.number_input(key="report.scale").set_value(0.1)
    at.button(key="report.submit").click().run()
    assert not at.exception
    expected = len(report_study(image_size=112, epochs_scale=0.1))
    assert lab.count_runs() == 5 + expected
    assert _run(lab, lab.queued + 1).image_size == 112


def test_recent_runs_lists_every_run_with_progress(lab: Lab) -> None:
    """The live list shows the seeded runs newest first with their epochs done."""
    at = open_page("queue")
    recent = at.dataframe[0].value
    assert list(recent["id"]) == [5, 4, 3, 2, 1]
    assert recent.set_index("id").loc[lab.running, "epochs_text"] == "2/3"


def test_cancel_a_queued_run(lab: Lab) -> None:
    """Cancel on a queued run marks it cancelled at once."""
    at = open_page("queue")
    at.selectbox(key="cancel.run").set_value(lab.queued)
    at.button(key="cancel.button").click().run()
    assert not at.exception
    assert _run(lab, lab.queued).status is RunStatus.CANCELLED


# Runs


def test_runs_status_filter_comes_from_the_url(lab: Lab) -> None:
    """?status=failed lists only the failed run and pre-selects the filter."""
    at = open_page("runs", status="failed")
    assert not at.exception
    assert at.multiselect(key="runs.status").value == ["failed"]
    assert list(at.dataframe[0].value["id"]) == [lab.failed]


def test_changing_the_status_filter_writes_the_url(lab: Lab) -> None:
    """Picking statuses rewrites ?status=, so the address bar is the share link."""
    at = open_page("runs")
    at.multiselect(key="runs.status").set_value(["running", "queued"]).run()
    assert at.query_params["status"] == "running,queued"
    assert sorted(at.dataframe[0].value["id"]) == [lab.running, lab.queued]


def test_runs_study_filter_comes_from_the_url(lab: Lab) -> None:
    """?study=optim lists the study's two runs."""
    at = open_page("runs", study="optim")
    assert sorted(at.dataframe[0].value["id"]) == [lab.adam, lab.sgd]


def test_selected_failed_run_shows_its_traceback_as_text(lab: Lab) -> None:
    """A failed run's error is shown verbatim in a code block (HTML stays text)."""
    at = open_page("runs", runs=str(lab.failed))
    assert not at.exception
    assert [code.value for code in at.code] == [TRACEBACK]
    assert any(f"Run {lab.failed} · failed-run" in h.value for h in at.subheader)


def test_selected_run_shows_its_curves(lab: Lab) -> None:
    """A selected run draws its accuracy and loss curves."""
    at = open_page("runs", runs=str(lab.adam))
    assert len(_figures(at)) == 2


def test_compare_selected_opens_compare_with_those_runs(lab: Lab) -> None:
    """The Compare-selected button opens Compare with ?runs= set to the selection."""
    at = open_page("runs", runs=f"{lab.adam},{lab.sgd}")
    at.button(key="runs.compare").click().run()
    assert not at.exception
    assert at.query_params["runs"] == f"{lab.adam},{lab.sgd}"
    assert at.multiselect(key="compare.runs").value == [lab.adam, lab.sgd]


# Compare


def test_compare_from_url_draws_curves_grouped_by_the_differing_knob(lab: Lab) -> None:
    """?runs= of an adam and an sgd run draw four traces coloured by optimizer."""
    at = open_page("compare", runs=f"{lab.adam},{lab.sgd}")
    assert not at.exception
    [figure] = _figures(at)
    names = [trace["name"] for trace in figure["data"]]
    assert names == [
        "optimizer=adam · train",
        "optimizer=adam · val",
        "optimizer=sgd · train",
        "optimizer=sgd · val",
    ]


def test_compare_table_shows_only_differing_knobs(lab: Lab) -> None:
    """The runs table has the optimizer column (it differs) but not batch_size (it does not)."""
    at = open_page("compare", runs=f"{lab.adam},{lab.sgd}")
    columns = list(at.dataframe[0].value.columns)
    assert "optimizer" in columns and "batch_size" not in columns
    assert "best_val_accuracy" in columns


def test_compare_study_param_selects_the_whole_study(lab: Lab) -> None:
    """?study=optim picks every run of that study."""
    at = open_page("compare", study="optim")
    assert sorted(at.multiselect(key="compare.runs").value) == [lab.adam, lab.sgd]


def test_choosing_a_study_picks_its_runs_and_updates_the_url(lab: Lab) -> None:
    """Selecting a study in the picker replaces the runs with the study's and writes the URL."""
    at = open_page("compare", runs=str(lab.running))
    at.selectbox(key="compare.study").set_value("optim").run()
    assert not at.exception
    assert sorted(at.multiselect(key="compare.runs").value) == [lab.adam, lab.sgd]
    assert at.query_params["study"] == "optim"
    assert sorted(parse_ids(at.query_params["runs"])) == [lab.adam, lab.sgd]


def test_compare_metric_and_colour_come_from_the_url(lab: Lab) -> None:
    """?metric=loss&color=run plots loss with one colour per run."""
    at = open_page("compare", runs=f"{lab.adam},{lab.running}", metric="loss", color="run")
    [figure] = _figures(at)
    assert figure["layout"]["yaxis"]["title"]["text"] == "loss"
    assert figure["data"][0]["name"] == f"run={lab.adam} · train"


def test_compare_shares_the_view_as_a_relative_url(lab: Lab) -> None:
    """The share caption is the page's path with its query parameters."""
    at = open_page("compare", runs=f"{lab.adam},{lab.sgd}", metric="loss")
    assert any(f"/compare?runs={lab.adam},{lab.sgd}&metric=loss" in c.value for c in at.caption)


def test_compare_with_nothing_picked_says_what_to_do(lab: Lab) -> None:
    """Without ?runs= or ?study= the page asks for runs instead of drawing an empty chart."""
    at = open_page("compare")
    assert not at.exception and not _figures(at)
    assert "Pick runs" in at.info[0].value


# Predict


def test_predict_without_models_points_to_queue(lab: Lab) -> None:
    """With no stored model, Predict says so and links to the Queue page."""
    at = open_page("predict")
    assert not at.exception
    assert "No run has a model yet" in at.info[0].value
    assert at.get("page_link")


# Database problems


@pytest.mark.parametrize("view", ["queue", "runs", "compare", "predict"])
def test_unmigrated_database_shows_the_command_to_run(
    view: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty database gives one error naming `python -m db upgrade`, not a traceback."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'blank.db'}")
    at = open_page(view)
    assert not at.exception
    assert len(at.error) == 1 and "python -m db upgrade" in at.error[0].value


def _png(size: int = 40) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (90, 140, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_predict_lists_runs_with_a_model(lab: Lab, model_run: int) -> None:
    """Runs that stored a model are offered, the one in ?run= selected."""
    at = open_page("predict", run=str(model_run))
    assert not at.exception
    assert at.selectbox(key="predict.run").value == model_run
    assert at.query_params["run"] == str(model_run)


def test_predict_shows_probabilities_and_names_a_bad_file(lab: Lab, model_run: int) -> None:
    """A photo gets a sorted probability chart; a non-image gets one error with its name."""
    at = open_page("predict", run=str(model_run))
    at.file_uploader(key="predict.files").set_value(
        [("sky.png", _png(), "image/png"), ("notes.jpg", b"not an image", "image/jpeg")]
    )
    at.run()
    assert not at.exception
    assert len(at.error) == 1 and at.error[0].value.startswith("notes.jpg: ")
    [figure] = _figures(at)
    assert sorted(figure["data"][0]["y"]) == sorted(CLASS_NAMES)
    assert [image.captions for image in at.get("image")] == [["sky.png"]]


def test_selected_succeeded_run_shows_its_model_summary(lab: Lab, model_run: int) -> None:
    """A run with a stored model lists its layers and parameter count on the Runs page."""
    at = open_page("runs", runs=str(model_run))
    assert not at.exception
    layers = at.dataframe[1].value
    assert "probabilities" in list(layers["layer"])
    assert any("parameters" in caption.value for caption in at.caption)

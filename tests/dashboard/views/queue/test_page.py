"""The Queue page through AppTest: the form, grids, the report preset, recent runs."""

from __future__ import annotations

import json

import pandas as pd
from streamlit.testing.v1 import AppTest

from db.models import RunStatus
from db.runs import get_run
from experiment.presets import report_study
from tests.dashboard.conftest import Lab, open_page


def _run(lab: Lab, run_id: int):
    with lab.database.read() as session:
        return get_run(session, run_id)


def _figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def _frame(at: AppTest, column: str) -> pd.DataFrame:
    """The page's table with `column`: the recent runs have "progress", a preview "same as run"."""
    return next(table.value for table in at.dataframe if column in table.value.columns)


def _errors(at: AppTest) -> str:
    return "\n".join(error.value for error in at.error)


def test_queue_submit_queues_the_forms_values(lab: Lab) -> None:
    """Submitting the form queues one run carrying the values typed into it."""
    at = open_page("queue")
    at.text_input(key="cfg.name").set_value("my-run")
    at.selectbox(key="cfg.optimizer").set_value("sgd")
    at.number_input(key="cfg.epochs").set_value(7)
    at.button(key="cfg.submit").click().run()
    assert not at.exception
    new = lab.queued + 1
    assert [s.value for s in at.success] == [f"Queued [run {new}](run?id={new}): my-run"]
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


def test_queue_a_frozen_imagenet_backbone_that_fine_tunes(lab: Lab) -> None:
    """The backbone fields queue MobileNetV2 from ImageNet, frozen, fine-tuning at epoch 4."""
    at = open_page("queue")
    at.selectbox(key="cfg.architecture").set_value("mobilenet_v2")
    at.text_input(key="cfg.weights").set_value("imagenet")
    at.checkbox(key="cfg.freeze_backbone").check()
    at.checkbox(key="cfg.fine_tune.on").check()
    at.number_input(key="cfg.fine_tune.at_epoch").set_value(4)
    at.text_input(key="cfg.fine_tune.layers").set_value("30")
    at.button(key="cfg.submit").click().run()
    assert not at.exception and not at.error
    config = _run(lab, lab.queued + 1).config
    assert (config["architecture"], config["weights"], config["freeze_backbone"]) == (
        "mobilenet_v2",
        "imagenet",
        True,
    )
    assert config["fine_tune"] == {"at_epoch": 4, "layers": 30, "learning_rate": 1e-5}


def test_backbone_knobs_on_the_report_cnn_name_the_field(lab: Lab) -> None:
    """Freezing the report CNN (no backbone) is refused with an error naming freeze_backbone."""
    at = open_page("queue")
    at.checkbox(key="cfg.freeze_backbone").check()
    at.button(key="cfg.submit").click().run()
    assert not at.exception
    assert "`freeze_backbone`: only keras.applications backbones" in _errors(at)
    assert lab.count_runs() == 5


def test_a_builder_of_your_own_is_queued_by_name_with_json_params(lab: Lab) -> None:
    """A `package.module:function` and JSON params queue as typed (the page imports nothing);
    params that are not JSON are an error naming architecture_params."""
    at = open_page("queue")
    at.text_input(key="cfg.architecture.own").set_value("nowhere_installed.nets:build")
    at.text_area(key="cfg.architecture_params").set_value('{"width": 8')
    at.button(key="cfg.submit").click().run()
    assert "`architecture_params`: not JSON" in _errors(at)
    assert lab.count_runs() == 5
    at.text_area(key="cfg.architecture_params").set_value('{"width": 8}')
    at.button(key="cfg.submit").click().run()
    assert not at.exception and not at.error
    config = _run(lab, lab.queued + 1).config
    assert config["architecture"] == "nowhere_installed.nets:build"
    assert config["architecture_params"] == {"width": 8}


def test_a_backbone_below_its_minimum_size_names_image_size(lab: Lab) -> None:
    """Xception at 64 px: the error names image_size and the 71 px it needs."""
    at = open_page("queue")
    at.selectbox(key="cfg.architecture").set_value("xception")
    at.number_input(key="cfg.image_size").set_value(64)
    at.button(key="cfg.submit").click().run()
    assert "`image_size`: xception needs at least 71 px" in _errors(at)


def test_grid_preview_counts_combinations(lab: Lab) -> None:
    """Two optimizers times two batch sizes preview as 4 runs, none queued yet."""
    at = open_page("queue")
    at.text_area(key="grid.text").set_value("optimizer: [sgd, adam]\nbatch_size: [16, 32]")
    at.button(key="grid.preview_button").click().run()
    assert not at.exception
    assert any("4 runs" in m.value for m in at.markdown)
    preview = at.dataframe[0].value
    assert list(preview.columns) == ["name", "optimizer", "batch_size", "same as run", "est. time"]
    assert len(preview) == 4
    assert any("0 of 4 repeat" in c.value for c in at.caption)
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
    assert _run(lab, lab.queued + 3).name == "quick-start [optimizer=rmsprop]"
    assert any(f"runs [{lab.queued + 1}](run?id={lab.queued + 1})" in s.value for s in at.success)


def test_queue_run_with_a_filled_grid_box_previews_the_grid_and_says_so(lab: Lab) -> None:
    """ "Queue run" with grid lines queues nothing: it previews the grid and tells why."""
    at = open_page("queue")
    at.text_area(key="grid.text").set_value("optimizer: [sgd, adam]")
    at.button(key="cfg.submit").click().run()
    assert not at.exception
    assert lab.count_runs() == 5
    assert any("2 runs" in m.value for m in at.markdown)
    assert any("previewed the grid instead" in i.value for i in at.info)
    assert at.button(key="grid.queue").label == "Queue 2 runs"


def test_grid_with_a_bad_field_shows_the_problem(lab: Lab) -> None:
    """A grid over an unknown field is an error naming it, and no preview appears."""
    at = open_page("queue")
    at.text_area(key="grid.text").set_value("optimiser: [sgd, adam]")
    at.button(key="grid.preview_button").click().run()
    assert "grid.optimiser" in _errors(at)
    assert all(b.key != "grid.queue" for b in at.button)


def test_reproduce_report_previews_then_queues_the_whole_study(lab: Lab) -> None:
    """The report button previews every run of report_study (runs, repeats, estimate); its
    "Queue N runs" queues them with the chosen size and scale."""
    at = open_page("queue")
    at.number_input(key="report.size").set_value(112)
    at.number_input(key="report.scale").set_value(0.1)
    at.button(key="report.submit").click().run()
    assert not at.exception
    expected = len(report_study(image_size=112, epochs_scale=0.1))
    assert lab.count_runs() == 5
    assert len(_frame(at, "same as run")) == expected
    assert any(f"0 of {expected} repeat" in c.value for c in at.caption)
    at.button(key="grid.queue").click().run()
    assert lab.count_runs() == 5 + expected
    assert _run(lab, lab.queued + 1).image_size == 112


def test_recent_runs_lists_every_run_with_progress(lab: Lab) -> None:
    """The live list shows the seeded runs newest first with their epochs done."""
    at = open_page("queue")
    recent = _frame(at, "progress")
    assert list(recent["open"]) == [f"run?id={i}" for i in (5, 4, 3, 2, 1)]
    assert recent.set_index("open").loc[f"run?id={lab.running}", "epochs_text"] == "2/3"


def test_cancel_a_queued_run(lab: Lab) -> None:
    """Cancel on a queued run marks it cancelled at once."""
    at = open_page("queue")
    at.selectbox(key="cancel.run").set_value(lab.queued)
    at.button(key="cancel.button").click().run()
    assert not at.exception
    assert _run(lab, lab.queued).status is RunStatus.CANCELLED
    assert any(f"Run {lab.queued} cancelled" in i.value for i in at.info)
    status = _frame(at, "progress").set_index("open")["status"]
    assert status[f"run?id={lab.queued}"] == "cancelled"


def test_cancel_a_running_run_says_it_was_requested_and_the_list_follows(lab: Lab) -> None:
    """Cancel on a running run: the message says its worker was asked; the list shows it."""
    at = open_page("queue")
    at.selectbox(key="cancel.run").set_value(lab.running)
    at.button(key="cancel.button").click().run()
    assert any("Asked run" in i.value for i in at.info)
    status = _frame(at, "progress").set_index("open")["status"]
    assert status[f"run?id={lab.running}"] == "running, cancelling"


def test_clone_of_a_missing_run_says_so(lab: Lab) -> None:
    """`?clone=999` warns that run 999 does not exist and the form keeps its usual values."""
    at = open_page("queue", clone="999")
    assert not at.exception
    assert "There is no run 999" in at.warning[0].value
    assert at.text_input(key="cfg.name").value == "quick-start"


def test_report_preset_fills_the_form_with_the_reports_values(lab: Lab) -> None:
    """The form opens CPU-sized; "Report's best setting" sets 224 px and 50 epochs."""
    at = open_page("queue")
    assert at.number_input(key="cfg.image_size").value == 112
    at.button(key="preset.report").click().run()
    assert not at.exception
    assert at.number_input(key="cfg.image_size").value == 224
    assert at.number_input(key="cfg.epochs").value == 50


def test_the_form_says_how_many_images_an_epoch_sees(lab: Lab) -> None:
    """With 70 steps fixed, batch 32 makes an epoch 2,240 images; no history: no estimate."""
    at = open_page("queue")
    at.number_input(key="cfg.batch_size").set_value(32).run()
    notes = " ".join(c.value for c in at.caption)
    assert "70 batches of 32 = 2,240 images" in notes
    assert "No time estimate yet" in notes


# Database problems


def test_the_report_study_can_add_the_imagenet_backbones(lab: Lab) -> None:
    """Ticking the backbones box previews the study with MobileNetV2 and EfficientNetB0 from
    ImageNet weights, frozen, and a note that the workers need those weights."""
    at = open_page("queue")
    box = at.checkbox(key="report.with.backbones")
    assert "needs the ImageNet weights" in box.label and "~/.keras/models" in (box.help or "")
    box.check()
    at.number_input(key="report.size").set_value(112)
    at.number_input(key="report.scale").set_value(0.1)
    at.button(key="report.submit").click().run()
    assert not at.exception and not at.error
    expected = report_study(image_size=112, epochs_scale=0.1, extra=["backbones"])
    assert len(_frame(at, "same as run")) == len(expected)
    assert len(expected) == len(report_study(image_size=112, epochs_scale=0.1)) + 2
    assert any("ImageNet weights" in i.value for i in at.info)
    at.button(key="grid.queue").click().run()
    configs = [_run(lab, lab.queued + i).config for i in range(1, len(expected) + 1)]
    backbones = {c["architecture"]: c for c in configs if c["weights"] == "imagenet"}
    assert set(backbones) == {"mobilenet_v2", "efficientnet_b0"}
    assert all(c["freeze_backbone"] for c in backbones.values())


def test_cloning_a_fine_tuned_backbone_run_keeps_its_backbone_settings(lab: Lab) -> None:
    """`?clone=N` of a frozen, fine-tuned MobileNetV2 fills the backbone fields; queueing it
    gives the same weights, freezing, fine-tuning and head dropout."""
    from tests.dashboard.conftest import fine_tuned_run

    source = fine_tuned_run(lab.database)
    at = open_page("queue", clone=str(source))
    assert not at.exception
    assert at.selectbox(key="cfg.architecture").value == "mobilenet_v2"
    assert at.checkbox(key="cfg.fine_tune.on").value
    assert at.text_input(key="cfg.fine_tune.layers").value == "30"
    at.button(key="cfg.submit").click().run()
    assert not at.exception and not at.error
    copied, original = _run(lab, source + 1).config, _run(lab, source).config
    for field in ("architecture", "weights", "freeze_backbone", "fine_tune", "head_dropout"):
        assert copied[field] == original[field], field

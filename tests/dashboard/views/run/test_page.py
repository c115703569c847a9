"""The Run page (`/run?id=N`) through AppTest on a seeded SQLite database."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import TRACEBACK, EvaluatedLab, Lab, fine_tuned_run, open_page

ROOT = Path(__file__).resolve().parents[2]


def _figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def _titles(at: AppTest) -> list[str]:
    return [figure["layout"]["title"]["text"] for figure in _figures(at)]


def _captions(at: AppTest) -> list[str]:
    return [caption for image in at.get("image") for caption in image.captions]


def test_run_page_without_id_points_to_runs(lab: Lab) -> None:
    """`/run` without `?id=` says what it needs and links to the Runs page."""
    at = open_page("run")
    assert not at.exception
    assert "?id=" in at.info[0].value
    assert at.get("page_link")


def test_unknown_run_says_so(lab: Lab) -> None:
    """`?id=` of a run that does not exist is a warning, not a traceback."""
    at = open_page("run", id="999")
    assert not at.exception
    assert "no run 999" in at.warning[0].value


def test_curves_tab_draws_accuracy_loss_and_learning_rate(evaluated_lab: EvaluatedLab) -> None:
    """The default tab shows the run's title, outcome and its three curve figures."""
    at = open_page("run", id=str(evaluated_lab.a))
    assert not at.exception
    assert at.title[0].value == f"Run {evaluated_lab.a} · adam \\<b\\>A\\</b\\>"
    assert sorted(_titles(at)) == ["Accuracy", "Learning rate", "Loss"]
    [accuracy] = [f for f in _figures(at) if f["layout"]["title"]["text"] == "Accuracy"]
    assert [trace["name"] for trace in accuracy["data"]] == ["train", "validation"]
    assert any(m.label == "status" and m.value == "succeeded" for m in at.metric)


def test_failed_run_shows_its_traceback_as_text(lab: Lab) -> None:
    """A failed run's error is a code block, verbatim (its HTML stays text)."""
    at = open_page("run", id=str(lab.failed))
    assert not at.exception
    assert [code.value for code in at.code] == [TRACEBACK]


def test_evaluation_tab_confusion_table_and_misclassified_gallery(
    evaluated_lab: EvaluatedLab,
) -> None:
    """Evaluation: confusion counts, per-class metrics and the one mistake with its classes."""
    at = open_page("run", id=str(evaluated_lab.a), tab="Evaluation")
    assert not at.exception
    [confusion] = _figures(at)
    assert confusion["data"][0]["text"][1] == ["1", "1", "0", "0"]  # rain: 1 right, 1 as cloudy
    per_class = at.dataframe[0].value
    assert list(per_class["class"]) == ["cloudy", "rain", "shine", "sunrise"]
    assert per_class.set_index("class").loc["rain", "recall"] == 0.5
    assert _captions(at) == ["rain → cloudy (60%)"]


def test_confusion_matrix_row_normalised_from_the_url(evaluated_lab: EvaluatedLab) -> None:
    """`?cm=row-normalised` shows each true class's shares."""
    at = open_page("run", id=str(evaluated_lab.a), tab="Evaluation", cm="row-normalised")
    assert not at.exception
    [confusion] = _figures(at)
    assert confusion["data"][0]["text"][1] == ["50%", "50%", "0%", "0%"]
    assert "share" in confusion["layout"]["title"]["text"]


def test_versus_from_url_compares_per_class_delta_and_galleries(
    evaluated_lab: EvaluatedLab,
) -> None:
    """`?vs=B` opens the comparison: grouped bars, A − B heatmap, right/wrong galleries."""
    lab = evaluated_lab
    at = open_page("run", id=str(lab.a), vs=str(lab.b))
    assert not at.exception
    assert at.multiselect(key="run.vs").value == [lab.b]
    per_class, delta = _figures(at)
    assert [trace["name"] for trace in per_class["data"]] == [
        f"{lab.a} · adam &lt;b&gt;A&lt;/b&gt;",
        f"{lab.b} · sgd-b",
    ]
    assert delta["data"][0]["text"][0] == ["+1", "-1", "0", "0"]  # cloudy: A right where B not
    assert sorted(_captions(at)) == sorted(
        ["cloudy · said rain (60%)", "shine · said sunrise (60%)", "rain · said cloudy (60%)"]
    )


def test_versus_offers_only_runs_on_the_same_validation_set(evaluated_lab: EvaluatedLab) -> None:
    """The picker lists B (same classes and images) but not the 3-class run."""
    lab = evaluated_lab
    at = open_page("run", id=str(lab.a), tab="Versus", vs=str(lab.other))
    assert not at.exception
    picker = at.multiselect(key="run.vs")
    assert picker.options == [f"{lab.b} · sgd-b (accuracy 0.750)"]
    assert picker.value == []
    assert any("Not comparable with this run" in c.value for c in at.caption)


def test_augmentation_tab_previews_thumbnails_when_the_dataset_is_elsewhere(
    evaluated_lab: EvaluatedLab,
) -> None:
    """Augmentation: one row per class thumbnail, the original then six draws."""
    at = open_page("run", id=str(evaluated_lab.a), tab="Augmentation")
    assert not at.exception
    rows = at.get("image")
    assert len(rows) == 4
    assert rows[0].captions == ["cloudy"] + [f"draw {i}" for i in range(1, 7)]
    assert any("thumbnails" in caption.value for caption in at.caption)


def test_model_tab_lists_layers_and_offers_the_download(evaluated_lab: EvaluatedLab) -> None:
    """Model: the stored summary's layers, and a download named run-<id>.keras."""
    at = open_page("run", id=str(evaluated_lab.a), tab="Model")
    assert not at.exception
    [layers] = [t.value for t in at.dataframe if "layer" in t.value.columns]
    assert "probabilities" in list(layers["layer"])
    [download] = at.get("download_button")
    assert download.proto.label.startswith("Download model (.keras, ")


def test_a_model_with_custom_layers_says_predict_on_a_worker(
    evaluated_lab: EvaluatedLab, custom_layer_model: tuple[bytes, dict]
) -> None:
    """A stored model with a custom layer: the page names the layer and says to predict on a
    worker; no "Predict with this model" link; the Model tab still lists the summary."""
    from tests.dashboard.conftest import evaluated_run

    meta = custom_layer_model[1]
    run_id = evaluated_run(
        evaluated_lab.database,
        "custom-layers",
        (0, 0, 0, 1, 2, 2, 3, 3),
        model=custom_layer_model,
        architecture=meta["architecture"],
        image_size=32,
    )
    at = open_page("run", id=str(run_id), tab="Model")
    assert not at.exception
    [warning] = [w.value for w in at.warning]
    assert f"custom layers (`{meta['custom_objects'][0]}`) the dashboard cannot load" in warning
    assert f"python -m trainer predict {run_id} IMAGE" in warning
    labels = [link.proto.label for link in at.get("page_link")]
    assert "Predict with this model" not in labels and "Open in Compare" in labels
    at = open_page("run", id=str(evaluated_lab.a))
    assert not at.warning
    assert "Predict with this model" in [link.proto.label for link in at.get("page_link")]


def test_fine_tuning_is_marked_on_the_curves_with_its_trainable_count(lab: Lab) -> None:
    """A run that fine-tuned from epoch 3: each curve has a dotted line between epochs 2 and 3
    labelled with the phase's trainable parameters, and a caption says it in words."""
    run_id = fine_tuned_run(lab.database)
    at = open_page("run", id=str(run_id))
    assert not at.exception
    for figure in _figures(at):
        lines = [s for s in figure["layout"].get("shapes", []) if s.get("x0") == 2.5]
        assert len(lines) == 1, figure["layout"]["title"]
        texts = [a["text"] for a in figure["layout"]["annotations"]]
        assert "fine-tuning from epoch 3: 1.86M of 2.26M trainable" in texts
    captions = [c.value for c in at.caption]
    assert "Fine-tuning from epoch 3: 1.86M of 2.26M trainable (the dotted line)." in captions


def test_a_run_without_phases_draws_no_phase_line(evaluated_lab: EvaluatedLab) -> None:
    """A run trained in one go: only the best-epoch line, no fine-tuning caption."""
    at = open_page("run", id=str(evaluated_lab.a))
    for figure in _figures(at):
        assert all(s.get("x0") != 2.5 for s in figure["layout"].get("shapes", []))
    assert not any("the dotted line" in c.value for c in at.caption)


def test_model_tab_shows_the_backbone_setup_and_each_phases_parameters(lab: Lab) -> None:
    """Model: architecture, weights, freezing, fine-tuning and head dropout as the config has
    them, parameter counts, and one row per phase with its trainable count."""
    run_id = fine_tuned_run(lab.database)
    at = open_page("run", id=str(run_id), tab="Model")
    assert not at.exception
    setup = next(t.value for t in at.dataframe if "setting" in t.value.columns)
    values = dict(zip(setup["setting"], setup["value"], strict=True))
    assert values["architecture"] == "mobilenet_v2" and values["weights"] == "imagenet"
    assert values["freeze backbone"] == "yes" and values["head dropout"] == "0.2"
    assert values["fine-tune"] == (
        "from epoch 3: the last 30 layers of the backbone at learning rate 1e-05"
    )
    assert values["total parameters"] == "2,260,000"
    assert values["trainable parameters (latest phase)"] == "1,865,000"
    phases = next(t.value for t in at.dataframe if "phase" in t.value.columns)
    assert list(phases["from epoch"]) == [1, 3]
    assert list(phases["phase"]) == ["frozen backbone", "fine-tuning"]
    assert list(phases["trainable"]) == [5_124, 1_865_000]
    assert list(phases["unfrozen layers"]) == ["-", "30"]


def test_model_tab_of_a_lab_model_says_it_trains_from_scratch(evaluated_lab: EvaluatedLab) -> None:
    """A ResNet-20 run: no weights, not frozen, no fine-tuning; counts unknown (no phases)."""
    at = open_page("run", id=str(evaluated_lab.a), tab="Model")
    setup = next(t.value for t in at.dataframe if "setting" in t.value.columns)
    values = dict(zip(setup["setting"], setup["value"], strict=True))
    assert values["architecture"] == "resnet20"
    assert values["weights"] == "none (random initialisation)"
    assert values["fine-tune"] == "no" and values["total parameters"] == "-"
    assert not any("phase" in t.value.columns for t in at.dataframe)


def test_details_tab_shows_environment_and_attempts(evaluated_lab: EvaluatedLab) -> None:
    """Details: the environment table and the attempts, including one handed back."""
    lab = evaluated_lab
    at = open_page("run", id=str(lab.handed_back), tab="Details")
    assert not at.exception
    attempts = at.dataframe[-1].value
    assert list(attempts["outcome"]) == ["handed_back"]
    assert "worker shut down" in attempts["detail"][0]


def test_save_as_report_freezes_the_run_view(evaluated_lab: EvaluatedLab) -> None:
    """Saving from the run page stores a report with its figures and a note."""
    from db.reports import get_report, list_reports

    lab = evaluated_lab
    at = open_page("run", id=str(lab.a), vs=str(lab.b))
    at.text_area(key="run.report.note").set_value("B confuses **cloudy**")
    at.button(key="FormSubmitter:run.report.form-Save").click().run()
    assert not at.exception
    with lab.database.read() as session:
        [summary] = list_reports(session)
        report = get_report(session, summary.id)
    assert report is not None and report.kind == "run"
    assert report.note == "B confuses **cloudy**"
    assert report.state["run_ids"] == [lab.a, lab.b]
    assert report.state["settings"]["vs"] == [lab.b]
    assert set(report.figures) == {"Accuracy per class", f"Confusion difference {lab.a} − {lab.b}"}
    assert any(summary.id in s.value for s in at.success)


# Pure functions behind the page


def test_running_run_curves_refresh_live(lab: Lab) -> None:
    """A running run's curves come with its progress and redraw every 3 s."""
    at = open_page("run", id=str(lab.running))
    assert not at.exception
    assert any("2 of 3 epochs done" in caption.value for caption in at.caption)
    assert "Accuracy" in _titles(at)

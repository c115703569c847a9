"""The Predict page through AppTest: several runs' models side by side, Grad-CAM, bad files."""

from __future__ import annotations

import io
import json

from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import CLASS_NAMES, EvaluatedLab, Lab, open_page


def _png(size: int = 40) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (90, 140, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def _figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def test_predict_without_models_points_to_queue(lab: Lab) -> None:
    """With no stored model, Predict says so and links to the Queue page."""
    at = open_page("predict")
    assert not at.exception
    assert "No run has a model yet" in at.info[0].value
    assert at.get("page_link")


def test_predict_runs_come_from_the_url_and_the_old_run_param_still_works(
    evaluated_lab: EvaluatedLab,
) -> None:
    """`?runs=a,b` picks both models; the older `?run=b` is read as `?runs=b`."""
    lab = evaluated_lab
    at = open_page("predict", runs=f"{lab.a},{lab.b}")
    assert not at.exception
    assert at.multiselect(key="predict.runs").value == [lab.a, lab.b]
    at = open_page("predict", run=str(lab.b))
    assert at.multiselect(key="predict.runs").value == [lab.b]
    assert at.query_params["runs"] == str(lab.b) and "run" not in at.query_params


def test_two_runs_side_by_side_with_grad_cam_and_one_error_per_bad_file(
    evaluated_lab: EvaluatedLab,
) -> None:
    """Each run gives top-k bars and a Grad-CAM overlay; a non-image gets one error naming it."""
    lab = evaluated_lab
    at = open_page("predict", runs=f"{lab.a},{lab.b}", k="2")
    at.file_uploader(key="predict.files").set_value(
        [("sky.png", _png(), "image/png"), ("notes.jpg", b"not an image", "image/jpeg")]
    )
    at.run()
    assert not at.exception
    assert len(at.error) == 1 and at.error[0].value.startswith("notes.jpg: ")
    bars = _figures(at)
    assert len(bars) == 2  # one per run, for the one good image
    assert all(
        len(f["data"][0]["y"]) == 2 and set(f["data"][0]["y"]) <= set(CLASS_NAMES) for f in bars
    )
    captions = [caption for image in at.get("image") for caption in image.captions if caption]
    assert captions[0] == "sky.png"
    assert len([c for c in captions if c.startswith("Grad-CAM for ")]) == 2
    # A flat blue square is unlike the validation images: both models say "not confident".
    assert len([m for m in at.markdown if "not confident" in m.value]) == 2


def test_grad_cam_can_be_switched_off_in_the_url(evaluated_lab: EvaluatedLab) -> None:
    """`?cam=0` shows probabilities without heatmaps."""
    at = open_page("predict", runs=str(evaluated_lab.a), cam="0")
    at.file_uploader(key="predict.files").set_value([("sky.png", _png(), "image/png")])
    at.run()
    assert not at.exception
    assert at.toggle(key="predict.cam").value is False
    assert [c for image in at.get("image") for c in image.captions if c] == ["sky.png"]
    assert len(_figures(at)) == 1


def test_heatmap_opacity_comes_from_the_url(evaluated_lab: EvaluatedLab) -> None:
    """`?opacity=0.8` sets the slider, which the page writes back; the colour scale shows."""
    at = open_page("predict", runs=str(evaluated_lab.a), opacity="0.8")
    at.file_uploader(key="predict.files").set_value([("sky.png", _png(), "image/png")])
    at.run()
    assert not at.exception
    assert at.slider(key="predict.opacity").value == 0.8
    assert at.query_params["opacity"] == "0.8"
    assert any("Colour scale" in c.value for c in at.caption)


def _custom_run(lab: EvaluatedLab, model: tuple[bytes, dict], name: str) -> int:
    from tests.dashboard.conftest import evaluated_run

    return evaluated_run(
        lab.database,
        name,
        (0, 0, 0, 1, 2, 2, 3, 3),
        model=model,
        architecture=model[1]["architecture"],
        image_size=32,
    )


def test_a_model_with_custom_layers_says_so_and_the_others_still_predict(
    evaluated_lab: EvaluatedLab, custom_layer_model: tuple[bytes, dict]
) -> None:
    """A stored model with a custom layer is not loaded: Predict names the layer and says to
    predict on a worker; the other picked run still gives its bars and Grad-CAM."""
    lab = evaluated_lab
    custom = _custom_run(lab, custom_layer_model, "custom-layers")
    at = open_page("predict", runs=f"{custom},{lab.a}")
    at.file_uploader(key="predict.files").set_value([("sky.png", _png(), "image/png")])
    at.run()
    assert not at.exception and not at.error
    [warning] = [w.value for w in at.warning]
    layer = custom_layer_model[1]["custom_objects"][0]
    assert f"Run {custom}: This model uses custom layers (`{layer}`)" in warning
    assert "the dashboard cannot load; predict on a worker" in warning
    assert f"python -m trainer predict {custom} IMAGE" in warning
    assert len(_figures(at)) == 1  # lab.a's bars


def test_a_custom_layer_model_stored_without_its_list_is_caught_on_load(
    evaluated_lab: EvaluatedLab, custom_layer_model: tuple[bytes, dict]
) -> None:
    """A model stored before custom layers were listed fails to load here: the same warning,
    found from the file, instead of a traceback."""
    data, meta = custom_layer_model
    older = {key: value for key, value in meta.items() if key != "custom_objects"}
    custom = _custom_run(evaluated_lab, (data, older), "older-custom")
    at = open_page("predict", runs=str(custom))
    at.file_uploader(key="predict.files").set_value([("sky.png", _png(), "image/png")])
    at.run()
    assert not at.exception and not at.error
    assert "This model uses custom layers" in at.warning[0].value
    assert meta["custom_objects"][0] in at.warning[0].value

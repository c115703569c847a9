"""The Run page's figures and verdict shaping, without Streamlit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboard.views.run.figures import (
    WEBGL_POINTS,
    confusion_delta,
    confusion_delta_figure,
    disagreements,
    per_class_side_by_side,
    row_normalised,
    same_validation,
    steps_figure,
)


def test_confusion_delta_is_a_minus_b() -> None:
    """The difference is cell by cell A − B; mismatched shapes are refused."""
    a, b = np.array([[5, 1], [2, 4]]), np.array([[3, 3], [2, 4]])
    assert confusion_delta(a, b).tolist() == [[2, -2], [0, 0]]
    with pytest.raises(ValueError, match="alike"):
        confusion_delta(a, np.eye(3))


def test_confusion_delta_figure_is_diverging_and_centred() -> None:
    """The heatmap is symmetric around zero so equal runs look neutral."""
    figure = confusion_delta_figure(np.array([[2, -2], [0, 0]]), ["x", "y"], "1 · <a>", "2 · b")
    heatmap = figure.data[0]
    assert (heatmap.zmin, heatmap.zmid, heatmap.zmax) == (-2, 0, 2)
    assert "&lt;a&gt;" in figure.layout.title.text


def test_row_normalised_leaves_empty_classes_nan() -> None:
    """Rows become shares; a class without images is NaN, not a division error."""
    shares = row_normalised(np.array([[3, 1], [0, 0]]))
    assert shares[0].tolist() == [0.75, 0.25] and np.isnan(shares[1]).all()


def test_per_class_side_by_side_gives_each_runs_class_accuracy() -> None:
    """One row per run and class with the correct share, count and support."""
    a = {"class_names": ["x", "y"], "confusion_matrix": [[3, 1], [0, 2]]}
    b = {"class_names": ["x", "y"], "confusion_matrix": [[4, 0], [1, 1]]}
    frame = per_class_side_by_side({"A": a, "B": b})
    assert frame["run"].tolist() == ["A", "A", "B", "B"]
    assert frame["accuracy"].tolist() == [0.75, 1.0, 1.0, 0.5]
    assert frame["support"].tolist() == [4, 2, 4, 2]
    with pytest.raises(ValueError, match="classes"):
        per_class_side_by_side({"A": a, "C": {**b, "class_names": ["y", "x"]}})


def test_disagreements_pick_images_one_run_got_right_and_the_other_wrong() -> None:
    """Both directions, matched by file even when the runs stored them in another order."""
    a = _verdicts(1, [0, 1, 1, 1])  # wrong on c2
    b = _verdicts(2, [1, 0, 1, 0])  # wrong on c1 and r2
    shuffled = b.iloc[::-1].reset_index(drop=True)
    a_only, b_only = disagreements(a, shuffled)
    assert sorted(a_only["file"]) == ["c1.jpg", "r2.jpg"]
    assert b_only["file"].tolist() == ["c2.jpg"]
    assert b_only.loc[0, "predicted_class_a"] == "rain" and b_only.loc[0, "position"] == 1


def test_same_validation_needs_the_same_files_and_labels() -> None:
    """Runs are comparable image by image only on the same files with the same true labels."""
    a = _verdicts(1, [0, 0, 1, 1])
    assert same_validation(a, _verdicts(2, [1, 1, 0, 0]))
    assert not same_validation(a, _verdicts(2, [0, 0, 1, 1], ["c1.jpg", "c2.jpg", "r1.jpg", "x"]))
    assert not same_validation(a, a.head(3))


def _verdicts(run_id: int, predicted: list[int], files: list[str] | None = None) -> pd.DataFrame:
    true = [0, 0, 1, 1]
    files = files or ["c1.jpg", "c2.jpg", "r1.jpg", "r2.jpg"]
    return pd.DataFrame(
        {
            "run_id": run_id,
            "position": range(4),
            "file": files,
            "true_label": true,
            "predicted_label": predicted,
            "true_class": [["cloudy", "rain"][t] for t in true],
            "predicted_class": [["cloudy", "rain"][p] for p in predicted],
            "confidence": [0.9, 0.8, 0.7, 0.6],
            "correct": [t == p for t, p in zip(true, predicted, strict=True)],
        }
    )


def test_only_later_phases_get_a_line_between_epochs() -> None:
    """The first phase (epoch 1) draws nothing; fine-tuning from epoch 6 a line at 5.5 with
    its trainable count; the learning-rate chart gets the same line."""
    from dashboard.views.run.figures import learning_rate_figure, run_curves_figure
    from db.entities import TrainingPhase

    curves = pd.DataFrame(
        {
            "epoch": [1, 2, 3, 6, 7],
            "accuracy": 0.5,
            "val_accuracy": 0.4,
            "learning_rate": [1e-3, 1e-3, 1e-3, 1e-5, 1e-5],
        }
    )
    phases = (
        TrainingPhase(1, "frozen", 1_000, 40, 1e-3),
        TrainingPhase(6, "fine_tune", 1_000, 960, 1e-5, unfrozen_layers=12),
    )
    for figure in (run_curves_figure(curves, phases=phases), learning_rate_figure(curves, phases)):
        assert [shape.x0 for shape in figure.layout.shapes] == [5.5]
        texts = [annotation.text for annotation in figure.layout.annotations]
        assert texts == ["fine-tuning from epoch 6: 960 of 1k trainable"]
    assert not run_curves_figure(curves, phases=phases[:1]).layout.shapes


def test_count_text_is_short() -> None:
    """Counts read as 850, 12.3k, 2.26M; a missing count is the missing mark."""
    from dashboard.text import MISSING, count_text

    assert [count_text(n) for n in (850, 12_345, 2_257_984, 3_000_000_000)] == [
        "850",
        "12.3k",
        "2.26M",
        "3B",
    ]
    assert count_text(None) == MISSING and count_text(float("nan")) == MISSING


def test_steps_figure_draws_one_line_per_name_over_steps() -> None:
    """Each per-batch series is a line over the steps where it has values; long ones use WebGL."""
    steps = pd.DataFrame({"step": [1, 2, 3], "batch_loss": [0.9, None, 0.7], "lr": [0.1] * 3})
    figure = steps_figure(steps)
    assert [(t.name, list(t.x)) for t in figure.data] == [("batch_loss", [1, 3]), ("lr", [1, 2, 3])]
    many = pd.DataFrame({"step": range(1, WEBGL_POINTS + 2), "batch_loss": 1.0})
    assert steps_figure(many).data[0].type == "scattergl"

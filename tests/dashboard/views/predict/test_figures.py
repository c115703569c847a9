"""Predict's top-k probability chart, without Streamlit."""

from __future__ import annotations

import pytest

from dashboard.views.predict.figures import top_k_figure


def test_probabilities_sorted_most_likely_first() -> None:
    """Bars are ordered by probability, highest first and drawn on top."""
    figure = top_k_figure(["cloudy", "rain", "shine", "sunrise"], [0.1, 0.6, 0.05, 0.25], 4)
    bar = figure.data[0]
    assert list(bar.y) == ["rain", "sunrise", "cloudy", "shine"]
    assert list(bar.x) == pytest.approx([0.6, 0.25, 0.1, 0.05])
    assert figure.layout.yaxis.autorange == "reversed"


def test_probabilities_need_one_per_class() -> None:
    """Mismatched class names and probabilities raise ValueError."""
    with pytest.raises(ValueError):
        top_k_figure(["a", "b"], [1.0], 2)

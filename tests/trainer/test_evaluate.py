"""Evaluation maths on hand-made arrays."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.evaluate import confusion_matrix, summarise


def test_confusion_matrix_rows_are_true_classes() -> None:
    """Entry [t, p] counts images of class t predicted as p."""
    matrix = confusion_matrix(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 0]), 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 0]]


def test_per_class_precision_recall_f1() -> None:
    """Precision, recall and F1 follow their definitions; a never-predicted class scores 0."""
    probabilities = np.eye(3)[[0, 1, 1, 0]]
    summary = summarise(probabilities, np.array([0, 0, 1, 2]), ("a", "b", "c"))
    a, b, c = summary["per_class"]
    assert (a["precision"], a["recall"]) == (0.5, 0.5)
    assert (b["precision"], b["recall"]) == (0.5, 1.0)
    assert b["f1"] == pytest.approx(2 / 3)
    assert (c["precision"], c["recall"], c["f1"], c["support"]) == (0.0, 0.0, 0.0, 1)
    assert summary["accuracy"] == 0.5

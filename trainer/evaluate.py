"""After training: what the model says about each validation image, and the class metrics."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from data.loader import Split
from db.entities import PredictionRecord

THUMBNAIL_PX = 96


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Rows are true classes, columns predicted ones."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (true, predicted), 1)
    return matrix


def per_class_metrics(matrix: np.ndarray, class_names: tuple[str, ...]) -> list[dict[str, Any]]:
    """Precision, recall and F1 per class; 0 where a class was never predicted or present."""
    rows = []
    for index, name in enumerate(class_names):
        tp = float(matrix[index, index])
        predicted = float(matrix[:, index].sum())
        actual = float(matrix[index, :].sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append(
            {
                "class": name,
                "precision": precision,
                "recall": recall,
                "f1": f1,
                "support": int(actual),
            }
        )
    return rows


def summarise(
    probabilities: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...]
) -> dict[str, Any]:
    predicted = probabilities.argmax(axis=1)
    matrix = confusion_matrix(labels, predicted, len(class_names))
    return {
        "class_names": list(class_names),
        "accuracy": float((predicted == labels).mean()) if len(labels) else 0.0,
        "confusion_matrix": matrix.tolist(),
        "per_class": per_class_metrics(matrix, class_names),
        "images": len(labels),
    }


def prediction_records(
    run_id: int, split: Split, root: Path, probabilities: np.ndarray
) -> list[PredictionRecord]:
    records = []
    for position, (file, label, row) in enumerate(
        zip(split.files, split.labels, probabilities, strict=True)
    ):
        predicted = int(row.argmax())
        records.append(
            PredictionRecord(
                run_id=run_id,
                position=position,
                file=_relative(file, root),
                true_label=int(label),
                predicted_label=predicted,
                confidence=float(row[predicted]),
                probabilities=tuple(float(p) for p in row),
            )
        )
    return records


def thumbnail(path: str) -> bytes | None:
    """A small JPEG of a validation image; None if the file cannot be read any more."""
    try:
        with Image.open(path) as image:
            image.seek(0)
            small = image.convert("RGB")
            small.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
            buffer = BytesIO()
            small.save(buffer, "JPEG", quality=80)
            return buffer.getvalue()
    except (OSError, ValueError):
        return None


def _relative(file: str, root: Path) -> str:
    try:
        return str(Path(file).relative_to(root))
    except ValueError:
        return Path(file).name

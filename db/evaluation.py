"""Validation-set verdicts of finished models: written once per run, read for galleries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.entities import PredictionRecord, record_from
from db.models import ValidationPrediction
from db.queue import update_held_run


def save_evaluation(
    session: Session,
    run_id: int,
    attempt: int,
    summary: dict[str, Any],
    predictions: Sequence[PredictionRecord],
    thumbnails: Sequence[bytes | None],
) -> bool:
    """Store the summary on the run and one row per validation image (fenced, replaces)."""
    if not update_held_run(session, run_id, attempt, {"evaluation": summary}):
        return False
    session.execute(delete(ValidationPrediction).where(ValidationPrediction.run_id == run_id))
    session.add_all(
        ValidationPrediction(
            run_id=run_id,
            position=p.position,
            file=p.file,
            true_label=p.true_label,
            predicted_label=p.predicted_label,
            confidence=p.confidence,
            probabilities=list(p.probabilities),
            thumbnail=thumbnail,
        )
        for p, thumbnail in zip(predictions, thumbnails, strict=True)
    )
    session.flush()
    return True


def load_predictions(session: Session, run_ids: Sequence[int]) -> list[PredictionRecord]:
    """Every validation verdict of the given runs, without thumbnails, by run and position."""
    if not run_ids:
        return []
    table = ValidationPrediction.__table__  # the record's columns: no thumbnails
    rows = session.execute(
        select(*[table.c[item.name] for item in fields(PredictionRecord)])
        .where(table.c.run_id.in_(list(run_ids)))
        .order_by(table.c.run_id, table.c.position)
    )
    return [
        record_from(PredictionRecord, row, probabilities=tuple(row.probabilities)) for row in rows
    ]


def load_thumbnails(session: Session, run_id: int, positions: Sequence[int]) -> dict[int, bytes]:
    """Thumbnail JPEG bytes of some validation images of one run, by position."""
    if not positions:
        return {}
    rows = session.execute(
        select(ValidationPrediction.position, ValidationPrediction.thumbnail).where(
            ValidationPrediction.run_id == run_id,
            ValidationPrediction.position.in_(list(positions)),
        )
    )
    return {position: data for position, data in rows if data is not None}

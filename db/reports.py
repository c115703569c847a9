"""Saved reports: a comparison frozen under a short random id, readable after its runs change.

A report copies what it shows (run rows, settings, the note, the figures' JSON) instead of
pointing at runs, so `/report?id=...` keeps showing the same thing when runs are re-run,
renamed or deleted.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.clock import now_expr
from db.entities import as_utc, record_from
from db.models import Report

ID_BYTES = 6  # token_urlsafe(6) is 8 characters: 48 random bits, not guessable or enumerable
TITLE_MAX = 200
KIND_MAX = 32
_ID_ATTEMPTS = 5


@dataclass(frozen=True)
class ReportSummary:
    """A report as the Reports list shows it, without its (possibly large) figures."""

    id: str
    title: str
    kind: str
    created_at: datetime | None
    run_ids: tuple[int, ...]


@dataclass(frozen=True)
class ReportRecord:
    id: str
    title: str
    note: str
    kind: str
    created_at: datetime | None
    state: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: Report) -> ReportRecord:
        return record_from(cls, row, state=dict(row.state or {}), figures=dict(row.figures or {}))


def new_report_id() -> str:
    """A short URL-safe random id (8 characters)."""
    return secrets.token_urlsafe(ID_BYTES)


def save_report(
    session: Session,
    *,
    title: str,
    note: str,
    kind: str,
    state: dict[str, Any],
    figures: dict[str, Any],
) -> str:
    """Store a report and return its id; `state` and `figures` must be JSON-serialisable.

    Raises:
        ValueError: empty title or kind, or either too long for its column.
    """
    title, kind = title.strip(), kind.strip()
    if not title or len(title) > TITLE_MAX:
        raise ValueError(f"a report title needs 1 to {TITLE_MAX} characters")
    if not kind or len(kind) > KIND_MAX:
        raise ValueError(f"a report kind needs 1 to {KIND_MAX} characters")
    report_id = _unused_id(session)
    session.add(
        Report(
            id=report_id,
            title=title,
            note=note,
            kind=kind,
            state=state,
            figures=figures,
            created_at=now_expr(session.get_bind().dialect.name),
        )
    )
    session.flush()
    return report_id


def _unused_id(session: Session) -> str:
    # 48 random bits make a clash vanishingly rare; checking keeps it from ever being an error.
    for _ in range(_ID_ATTEMPTS):
        candidate = new_report_id()
        if session.get(Report, candidate) is None:
            return candidate
    raise RuntimeError("could not find an unused report id")  # pragma: no cover


def get_report(session: Session, report_id: str) -> ReportRecord | None:
    row = session.get(Report, report_id)
    return ReportRecord.from_row(row) if row is not None else None


def list_reports(session: Session, *, limit: int | None = None) -> list[ReportSummary]:
    """Reports newest first, without their figures."""
    statement = select(Report.id, Report.title, Report.kind, Report.created_at, Report.state)
    statement = statement.order_by(Report.created_at.desc(), Report.id)
    if limit is not None:
        statement = statement.limit(limit)
    return [
        ReportSummary(
            id=row.id,
            title=row.title,
            kind=row.kind,
            created_at=as_utc(row.created_at),
            run_ids=tuple(int(i) for i in (row.state or {}).get("run_ids", ())),
        )
        for row in session.execute(statement)
    ]

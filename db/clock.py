"""The database's clock: leases and heartbeats never trust a worker's own clock."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, func, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from db.entities import as_utc


def now_expr(dialect: str) -> ColumnElement[datetime]:
    """`now()` with sub-second precision on both databases.

    SQLite's CURRENT_TIMESTAMP has whole seconds; this strftime gives microsecond text in the
    same format SQLAlchemy writes for bound datetimes, so stored values compare correctly.
    """
    if dialect == "sqlite":
        return type_coerce(func.strftime("%Y-%m-%d %H:%M:%f000", "now"), DateTime(timezone=True))
    return func.now()


def db_now(session: Session) -> datetime:
    """Read the current time from the database server (UTC)."""
    value = session.scalar(select(now_expr(session.get_bind().dialect.name)))
    result = as_utc(value)
    assert result is not None
    return result

"""Bulk reads as the database driver's own rows, for listings where SQLAlchemy's per-row work
(Row objects, result processors) costs more than the query.

Values come as the driver gives them: numbers and text everywhere; on SQLite, timestamps as
ISO text and JSON as text. Callers that read such columns say so (`decode_json`, and
`dashboard.queries.utc_column` for timestamps, which takes datetimes and ISO text alike).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Select
from sqlalchemy.orm import Session


def driver_rows(session: Session, statement: Select[Any]) -> list[tuple[Any, ...]]:
    """Execute `statement` in the session's transaction and fetch every row from the cursor.

    Pending ORM changes are flushed first, as `session.execute` would. Streaming options are
    refused: SQLAlchemy then pre-fetches a row into its own buffer, which the cursor no longer
    returns.
    """
    options = statement.get_execution_options()
    if options.get("yield_per") or options.get("stream_results"):
        raise ValueError("driver_rows reads whole results; it cannot stream (yield_per)")
    session.flush()
    result = session.connection().execute(statement)
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()


def json_positions(statement: Select[Any]) -> list[int]:
    """Where the statement's JSON columns are, for `decode_json`."""
    return [
        i for i, column in enumerate(statement.selected_columns) if isinstance(column.type, JSON)
    ]


def decode_json(rows: Sequence[tuple[Any, ...]], positions: Sequence[int]) -> list[tuple[Any, ...]]:
    """Parse JSON columns that came as text (SQLite); values drivers already parsed (psycopg)
    are kept. The columns read this way hold objects and arrays, never a bare JSON string, so
    text always means "not parsed yet"."""
    if not positions:
        return list(rows)
    decoded = []
    for row in rows:
        values = list(row)
        for i in positions:
            if isinstance(values[i], str):
                values[i] = json.loads(values[i])
        decoded.append(tuple(values))
    return decoded

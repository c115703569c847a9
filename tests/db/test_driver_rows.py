"""Driver rows: what a bulk read skips (Row objects, processors) and what it must not."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from db import queue
from db.driver_rows import decode_json, driver_rows, json_positions
from db.models import Run
from db.session import Database
from tests.db.factories import new_run


def test_driver_rows_see_what_the_session_has_not_flushed_yet(database: Database) -> None:
    """Pending ORM objects are flushed first, as `session.execute` would."""
    with database.begin() as session:
        queue.enqueue(session, new_run("stored"))
    with database.begin() as session:
        session.add(Run(**new_run("pending").columns()))
        names = [row[0] for row in driver_rows(session, select(Run.name).order_by(Run.id))]
    assert names == ["stored", "pending"]


def test_driver_rows_refuse_to_stream(database: Database) -> None:
    """Streaming would pre-fetch a row into SQLAlchemy's buffer and lose it from the cursor."""
    statement = select(Run.id).execution_options(yield_per=10)
    with pytest.raises(ValueError, match="stream"), database.read() as session:
        driver_rows(session, statement)


def test_json_columns_are_decoded_whichever_driver_read_them(database: Database) -> None:
    """SQLite gives JSON as text and psycopg already decoded; both end as Python values."""
    with database.begin() as session:
        queue.enqueue(session, new_run("a", tags=("x", "y")))
    statement = select(Run.name, Run.tags, Run.config)
    with database.read() as session:
        rows = decode_json(driver_rows(session, statement), json_positions(statement))
    assert rows == [("a", ["x", "y"], {"name": "a"})]
    with database.read() as session:
        assert driver_rows(session, statement.where(Run.id < 0)) == []

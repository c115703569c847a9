"""Database fixtures: every queue-contract test runs on a SQLite file and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from db.migrate import upgrade
from db.session import Database
from tests.databases import postgres_url_for_test, sqlite_url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A migrated, empty database URL of each kind, private to this test."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path)
        upgrade(Database(url).engine)
        yield url
    else:
        with postgres_url_for_test() as url:
            upgrade(Database(url).engine)
            yield url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    yield db
    db.dispose()

"""Fixtures shared by every test package; `database` runs a test on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from data.sample import generate
from db.migrate import upgrade
from db.session import Database
from tests.databases import migrated_sqlite_url, postgres_url_for_test


@pytest.fixture
def tiny_sample(tmp_path: Path) -> Path:
    """A real four-class dataset on disk: 6 JPEGs per class at 32 px, one folder per class."""
    root = tmp_path / "weather"
    generate(root, size=32, per_class=6)
    return root


@pytest.fixture
def sqlite_database_url(tmp_path: Path) -> str:
    """A migrated SQLite file private to the test."""
    return migrated_sqlite_url(tmp_path)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A migrated, empty database URL of each kind, private to this test."""
    if request.param == "sqlite":
        yield migrated_sqlite_url(tmp_path)
    else:
        with postgres_url_for_test() as url:
            upgrade(Database(url).engine)
            yield url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    yield db
    db.dispose()


# Tests that share one machine-wide resource, run in one process one after another under
# pytest-xdist: the Slurm cluster (fixed ports) and the browser tests (a dashboard and a worker
# each, timed by a browser's waits).
SERIAL = ("tests/trainer/slurm/", "tests/e2e/")


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`make test` runs three processes: every test is a unit of its own, but the SERIAL ones
    are one unit. (xdist's `--dist loadgroup` marks do not reach pytest 9's node ids.)"""
    from xdist.scheduler import LoadScopeScheduling

    class SerialScope(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "serial" if nodeid.startswith(SERIAL) else nodeid

    return SerialScope(config, log)

"""Fixtures shared by every test package."""

from __future__ import annotations

from pathlib import Path

import pytest

from data.sample import generate


@pytest.fixture
def tiny_sample(tmp_path: Path) -> Path:
    """A real four-class dataset on disk: 6 JPEGs per class at 32 px, one folder per class."""
    root = tmp_path / "weather"
    generate(root, size=32, per_class=6)
    return root


@pytest.fixture
def sqlite_database_url(tmp_path: Path) -> str:
    """A migrated SQLite file private to the test."""
    from db.migrate import upgrade
    from db.session import Database

    url = f"sqlite:///{tmp_path / 'lab.db'}"
    database = Database(url)
    upgrade(database.engine)
    database.dispose()
    return url

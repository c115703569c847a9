"""Temporary databases for tests: a SQLite file, or a private schema on TEST_DATABASE_URL.

PostgreSQL tests may skip on a laptop without a server, but under CI=true a missing or
unreachable TEST_DATABASE_URL fails the test instead: CI must exercise PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError


def sqlite_url(folder: Path, name: str = "lab.db") -> str:
    return f"sqlite:///{folder / name}"


_template: Path | None = None


def migrated_sqlite_url(folder: Path, name: str = "lab.db") -> str:
    """A SQLite file at the head revision, copied from one migrated once per test process
    (hundreds of tests need an empty lab; Alembic's eleven steps each time add up). The copy
    is upgraded again, which finds nothing to do and proves the copy is at head."""
    global _template
    from db.migrate import upgrade
    from db.session import Database

    if _template is None or not _template.exists():
        template = Path(tempfile.mkdtemp(prefix="lab-template-")) / "head.db"
        database = Database(f"sqlite:///{template}")
        upgrade(database.engine)
        database.dispose()  # the last connection checkpoints the WAL into the file
        _template = template
    target = folder / name
    shutil.copyfile(_template, target)
    url = f"sqlite:///{target}"
    database = Database(url)
    upgrade(database.engine)
    database.dispose()
    return url


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL tests must run under CI=true: {reason}")
    pytest.skip(reason)


@contextmanager
def postgres_url_for_test() -> Iterator[str]:
    """Yield a URL whose search_path is a fresh schema; drop the schema afterwards."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        _unavailable("TEST_DATABASE_URL is not set")
        return
    url = make_url(base)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    schema = f"lab_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as error:
        admin.dispose()
        _unavailable(f"cannot reach TEST_DATABASE_URL: {str(error.orig).splitlines()[0]}")
        return
    scoped = url.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()

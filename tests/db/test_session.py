"""The engine factory: SQLite pragmas, immediate writes, and one-line URL errors."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from db.session import Database, DatabaseUnavailable, DatabaseUrlError, parse_url


def test_sqlite_connections_get_wal_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    """Every SQLite connection runs in WAL mode with foreign keys and a busy timeout."""
    database = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_sqlite_write_transactions_take_the_lock_at_begin(tmp_path: Path) -> None:
    """A write transaction holds the write lock from BEGIN, so a second writer waits for it."""
    database = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with database.begin() as session:
        session.execute(text("CREATE TABLE t (x INTEGER)"))
    order: list[str] = []
    inside = threading.Event()

    def first() -> None:
        with database.begin() as session:
            session.execute(text("SELECT count(*) FROM t"))  # a read only, yet the lock is held
            inside.set()
            time.sleep(0.5)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    inside.wait(5)
    with database.begin() as session:
        session.execute(text("INSERT INTO t VALUES (1)"))
        order.append("second wrote")
    thread.join()
    assert order == ["first done", "second wrote"]


def test_read_sessions_do_not_block_writers(tmp_path: Path) -> None:
    """A snapshot read does not take the write lock."""
    database = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with database.begin() as session:
        session.execute(text("CREATE TABLE t (x INTEGER)"))
    with database.read() as reader:
        reader.execute(text("SELECT count(*) FROM t"))
        started = time.monotonic()
        with database.begin() as writer:
            writer.execute(text("INSERT INTO t VALUES (1)"))
        assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url", "is not a database URL"),
        ("mysql://u@h/db", "supports sqlite and postgresql"),
        ("sqlite://", "must name a SQLite file"),
        ("sqlite:///:memory:", "must name a SQLite file"),
        ("sqlite:////nonexistent-folder-xyz/lab.db", "does not exist"),
        ("postgresql+pg8000://u@h/db", "driver"),
    ],
)
def test_bad_urls_get_one_clear_line(url: str, expected: str) -> None:
    """Each kind of unusable DATABASE_URL is refused with a message that says why."""
    with pytest.raises(DatabaseUrlError, match=expected) as info:
        Database(url)
    assert "\n" not in str(info.value)


def test_plain_postgresql_url_uses_psycopg() -> None:
    """postgresql:// is read as postgresql+psycopg://, the driver we ship."""
    assert parse_url("postgresql://u@localhost/db").drivername == "postgresql+psycopg"


def test_unreachable_server_is_one_line_without_password() -> None:
    """A server that does not answer gives one line that hides the password."""
    database = Database("postgresql://user:secret@127.0.0.1:1/db?connect_timeout=2")
    with pytest.raises(DatabaseUnavailable) as info:
        database.check_connection()
    message = str(info.value)
    assert "cannot connect" in message and "secret" not in message and "\n" not in message

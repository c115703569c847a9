"""What every `python -m trainer` command shares: its one-line error and its database."""

from __future__ import annotations

from db.migrate import check_schema
from db.session import Database
from settings import Settings


class CliError(RuntimeError):
    """A user-facing error: printed as one line, exit status 2."""


def open_database(settings: Settings) -> Database:
    """The lab's database, checked: reachable, and its schema current (else the fix is named)."""
    database = Database(settings.database_url, busy_timeout=settings.sqlite_busy_timeout)
    database.check_connection()
    check_schema(database.engine)
    return database

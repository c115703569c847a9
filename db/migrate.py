"""Schema migrations (Alembic) and the start-up check that refuses a stale schema."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
UPGRADE_COMMAND = "python -m db upgrade"
# Any fixed 64-bit number: PostgreSQL's advisory lock that lets one migrator run at a time.
_MIGRATION_LOCK_KEY = 0x5EA7_1AB0


class SchemaMismatch(RuntimeError):
    """The database schema is not the one this code expects; the message says what to run."""


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def expected_heads() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_heads(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def upgrade(engine: Engine, revision: str = "head") -> tuple[set[str], set[str]]:
    """Bring the schema to `revision` (head) once, even when several processes try at once.

    The whole upgrade runs in one transaction: SQLite's BEGIN IMMEDIATE (db/session.py) and a
    PostgreSQL advisory lock each let one migrator in; the others then find nothing to do.
    Returns the heads before and after.
    """
    return _migrate(engine, lambda config: command.upgrade(config, revision))


def downgrade(engine: Engine, revision: str) -> tuple[set[str], set[str]]:
    """Take the schema back to `revision`, in one transaction like `upgrade`."""
    return _migrate(engine, lambda config: command.downgrade(config, revision))


def _migrate(engine: Engine, run: Callable[[Config], None]) -> tuple[set[str], set[str]]:
    config = alembic_config()
    with (
        engine.connect() as connection,
        _sqlite_foreign_keys_off(connection),
        connection.begin(),
    ):
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
            )
        before = set(MigrationContext.configure(connection).get_current_heads())
        config.attributes["connection"] = connection
        run(config)
        after = set(MigrationContext.configure(connection).get_current_heads())
        _check_sqlite_foreign_keys(connection)
    return before, after


@contextmanager
def _sqlite_foreign_keys_off(connection: Connection) -> Iterator[None]:
    """SQLite cannot alter most columns in place: Alembic's batch mode copies the table and
    drops the old one. With foreign keys on, that DROP deletes every row first and cascades
    to the rows that reference them (a run's epochs, artifacts, ...). SQLite's own recipe:
    switch enforcement off around the migration (only possible outside a transaction), then
    check the keys before committing (`_check_sqlite_foreign_keys`)."""
    if connection.dialect.name != "sqlite":
        yield
        return
    driver = connection.connection.dbapi_connection
    assert driver is not None
    driver.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        driver.execute("PRAGMA foreign_keys=ON")


def _check_sqlite_foreign_keys(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"migration left rows with broken foreign keys: {broken[:5]}")


def check_schema(engine: Engine) -> None:
    """Raise SchemaMismatch unless the database is exactly at this code's migration head."""
    expected = expected_heads()
    current = current_heads(engine)
    if current == expected:
        return
    where = engine.url.render_as_string(hide_password=True)
    if not current:
        raise SchemaMismatch(f"{where} has no lab tables yet; run `{UPGRADE_COMMAND}` first")
    known = {rev.revision for rev in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if current - known:
        raise SchemaMismatch(
            f"{where} is at schema {', '.join(sorted(current))}, newer than this code "
            f"({', '.join(sorted(expected))}); update this checkout (git pull) before starting"
        )
    raise SchemaMismatch(
        f"{where} is at schema {', '.join(sorted(current))} but this code needs "
        f"{', '.join(sorted(expected))}; run `{UPGRADE_COMMAND}`"
    )

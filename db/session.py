"""The one engine factory: SQLite pragmas, `BEGIN IMMEDIATE` writes, clear URL errors.

Callers own transactions: `with database.begin() as session:` for writes and
`with database.read() as session:` for snapshots; functions in `db/` take that session and never
commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.exc import InterfaceError as SAInterfaceError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

# Workers wait this long for SQLite's write lock before "database is locked"; leases are
# longer than this (see db/queue.py) so a waiting worker is never mistaken for a dead one.
SQLITE_BUSY_TIMEOUT_MS = 30_000
_SQLITE_BEGIN_MODES = frozenset({"IMMEDIATE", "DEFERRED"})
# libpq waits about two minutes for an unreachable host by default, and forever on a connection
# whose server vanished without a reset: bounded here, so a worker learns "unreachable" in
# seconds and retries. A value in the URL's query wins.
_POSTGRES_CONNECT_ARGS = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,  # ms: data sent but unacknowledged this long drops the link
}


class DatabaseUrlError(RuntimeError):
    """`DATABASE_URL` cannot be used; the message is one line that says why and what to fix."""


def parse_url(url: str) -> URL:
    """Parse and normalise a database URL, refusing ones that cannot work before connecting."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUrlError(
            f"DATABASE_URL {_redact(url)!r} is not a database URL; expected e.g. "
            "sqlite:///var/lab.db or postgresql+psycopg://user:password@host:5432/dbname"
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        # psycopg (v3) is the driver we ship; plain postgresql:// would ask for psycopg2.
        parsed = parsed.set(drivername="postgresql+psycopg")
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise DatabaseUrlError(
            f"DATABASE_URL uses {backend!r}; this lab supports sqlite and postgresql"
        )
    if backend == "sqlite":
        _check_sqlite_path(parsed)
    return parsed


def _check_sqlite_path(url: URL) -> None:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        raise DatabaseUrlError(
            "DATABASE_URL must name a SQLite file (sqlite:///path/to/lab.db): an in-memory "
            "database is not shared between the worker and the dashboard"
        )
    folder = Path(database).expanduser().resolve().parent
    if not folder.is_dir():
        raise DatabaseUrlError(
            f"DATABASE_URL points into {folder}, which does not exist; create it "
            f"(mkdir -p {folder}) or choose another path"
        )


def _redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@")[-1] if "@" in url else url


def make_engine(
    url: str, *, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS, **kwargs: Any
) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout, foreign keys and immediate writes."""
    parsed = parse_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = create_engine(parsed, connect_args={"check_same_thread": False}, **kwargs)
            _configure_sqlite(engine, busy_timeout_ms)
        else:
            connect_args = {
                key: value
                for key, value in _POSTGRES_CONNECT_ARGS.items()
                if key not in parsed.query
            }
            engine = create_engine(parsed, pool_pre_ping=True, connect_args=connect_args, **kwargs)
    except NoSuchModuleError:
        raise DatabaseUrlError(
            f"no driver for {parsed.drivername!r}; use postgresql+psycopg://... "
            "(psycopg is in requirements.txt)"
        ) from None
    except ModuleNotFoundError as error:
        raise DatabaseUrlError(
            f"the driver for {parsed.drivername!r} is not installed ({error.name}); "
            "use postgresql+psycopg://..."
        ) from None
    return engine


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the driver level: SQLAlchemy's "begin" hook below issues BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms:d}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front, so two writers queue on busy_timeout instead
        # of one failing with "database is locked" when it upgrades a read lock mid-transaction.
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        if mode not in _SQLITE_BEGIN_MODES:
            raise ValueError(f"sqlite_begin must be one of {sorted(_SQLITE_BEGIN_MODES)}")
        connection.exec_driver_sql(f"BEGIN {mode}")


class DatabaseUnavailable(RuntimeError):
    """The database did not answer; the message is one line naming the URL and the cause."""


def is_unavailable(error: BaseException) -> bool:
    """True when `error` means "the database did not answer now", so trying later may work.

    Refused or cut connections, timeouts, SQLite's "database is locked" after its busy timeout,
    PostgreSQL's deadlocks and serialisation failures: all OperationalError or a connection the
    pool invalidated. An IntegrityError or a programming error is not: retrying cannot help.
    """
    if isinstance(error, DatabaseUnavailable | OperationalError | SAInterfaceError):
        return True
    if isinstance(error, PoolTimeoutError):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


def describe_unavailable(error: BaseException) -> str:
    """The first line of the driver's message, without SQLAlchemy's SQL and background link."""
    original = getattr(error, "orig", None)
    text = str(original if original is not None else error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class Database:
    """An engine plus its two session factories: writes and read-only snapshots.

    `busy_timeout` (seconds) is how long a SQLite write waits for another writer's lock
    (settings.py `LAB_SQLITE_BUSY_TIMEOUT`); PostgreSQL ignores it.
    """

    def __init__(
        self, url: str, *, busy_timeout: float | None = None, **engine_kwargs: Any
    ) -> None:
        if busy_timeout is not None:
            engine_kwargs["busy_timeout_ms"] = round(busy_timeout * 1000)
        self.engine = make_engine(url, **engine_kwargs)
        self.url = self.engine.url
        self._writer = sessionmaker(self.engine, expire_on_commit=False)
        read_options: dict[str, Any] = {"sqlite_begin": "DEFERRED"}
        if self.dialect == "postgresql":
            read_options["isolation_level"] = "REPEATABLE READ"
        self._reader = sessionmaker(
            self.engine.execution_options(**read_options), expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def begin(self) -> Iterator[Session]:
        """A write transaction, committed on exit (BEGIN IMMEDIATE on SQLite)."""
        with self._writer.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read transaction that sees one consistent snapshot and takes no write lock."""
        with self._reader.begin() as session:
            yield session

    def check_connection(self) -> None:
        """Connect once, turning driver tracebacks into one line a user can act on."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except (OperationalError, SAInterfaceError) as error:
            raise DatabaseUnavailable(
                f"cannot connect to {self.where}: {describe_unavailable(error)}"
            ) from None

    @property
    def where(self) -> str:
        """The URL without its password, for messages."""
        return self.url.render_as_string(hide_password=True)

    def dispose(self) -> None:
        self.engine.dispose()

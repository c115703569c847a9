"""The session's database and the page state kept in the URL.

Every page's state lives in `st.query_params`, so the address bar is always the share link
(Compare `?runs=3,5,8&color=optimizer`, Runs `?status=running`, Predict `?run=5`). Widgets take
their first value from the URL and write every change back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from urllib.parse import urlencode

import streamlit as st

from db.migrate import SchemaMismatch, check_schema
from db.session import Database, DatabaseUrlError
from settings import Settings


@st.cache_resource(show_spinner=False)
def connect(url: str) -> Database:
    """One engine per URL for the whole server; failures are not cached, so a fix is picked up."""
    database = Database(url)
    try:
        database.check_connection()
        check_schema(database.engine)
    except Exception:
        database.dispose()
        raise
    return database


def require_database(settings: Settings | None = None) -> Database:
    """The lab's database, or one `st.error` saying how to fix it and the page stops.

    A database that does not answer raises `DatabaseUnavailable` on to `outage.run_page`,
    whose banner waits for it.
    """
    settings = settings or Settings.from_env()
    try:
        return connect(settings.database_url)
    except DatabaseUrlError as error:
        st.error(f"DATABASE_URL cannot be used: {error}", icon=":material/database:")
    except SchemaMismatch as error:
        st.error(f"The database is not ready: {error}.", icon=":material/database:")
    st.stop()  # ends this script run: the page shows the one error above and nothing else


def parse_ids(text: str | None) -> list[int]:
    """`"3,5,8"` -> [3, 5, 8]; junk and repeats are dropped, order kept (URLs are hand-edited)."""
    ids: list[int] = []
    for part in (text or "").split(","):
        part = part.strip()
        if part.isdigit() and int(part) not in ids:
            ids.append(int(part))
    return ids


def parse_choices(text: str | None, allowed: Iterable[str]) -> list[str]:
    """`"running,failed"` -> the known choices among them, in order."""
    known = set(allowed)
    chosen: list[str] = []
    for part in (text or "").split(","):
        part = part.strip()
        if part in known and part not in chosen:
            chosen.append(part)
    return chosen


def encode(value: str | int | Sequence[str | int] | None) -> str:
    """A param's URL text: lists become comma-separated, None and empty become ''."""
    if value is None:
        return ""
    if isinstance(value, str | int):
        return str(value)
    return ",".join(str(v) for v in value)


def url_param(key: str) -> str | None:
    """The page's `?key=` value, or None."""
    return st.query_params.get(key)


def url_fraction(key: str, default: float) -> float:
    """`?key=`'s value as a number in [0, 1], or `default` when absent or not one."""
    try:
        value = float(url_param(key) or "nan")
    except ValueError:
        return default
    return value if 0.0 <= value <= 1.0 else default


def url_index(key: str, options: Sequence[str | int]) -> int:
    """Position of `?key=`'s value among a widget's options (0 when absent or unknown)."""
    texts = [str(option) for option in options]
    value = url_param(key)
    return texts.index(value) if value in texts else 0


def set_url_params(**values: str | int | Sequence[str | int] | None) -> None:
    """Write page state to the URL; empty values remove their key. Unchanged keys are left alone,
    so a rerun does not send the browser a URL update it does not need."""
    for key, value in values.items():
        text = encode(value)
        if not text:
            if key in st.query_params:
                del st.query_params[key]
        elif st.query_params.get(key) != text:
            st.query_params[key] = text


def share_path(slug: str) -> str:
    """The current view as a path relative to the server: `/compare?runs=3,5&metric=loss`."""
    query = urlencode(st.query_params.to_dict(), safe=",")
    return f"/{slug}" + (f"?{query}" if query else "")

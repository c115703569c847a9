"""A database that stops answering: one banner instead of an error page, then back by itself.

`run_page` (the router's only call into a page) catches "the database did not answer" from
anywhere in the page, draws the banner and stops the run with `st.stop()`: a stopped run keeps
every widget's state, so a form being filled in, a preview or an upload survive the outage. The
banner polls the database and reruns the page once it answers. Live parts (`live`) are
fragments, which Streamlit isolates from the page; they hand an outage to `run_page` by
rerunning the whole app. A write that could not be made (`unwritten`, from `actions.py`) is
named under the banner, so the user knows to press its button again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, ParamSpec

import streamlit as st
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from db.session import describe_unavailable, is_unavailable
from settings import Settings

P = ParamSpec("P")

RETRY_SECONDS = 5
_OUTAGE = "outage.cause"  # session_state: the driver's one-line reason, while it lasts
_CHECKED = "outage.checked"  # session_state: when the database was last tried (monotonic s)
_UNWRITTEN = "outage.unwritten"  # session_state: the writes lost to this outage, in order
# SQLite reports some mistakes as OperationalError too; they are bugs or a stale schema, never
# an outage, and must show as such.
_NOT_OUTAGES = ("no such table", "no such column", "syntax error")


def is_outage(error: BaseException) -> bool:
    """True when `error`, or what caused it, means the database did not answer."""
    seen: BaseException | None = error
    while seen is not None:
        if is_unavailable(seen):
            return not any(text in str(seen) for text in _NOT_OUTAGES)
        seen = seen.__cause__ or seen.__context__
    return False


def _cause(error: BaseException) -> str:
    """The driver's one line, without "cannot connect to URL: " (the banner names the host)."""
    text = describe_unavailable(error)
    if text.startswith("cannot connect to ") and ": " in text:
        return text.split(": ", 1)[1]
    return text


def database_location(url: str) -> str:
    """Where the database is, for people: `host:port` (or the SQLite file), never a password."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "DATABASE_URL"
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or "an in-memory SQLite database"
    host = parsed.host or "localhost"
    return f"{host}:{parsed.port}" if parsed.port else host


def unwritten(what: str) -> None:
    """Remember that `what` (e.g. "queueing 1 run") was not written; the banner lists it."""
    st.session_state[_UNWRITTEN] = [*st.session_state.get(_UNWRITTEN, []), what]


@contextmanager
def writing(what: str) -> Iterator[None]:
    """Around a write: if the database does not answer, note `what` and let the error rise."""
    try:
        yield
    except Exception as error:
        if is_outage(error):
            unwritten(what)
        raise


def _answers(url: str) -> str | None:
    """None when the database answers now, else the driver's reason (one line)."""
    from dashboard.state import connect  # the cached engine: one per URL for the server

    st.session_state[_CHECKED] = time.monotonic()
    try:
        connect(url).check_connection()
    except Exception as error:
        if is_outage(error):
            return _cause(error)
        # It answers, with something else wrong (a schema to upgrade): the page says what.
    return None


def run_page(page: Any, settings: Settings) -> None:
    """Run the page; while the database does not answer, the banner stands in for it."""
    url = settings.database_url
    if _OUTAGE in st.session_state:
        cause = _answers(url)
        if cause is not None:
            _banner(url, cause)
        _recovered()
    drawn = st.empty()  # what the page drew before the database failed it is taken away
    try:
        with drawn.container():
            page.run()
    except Exception as error:
        if not is_outage(error):
            raise
        drawn.empty()
        st.session_state[_CHECKED] = time.monotonic()
        _banner(url, _cause(error))


def _recovered() -> None:
    st.session_state.pop(_OUTAGE, None)
    lost = st.session_state.pop(_UNWRITTEN, [])
    if lost:
        st.toast(
            "The database answers again. Not written during the outage: "
            + "; ".join(lost)
            + ". Your values are kept: press the button again.",
            icon=":material/database:",
        )


def _banner(url: str, cause: str) -> None:
    """The banner, and its poll; ends the run here (keeping every widget's state)."""
    st.session_state[_OUTAGE] = cause
    _poll(url, database_location(url))
    st.stop()


@st.fragment(run_every=RETRY_SECONDS)
def _poll(url: str, where: str) -> None:
    # The first draw comes right after a failed try; later ones try again, and rerun the
    # whole page once the database answers.
    if time.monotonic() - st.session_state.get(_CHECKED, 0.0) >= RETRY_SECONDS - 0.5:
        cause = _answers(url)
        if cause is None:
            st.rerun(scope="app")
        st.session_state[_OUTAGE] = cause
    st.error(f"Database unreachable at {where}, retrying", icon=":material/cloud_off:")
    st.caption(
        f"{st.session_state.get(_OUTAGE, '')}. This page comes back by itself when the "
        f"database answers (tried every {RETRY_SECONDS} s); what you typed is kept."
    )
    for what in st.session_state.get(_UNWRITTEN, []):
        st.warning(
            f"Not written: {what}. Your values are kept; press the button again once the "
            "database answers.",
            icon=":material/edit_off:",
        )


def live(run_every: float) -> Callable[[Callable[P, None]], Callable[P, None]]:
    """`st.fragment(run_every=...)` whose outage shows the page's banner, not a traceback.

    A fragment's errors never reach `run_page`, so the fragment notes the outage and reruns
    the app; `run_page` then tries the database before drawing anything.
    """

    def decorate(body: Callable[P, None]) -> Callable[P, None]:
        @wraps(body)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> None:
            try:
                body(*args, **kwargs)
            except Exception as error:
                if not is_outage(error):
                    raise
                st.session_state[_OUTAGE] = _cause(error)
                st.rerun(scope="app")

        return st.fragment(run_every=run_every)(guarded)

    return decorate

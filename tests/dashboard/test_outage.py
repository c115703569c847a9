"""A database that stops answering: the dashboard talks to PostgreSQL through a fault proxy
(tests/faultproxy.py), which turns connections away and lets them in again.

Each test asserts the banner (never a traceback), that the page comes back by itself once the
database answers, and what became of the user's values.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.outage import database_location, is_outage
from db.migrate import upgrade
from db.runs import list_runs
from db.session import Database, DatabaseUnavailable
from tests.dashboard.conftest import Lab, open_page, seed
from tests.databases import postgres_url_for_test
from tests.faultproxy import FaultProxy


@dataclass(frozen=True)
class ProxiedLab:
    lab: Lab  # the test's own, direct connection
    proxy: FaultProxy  # the dashboard's way to the same database

    @property
    def banner(self) -> str:
        return f"Database unreachable at 127.0.0.1:{self.proxy.port}, retrying"

    def refuse(self) -> None:
        """Cut the dashboard's connections and turn new ones away; forget cached reads (as
        their 2 s TTL would), so the next run asks the database."""
        self.proxy.refuse()
        st.cache_data.clear()

    def allow(self) -> None:
        self.proxy.allow()


@pytest.fixture
def proxied(tmp_path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ProxiedLab]:
    with postgres_url_for_test() as url:
        database = Database(url)
        upgrade(database.engine)
        lab = seed(database, url)
        with FaultProxy.in_front_of(url) as proxy:
            monkeypatch.setenv("DATABASE_URL", proxy.url_for(url))
            monkeypatch.setenv("LAB_VAR_DIR", str(tmp_path / "var"))
            yield ProxiedLab(lab, proxy)
        database.dispose()


def _errors(at: AppTest) -> list[str]:
    return [error.value for error in at.error]


def test_location_names_host_and_port_never_the_password() -> None:
    """`postgresql://lab:secret@db.example.org:5433/lab` is shown as `db.example.org:5433`."""
    url = "postgresql+psycopg://lab:secret@db.example.org:5433/lab"
    assert database_location(url) == "db.example.org:5433"
    assert database_location("sqlite:////srv/lab/lab.db") == "/srv/lab/lab.db"


def test_only_unanswered_databases_count_as_outages() -> None:
    """A refused connection is an outage; a SQLite "no such table" or a bug is not."""
    from sqlalchemy.exc import OperationalError

    assert is_outage(DatabaseUnavailable("cannot connect"))
    missing = OperationalError("SELECT", {}, Exception("no such table: runs"))
    assert not is_outage(missing)
    assert not is_outage(ValueError("boom"))


@pytest.mark.postgres
@pytest.mark.parametrize("view", ["runs", "workers", "compare"])
def test_outage_shows_one_banner_and_the_page_comes_back(proxied: ProxiedLab, view: str) -> None:
    """Refused connections give the banner naming host and port, then the page without a
    restart once the database answers."""
    at = open_page(view)
    assert not at.exception and not _errors(at)
    proxied.refuse()
    at.run()
    assert not at.exception
    assert _errors(at) == [proxied.banner]
    assert not at.title  # the banner stands in for the page
    proxied.allow()
    at.run()
    assert not at.exception and not _errors(at)
    assert at.title


@pytest.mark.postgres
def test_a_page_opened_during_the_outage_waits_for_the_database(proxied: ProxiedLab) -> None:
    """A first visit while the database refuses (no engine yet) also gets the banner."""
    proxied.refuse()
    at = open_page("runs")
    assert not at.exception
    assert _errors(at) == [proxied.banner]
    proxied.allow()
    at.run()
    assert not at.exception and at.title[0].value == "Runs"


@pytest.mark.postgres
def test_live_run_page_outage_shows_the_banner(proxied: ProxiedLab) -> None:
    """A running run's page is a live fragment: its outage still gives the page's banner."""
    at = open_page("run", id=str(proxied.lab.running))
    assert not at.exception and not _errors(at)
    proxied.refuse()
    at.run()
    assert not at.exception
    assert _errors(at) == [proxied.banner]
    proxied.allow()
    at.run()
    assert not at.exception and not _errors(at)
    assert at.title[0].value.startswith(f"Run {proxied.lab.running}")


@pytest.mark.postgres
def test_queue_press_during_outage_says_so_and_keeps_the_form(proxied: ProxiedLab) -> None:
    """Queue run while the database refuses: nothing is queued, the banner says the run was
    not written, the form keeps its values, and pressing again once it answers queues it."""
    lab = proxied.lab
    at = open_page("queue")
    at.text_input(key="cfg.name").set_value("typed-during-outage")
    at.number_input(key="cfg.epochs").set_value(9)
    at.run()
    proxied.refuse()
    at.button(key="cfg.submit").click().run()
    assert not at.exception
    assert _errors(at) == [proxied.banner]
    assert any("Not written: queueing 1 run" in w.value for w in at.warning)
    assert at.session_state["cfg.name"] == "typed-during-outage"
    at.run()  # the banner's next try: still refused
    assert _errors(at) == [proxied.banner]
    proxied.allow()
    at.run()
    assert not at.exception and not _errors(at)
    assert at.text_input(key="cfg.name").value == "typed-during-outage"
    assert at.number_input(key="cfg.epochs").value == 9
    assert any("queueing 1 run" in toast.value for toast in at.toast)
    with lab.database.read() as session:
        assert len(list_runs(session)) == 5  # nothing was queued during the outage
    at.button(key="cfg.submit").click().run()
    assert not at.exception
    with lab.database.read() as session:
        newest = list_runs(session)[0]
    assert (newest.name, newest.epochs) == ("typed-during-outage", 9)


@pytest.mark.postgres
def test_batch_press_during_outage_keeps_the_preview(proxied: ProxiedLab) -> None:
    """The preview's Queue N runs while the database refuses: not written, said so; the
    preview stays and queues once the database answers."""
    lab = proxied.lab
    at = open_page("queue")
    at.text_area(key="grid.text").set_value("optimizer: [sgd, adam]")
    at.button(key="grid.preview_button").click().run()
    assert at.button(key="grid.queue").label == "Queue 2 runs"
    proxied.refuse()
    at.button(key="grid.queue").click().run()
    assert not at.exception
    assert _errors(at) == [proxied.banner]
    assert any("Not written: queueing 2 runs" in w.value for w in at.warning)
    proxied.allow()
    at.run()
    assert not at.exception and not _errors(at)
    assert at.text_area(key="grid.text").value == "optimizer: [sgd, adam]"
    with lab.database.read() as session:
        assert len(list_runs(session)) == 5
    at.button(key="grid.queue").click().run()
    assert not at.exception
    with lab.database.read() as session:
        assert len(list_runs(session)) == 7


@pytest.mark.postgres
def test_banner_caption_gives_the_drivers_reason_once(proxied: ProxiedLab) -> None:
    """Under the banner: the driver's reason, without the URL again (the banner has the host)."""
    proxied.refuse()
    at = open_page("runs")
    [caption] = [c.value for c in at.caption if "comes back by itself" in c.value]
    assert "cannot connect to" not in caption and "postgresql" not in caption
    assert str(proxied.proxy.port) in caption  # libpq names the server it could not reach

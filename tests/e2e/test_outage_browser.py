"""The dashboard in a real browser while its PostgreSQL stops answering: the banner comes on by
itself (a live page's fragment notices), and the page comes back by itself once the database
answers, without a reload or a restart. The database sits behind the fault proxy
(tests/faultproxy.py), so only the dashboard loses it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from db.migrate import upgrade
from db.session import Database
from tests.dashboard.conftest import seed
from tests.databases import postgres_url_for_test
from tests.e2e.conftest import (
    OUTPUT_DIR,
    LiveLab,
    _free_port,
    _lab_environment,
    _start,
    _stop,
    _wait_until_healthy,
)
from tests.faultproxy import FaultProxy

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.timeout(300),
]

# The Runs table refreshes every 2 s and the banner tries every 5 s; a loaded machine is slower.
NOTICE_MS = 30_000


@dataclass(frozen=True)
class ProxiedDashboard:
    lab: LiveLab
    proxy: FaultProxy


@pytest.fixture(scope="module")
def proxied_dashboard(
    chromium: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProxiedDashboard]:
    """The dashboard (no worker) on a seeded PostgreSQL schema reached through the proxy."""
    folder = tmp_path_factory.mktemp("outage")
    with postgres_url_for_test() as url:
        database = Database(url)
        upgrade(database.engine)
        seed(database, url)
        database.dispose()
        with FaultProxy.in_front_of(url) as proxy:
            env = _lab_environment(folder, proxy.url_for(url))
            port = _free_port()
            lab = LiveLab(
                url=f"http://127.0.0.1:{port}",
                database_url=proxy.url_for(url),
                dataset=folder,
                logs=(folder / "dashboard.log",),
            )
            command = [
                "-m", "streamlit", "run", "dashboard/app.py",
                "--server.port", str(port), "--server.address", "127.0.0.1",
                "--server.headless", "true",
                "--server.fileWatcherType", "none", "--server.runOnSave", "false",
            ]  # fmt: skip
            processes = [_start(command, env, lab.logs[0])]
            try:
                _wait_until_healthy(lab, processes)
                yield ProxiedDashboard(lab, proxy)
            finally:
                _stop(processes)


def test_banner_comes_and_goes_without_a_reload(
    page: Page, proxied_dashboard: ProxiedDashboard
) -> None:
    """Runs is open; the database refuses: the banner replaces the page by itself; it answers
    again: the Runs page is back by itself, in the same page load."""
    lab, proxy = proxied_dashboard.lab, proxied_dashboard.proxy
    page.goto(lab.url + "/runs")
    expect(page.get_by_role("heading", name="Runs", exact=True)).to_be_visible()
    page.evaluate("() => { window.sameLoad = true; }")  # gone if the page reloads
    banner = page.get_by_text(f"Database unreachable at 127.0.0.1:{proxy.port}, retrying")
    try:
        proxy.refuse()
        expect(banner).to_be_visible(timeout=NOTICE_MS)
        expect(page.get_by_role("heading", name="Runs", exact=True)).to_have_count(0)
        expect(page.get_by_text(re.compile("Traceback"))).to_have_count(0)
        OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=OUTPUT_DIR / "outage-banner.png")
        proxy.allow()
        expect(page.get_by_role("heading", name="Runs", exact=True)).to_be_visible(
            timeout=NOTICE_MS
        )
        expect(banner).to_have_count(0)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{lab.log_tail()}") from None
    finally:
        proxy.allow()
    assert page.evaluate("() => window.sameLoad === true"), "the page reloaded"

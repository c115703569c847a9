"""Browser-test fixtures: a worker and the dashboard serving a temporary lab, and Chromium.

The lab is real: a migrated SQLite file, a tiny generated sample set, `python -m trainer worker`
and `streamlit run dashboard/app.py` as subprocesses. Chromium is Debian's (`/usr/bin/chromium`),
driven by Playwright without its own browser downloads.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError

REPO = Path(__file__).resolve().parents[2]
OUTPUT_DIR = REPO / "test-output" / "e2e"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
VIEWPORT = ViewportSize(width=1400, height=1000)
UI_TIMEOUT_MS = 60_000  # actions and expect(): one script run of a page on a loaded machine
STARTUP_SECONDS = 120  # the dashboard's first start imports pandas, Plotly, SQLAlchemy, ...
STOP_SECONDS = 15  # a worker mid-epoch finishes its step before honouring SIGTERM


@dataclass(frozen=True)
class LiveLab:
    """A running worker and dashboard sharing one database."""

    url: str  # the dashboard, e.g. http://127.0.0.1:41234
    database_url: str
    dataset: Path  # the tiny sample set: one folder per class
    logs: tuple[Path, ...]  # the worker's and the dashboard's combined output

    def log_tail(self, lines: int = 40) -> str:
        """The end of each process's output, for failure messages."""
        parts = []
        for log in self.logs:
            text = log.read_text(errors="replace").splitlines() if log.exists() else []
            parts.append(f"--- {log.name} (last {lines} lines) ---\n" + "\n".join(text[-lines:]))
        return "\n".join(parts)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _lab_environment(folder: Path, database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    # TensorFlow's log level as a user's shell has it: the test checks the terminal is quiet.
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    # Local mode: no sign-in, whatever the developer's shell has configured.
    for name in ("LAB_PASSWORD", "LAB_PRIVATE", "LAB_DATASET"):
        env.pop(name, None)
    env.update(
        DATABASE_URL=database_url,
        LAB_VAR_DIR=str(folder / "var"),
        PYTHONUNBUFFERED="1",
        STREAMLIT_BROWSER_GATHER_USAGE_STATS="false",
    )
    return env


def _prepare(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, *command], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        pytest.fail(f"`python {' '.join(command)}` failed:\n{done.stdout}{done.stderr}")


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start a subprocess in its own process group, output to `log` (a pipe could fill up)."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, *command],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM all at once, then SIGKILL whatever still runs after the grace period; to each
    process group, so no child outlives its parent."""

    def signal_group(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # exited since poll()
                os.killpg(process.pid, signum)

    for process in processes:
        signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    for process in processes:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            signal_group(process, signal.SIGKILL)
            process.wait(timeout=STOP_SECONDS)


def _wait_until_healthy(lab: LiveLab, processes: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        exited = [p.args for p in processes if p.poll() is not None]
        if exited:
            pytest.fail(f"exited during startup: {exited}\n{lab.log_tail()}")
        try:
            with urllib.request.urlopen(f"{lab.url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.25)  # not listening yet: poll again
            continue
        time.sleep(0.25)
    silent = f"the dashboard did not answer /_stcore/health in {STARTUP_SECONDS} s"
    pytest.fail(f"{silent}\n{lab.log_tail()}")


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's chromium; CI installs it (`make chromium`), so there a missing one fails."""
    path = shutil.which("chromium")
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium is not installed; `make chromium` installs it")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def live_lab(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveLab]:
    """A migrated SQLite lab with a tiny sample set, one worker and the dashboard, all stopped
    (and killed if need be) at the end. Asks for `chromium` first: no browser, nothing started.
    """
    folder = tmp_path_factory.mktemp("lab")
    database_url = f"sqlite:///{folder / 'lab.db'}"
    dataset = folder / "data"
    env = _lab_environment(folder, database_url)
    _prepare(["-m", "db", "upgrade"], env)
    _prepare(["-m", "data.sample", "--out", str(dataset), "--size", "48", "--per-class", "10"], env)
    port = _free_port()
    lab = LiveLab(
        url=f"http://127.0.0.1:{port}",
        database_url=database_url,
        dataset=dataset,
        logs=(folder / "worker.log", folder / "dashboard.log"),
    )
    processes: list[subprocess.Popen[bytes]] = []
    try:
        processes.append(_start(["-m", "trainer", "worker"], env, lab.logs[0]))
        dashboard = [
            "-m", "streamlit", "run", "dashboard/app.py",
            "--server.port", str(port), "--server.address", "127.0.0.1",
            "--server.headless", "true",
            # Others may edit the code while the suite runs: never rerun on a file change.
            "--server.fileWatcherType", "none", "--server.runOnSave", "false",
        ]  # fmt: skip
        processes.append(_start(dashboard, env, lab.logs[1]))
        _wait_until_healthy(lab, processes)
        yield lab
    finally:
        _stop(processes)


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    """One headless Chromium for the module; each test opens its own contexts.

    Every expect() waits up to UI_TIMEOUT_MS unless it says otherwise: Streamlit draws a page
    over several messages, later on a loaded machine.
    """
    expect.set_options(timeout=UI_TIMEOUT_MS)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium, args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the test item, so fixtures can tell a failure."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def new_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Callable[[], Page]]:
    """Opens pages, each in a fresh context (its own cookies and Streamlit session).

    When the test fails, each page's screenshot lands in test-output/e2e/failure-N.png.
    """
    for stale in OUTPUT_DIR.glob("failure-*.png"):
        stale.unlink()
    contexts: list[BrowserContext] = []

    def open_page() -> Page:
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(UI_TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    try:
        yield open_page
    finally:
        report = getattr(request.node, "report_call", None)
        for number, context in enumerate(contexts, start=1):
            if report is not None and report.failed:
                OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
                for opened in context.pages:
                    with contextlib.suppress(PlaywrightError):  # a crashed page: keep the error
                        opened.screenshot(path=OUTPUT_DIR / f"failure-{number}.png")
            context.close()


@pytest.fixture
def page(new_page: Callable[[], Page]) -> Page:
    """A page in a fresh context."""
    return new_page()

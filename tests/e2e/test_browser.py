"""The whole lab once, in a real browser: queue, train, predict, compare and share."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import FilePayload, Locator, Page, ViewportSize, expect

from dashboard.state import parse_ids
from tests.e2e.conftest import OUTPUT_DIR, VIEWPORT, LiveLab

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(480)]

# Waits longer than the fixtures' default (a page's script run, 60 s on a loaded machine):
TRAIN_MS = 180_000  # a 2-epoch run at 106 px, including the worker's TensorFlow start
PREDICT_MS = 120_000  # the dashboard imports TensorFlow and loads the model on first use
NAMES = ("e2e-adam", "e2e-sgd")  # the two runs, which differ in their optimizer
ENDED = re.compile(r"^(succeeded|failed|cancelled)$")  # a status cell's whole text


def open_page(page: Page, lab: LiveLab, path: str, title: str) -> None:
    """Go to `path` and wait for the page's title heading (its script has started drawing)."""
    page.goto(lab.url + path)
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()


def screenshot(page: Page, name: str) -> None:
    """Save the whole page under test-output/e2e/ once Streamlit's "Running..." widget is gone.

    The app's main area scrolls, not the document, so Playwright's full_page alone would stop
    at the first screen: the viewport grows to the content's height for the shot.
    """
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden()
    height = page.evaluate(
        """() => Math.max(document.body.scrollHeight, ...Array.from(
            document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppViewContainer"]'),
            (element) => element.scrollHeight))"""
    )
    page.set_viewport_size(
        ViewportSize(width=VIEWPORT["width"], height=min(max(height, 600), 6000))
    )
    page.wait_for_timeout(500)  # Plotly and the data grids re-lay out to the new size
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=OUTPUT_DIR / name, full_page=True)
    page.set_viewport_size(VIEWPORT)


def cell(page: Page, text: str) -> Locator:
    """A data grid cell holding exactly `text` (st.dataframe draws on a canvas, but keeps an
    accessible table of its cells in the DOM)."""
    return page.locator("td", has_text=re.compile(rf"^{re.escape(text)}$"))


def run_row(page: Page, name: str) -> Locator:
    """Run `name`'s row in the page's first data grid."""
    rows = page.get_by_test_id("stDataFrame").first.locator("tbody tr")
    return rows.filter(has=cell(page, name))


def queue_run(page: Page, lab: LiveLab, name: str, optimizer: str, previous: int | None) -> int:
    """Fill Queue's form for a tiny run and submit it; returns the id the success message names.

    `previous`: the run queued just before from this page, whose message the new one replaces.
    """
    form = page.get_by_test_id("stForm").filter(has=page.get_by_label("Name", exact=True))

    def field(label: str) -> Locator:
        return form.get_by_label(label, exact=True)

    field("Name").fill(name)
    field("Dataset folder").fill(str(lab.dataset))
    field("Image size (px)").fill("106")  # the report CNN's minimum
    field("Epochs").fill("2")
    field("Batch size").fill("8")
    field("Steps per epoch (0 = auto)").fill("0")  # the report's 70 steps would repeat the data
    field("Optimizer").click()
    page.get_by_role("option", name=optimizer, exact=True).click()
    expect(field("Optimizer")).to_have_value(optimizer)
    form.get_by_role("button", name="Queue run", exact=True).click()

    success = page.get_by_test_id("stAlertContentSuccess").filter(
        has_text=re.compile(r"Queued run \d+")
    )
    if previous is not None:
        success = success.filter(has_not_text=re.compile(rf"Queued run {previous}\b"))
    expect(success).to_be_visible()
    found = re.search(r"Queued run (\d+)", success.inner_text())
    assert found, success.inner_text()
    return int(found.group(1))


def wait_until_succeeded(page: Page, lab: LiveLab, name: str) -> None:
    """Watch Queue's live "Recent runs" list (refreshed every 2 s) until run `name` ends."""
    status = run_row(page, name).locator("td").filter(has_text=ENDED)
    try:
        expect(status).to_have_count(1, timeout=TRAIN_MS)
        expect(status).to_have_text("succeeded", timeout=1_000)
    except AssertionError as error:
        raise AssertionError(f"run {name} did not succeed: {error}\n{lab.log_tail()}") from None


def expect_compare_view(page: Page) -> None:
    """Compare has exactly the two runs picked, and its chart draws a curve for each."""
    expect(page.get_by_text(f"{len(NAMES)} runs selected", exact=True)).to_be_visible()
    picked = page.get_by_test_id("stDataFrame").first.locator('tbody tr[aria-selected="true"]')
    expect(picked).to_have_count(len(NAMES))
    for name in NAMES:
        expect(picked.filter(has=cell(page, name))).to_have_count(1)
    chart = page.locator(".js-plotly-plot")
    expect(chart).to_have_count(1)
    expect(chart.locator("g.trace path.js-line").first).to_be_attached()
    legend = chart.locator(".legendtext")  # coloured by the knob that differs: the optimizer
    for optimizer in ("adam", "sgd"):
        expect(legend.filter(has_text=f"optimizer={optimizer}").first).to_be_attached()


def test_queue_train_predict_compare_and_share(
    page: Page, new_page: Callable[[], Page], live_lab: LiveLab
) -> None:
    """Two runs queued from the form train, one predicts a photo, both compare in a shared link."""
    lab = live_lab
    classes = sorted(folder.name for folder in lab.dataset.iterdir() if folder.is_dir())

    # Queue the first run and watch it succeed on the live list.
    open_page(page, lab, "/queue", "Queue runs")
    first = queue_run(page, lab, "e2e-adam", "adam", previous=None)
    wait_until_succeeded(page, lab, "e2e-adam")

    # Queue the second; predict with the first run's model while the worker trains it.
    second = queue_run(page, lab, "e2e-sgd", "sgd", previous=first)
    expect(run_row(page, "e2e-sgd")).to_have_count(1)
    screenshot(page, "queue.png")

    # Predict: a sample photo gets its probabilities (k = every class, so the chart names them
    # all), and a junk file one error naming it.
    open_page(page, lab, f"/predict?runs={first}&k={len(classes)}", "Predict")
    picker = page.get_by_test_id("stMultiSelect").filter(has_text="Models of runs")
    expect(picker).to_contain_text(f"{first} · e2e-adam")
    photo = sorted((lab.dataset / classes[0]).glob("*.jpg"))[0]
    page.locator("input[type=file]").set_input_files(
        [
            FilePayload(name=photo.name, mimeType="image/jpeg", buffer=photo.read_bytes()),
            FilePayload(name="junk.jpg", mimeType="image/jpeg", buffer=b"these bytes are no photo"),
        ]
    )
    chart = page.locator(".js-plotly-plot")
    expect(chart).to_have_count(1, timeout=PREDICT_MS)
    expect(chart.locator("g.trace").first).to_be_attached()
    ticks = chart.locator(".ytick text")  # one bar per class, the most likely first
    expect(ticks).to_have_count(len(classes))
    assert sorted(ticks.all_text_contents()) == classes
    verdict = rf"^({'|'.join(map(re.escape, classes))}) · \d+\.\d%$"
    expect(page.get_by_text(re.compile(verdict))).to_be_visible()
    expect(page.get_by_test_id("stImageCaption").filter(has_text=photo.name)).to_be_visible()
    errors = page.get_by_test_id("stAlertContentError")
    expect(errors).to_have_count(1)
    expect(errors).to_contain_text("junk.jpg: ")
    screenshot(page, "predict.png")

    # Back on Queue until the second run succeeds, then both runs on the Runs page.
    open_page(page, lab, "/queue", "Queue runs")
    wait_until_succeeded(page, lab, "e2e-sgd")
    open_page(page, lab, f"/runs?runs={first},{second}", "Runs")
    for name in NAMES:
        expect(run_row(page, name).locator("td").filter(has_text=ENDED)).to_have_text("succeeded")
    compare = page.get_by_role("button", name="Compare 2 runs selected")
    expect(compare).to_be_visible()
    screenshot(page, "runs.png")

    # Compare, opened from the Runs selection: both runs' curves, and the share link.
    compare.click()
    expect(page.get_by_role("heading", name="Compare runs", exact=True)).to_be_visible()
    expect_compare_view(page)
    share = page.get_by_test_id("stCaptionContainer").filter(has_text="Share this view")
    found = re.search(r"Share this view:\s*(\S+)", share.inner_text())
    assert found, share.inner_text()
    link = urlsplit(found.group(1))
    assert link.path == "/compare"
    assert sorted(parse_ids(parse_qs(link.query)["runs"][0])) == [first, second]
    screenshot(page, "compare.png")

    # The link in a fresh context (no cookies, no session) opens the same view.
    shared = new_page()
    open_page(shared, lab, found.group(1), "Compare runs")
    expect_compare_view(shared)
    screenshot(shared, "compare-shared.png")

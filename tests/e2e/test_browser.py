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
    form = config_form(page)
    fill_form(page, lab, name)
    form.get_by_label("Optimizer", exact=True).click()
    page.get_by_role("option", name=optimizer, exact=True).click()
    expect(form.get_by_label("Optimizer", exact=True)).to_have_value(optimizer)
    settled(page)
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


def config_form(page: Page) -> Locator:
    """Queue's form: the innermost block holding both the Name field and "Queue run"."""
    blocks = page.get_by_test_id("stVerticalBlock")
    holding = blocks.filter(has=page.get_by_label("Name", exact=True)).filter(
        has=page.get_by_role("button", name="Queue run", exact=True)
    )
    return holding.last


def settled(page: Page) -> None:
    """Wait until Streamlit has applied the last change (its "Running..." widget is gone)."""
    page.wait_for_timeout(300)
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden()


def fill_form(page: Page, lab: LiveLab, name: str) -> None:
    """A tiny run in the form: each field committed with Enter (the form reruns live)."""
    form = config_form(page)
    values = {
        "Name": name,
        "Dataset folder": str(lab.dataset),
        "Image size (px)": "106",  # the report CNN's minimum
        "Epochs": "2",
        "Batch size": "8",
        "Steps per epoch (0 = auto)": "0",  # the report's 70 steps would repeat the data
    }
    for label, value in values.items():
        field = form.get_by_label(label, exact=True)
        field.fill(value)
        field.press("Enter")
        settled(page)


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
    verdict = rf"^({'|'.join(map(re.escape, classes))}) · \d+\.\d%( · not confident)?$"
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


# What a new user tripped over (issue 10), each in the browser. These share the module's lab
# (one worker, one dashboard) and queue their own tiny runs, so they do not depend on the test
# above.

TINY = {"image_size": 106, "epochs": 1, "batch_size": 8}


def queue_tiny(lab: LiveLab, name: str, **fields: object) -> int:
    """Queue a one-epoch run straight into the lab's database; its id."""
    from db import queue
    from db.session import Database
    from experiment.config import parse_config

    database = Database(lab.database_url)
    try:
        config = parse_config({"name": name, "dataset": str(lab.dataset), **TINY, **fields})
        with database.begin() as session:
            return queue.enqueue(session, config.to_new_run())
    finally:
        database.dispose()


def run_status(lab: LiveLab, run_id: int) -> str:
    from db.runs import get_run
    from db.session import Database

    database = Database(lab.database_url)
    try:
        with database.read() as session:
            run = get_run(session, run_id)
        return "missing" if run is None else run.status.value
    finally:
        database.dispose()


@pytest.fixture(scope="module")
def two_finished(live_lab: LiveLab) -> tuple[int, int]:
    """Two tiny runs that differ in their optimizer, trained to the end by the lab's worker."""
    import time

    ids = (
        queue_tiny(live_lab, "tabs-adam", study="tabs"),
        queue_tiny(live_lab, "tabs-sgd", study="tabs", optimizer="sgd"),
    )
    deadline = time.monotonic() + TRAIN_MS / 1000
    while time.monotonic() < deadline:
        if all(run_status(live_lab, i) == "succeeded" for i in ids):
            return ids
        time.sleep(1)
    pytest.fail(f"runs {ids} did not succeed\n{live_lab.log_tail()}")


def run_mode(page: Page) -> Locator:
    """Compare's "Runs to compare" choice that is on: "All N matching" or "Pick runs"."""
    return page.get_by_role("radiogroup", name="Runs to compare").get_by_role("radio", checked=True)


def selected_tab(page: Page) -> Locator:
    return page.get_by_role("tab", selected=True)


def test_compare_and_run_tabs_switch_on_one_click(
    page: Page, live_lab: LiveLab, two_finished: tuple[int, int]
) -> None:
    """Every tab opens on its first click, and stays open, on Compare and on a run's page."""
    first, second = two_finished
    open_page(page, live_lab, f"/compare?runs={first},{second}", "Compare runs")
    for label, param in [
        ("Table", "table"), ("Parallel coordinates", "parallel"), ("Curves", None),
        ("Parallel coordinates", "parallel"), ("Table", "table"),
    ]:  # fmt: skip
        page.get_by_role("tab", name=label, exact=True).click()
        settled(page)
        page.wait_for_timeout(1_000)  # a rerun that took the tab back would show by now
        expect(selected_tab(page)).to_have_text(label)
        assert parse_qs(urlsplit(page.url).query).get("tab") == ([param] if param else None)
    open_page(page, live_lab, f"/run?id={first}", f"Run {first} · tabs-adam")
    for label in ("Evaluation", "Details", "Model", "Curves", "Augmentation", "Versus"):
        page.get_by_role("tab", name=label, exact=True).click()
        settled(page)
        page.wait_for_timeout(1_000)
        expect(selected_tab(page)).to_have_text(label)


def test_a_run_page_opened_while_queued_follows_the_run_to_its_end(
    page: Page, live_lab: LiveLab
) -> None:
    """Queued, then running, then succeeded with its model, on one page load (no reload)."""
    busy = queue_tiny(live_lab, "live-busy", epochs=2)  # keeps the worker busy meanwhile
    # ResNet-20 (its first epoch traces for seconds) runs long enough to be seen running
    # between the page's refreshes; the report CNN at 106 px can finish in between.
    watched = queue_tiny(
        live_lab, "live-watched", architecture="resnet20", image_size=32, epochs=3,
        steps_per_epoch=20,
    )  # fmt: skip
    open_page(page, live_lab, f"/run?id={watched}", f"Run {watched} · live-watched")
    page.evaluate("() => { window.sameLoad = true; }")  # gone if the page reloads
    status = (
        page.get_by_test_id("stMetric").filter(has_text="status").get_by_test_id("stMetricValue")
    )
    try:
        expect(status).to_have_text("queued")
        expect(page.get_by_role("button", name="Cancel run")).to_be_visible()
        expect(status).to_have_text("running", timeout=TRAIN_MS)
        expect(status).to_have_text("succeeded", timeout=TRAIN_MS)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{live_lab.log_tail()}") from None
    epochs = page.get_by_test_id("stMetric").filter(has_text="epochs done")
    expect(epochs.get_by_test_id("stMetricValue")).to_have_text("3/3")
    expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)
    download = re.compile(r"Download model \(\.keras, [\d.]+ (kB|MB|GB|bytes)\)")
    expect(page.get_by_role("button", name=download)).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Stop reason: completed"))).to_be_visible()
    assert page.evaluate("() => window.sameLoad === true"), "the page reloaded"
    assert run_status(live_lab, busy) == "succeeded"
    screenshot(page, "run-live-finished.png")


def test_a_status_filter_share_link_opens_the_same_view(
    page: Page, new_page: Callable[[], Page], live_lab: LiveLab, two_finished: tuple[int, int]
) -> None:
    """Status "succeeded" on a bare Compare keeps "Pick runs"; its link, opened fresh, too."""
    open_page(page, live_lab, "/compare", "Compare runs")
    page.get_by_role("toolbar", name="Status").get_by_role("button", name="succeeded").click()
    settled(page)
    expect(run_mode(page)).to_have_text("Pick runs")
    expect(page.get_by_text("Pick runs to compare, or a whole study.")).to_be_visible()
    share = page.get_by_test_id("stCaptionContainer").filter(has_text="Share this view")
    expect(share).to_contain_text("status=succeeded")
    found = re.search(r"Share this view:\s*(\S+)", share.inner_text())
    assert found, share.inner_text()

    shared = new_page()
    open_page(shared, live_lab, found.group(1), "Compare runs")
    expect(run_mode(shared)).to_have_text("Pick runs")
    expect(shared.get_by_text("Pick runs to compare, or a whole study.")).to_be_visible()

    # "All matching" with the same filter: the link opens the curves of every succeeded run.
    modes = page.get_by_role("radiogroup", name="Runs to compare")
    modes.get_by_role("radio", name=re.compile("matching")).click()
    expect(run_mode(page)).to_contain_text("matching")
    expect(share).not_to_contain_text("mode=pick")  # the link follows the mode
    found = re.search(r"Share this view:\s*(\S+)", share.inner_text())
    assert found, share.inner_text()
    again = new_page()
    open_page(again, live_lab, found.group(1), "Compare runs")
    expect(run_mode(again)).to_contain_text("matching")
    expect(again.locator(".js-plotly-plot g.trace path.js-line").first).to_be_attached()


def test_queue_run_with_a_filled_grid_box_does_what_the_page_says(
    page: Page, live_lab: LiveLab
) -> None:
    """The page says a filled grid box is previewed first; "Queue run" does that, queues
    nothing, and the preview's button queues the grid."""
    open_page(page, live_lab, "/queue", "Queue runs")
    fill_form(page, live_lab, "e2e-grid")
    form = config_form(page)
    form.get_by_text("Grid: queue every combination").click()
    box = form.get_by_role("textbox", name="One `field: [value, value]` per line (YAML)")
    box.fill("optimizer: [sgd, adam]")
    box.press("Control+Enter")  # commits a text area
    settled(page)
    expect(
        form.get_by_text("The grid box is filled: every button previews it first.")
    ).to_be_visible()
    form.get_by_role("button", name="Queue run", exact=True).click()
    expect(page.get_by_text("previewed the grid instead")).to_be_visible()
    expect(page.get_by_role("heading", name="Grid preview: 2 runs")).to_be_visible()
    expect(page.get_by_test_id("stAlertContentSuccess")).to_have_count(0)
    page.get_by_role("button", name="Queue 2 runs").click()
    queued = page.get_by_test_id("stAlertContentSuccess").filter(has_text="Queued runs")
    expect(queued).to_be_visible()
    ids = [int(i) for i in re.findall(r"\d+", queued.inner_text())[:2]]
    assert [run_status(live_lab, i) for i in ids] != ["missing", "missing"]
    screenshot(page, "queue-grid.png")


def test_the_terminal_shows_no_tensorflow_start_up_notices(live_lab: LiveLab) -> None:
    """The worker and the dashboard (which imported TensorFlow for Predict) logged none."""
    from tf_logging import STARTUP_NOTICES

    for log in live_lab.logs:
        noisy = [line for line in log.read_text().splitlines() if STARTUP_NOTICES.search(line)]
        assert noisy == [], f"{log.name}: {noisy[:3]}"

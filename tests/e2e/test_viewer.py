"""End to end in Chromium: log in, open a real slide, see tiles, zoom deeper (issue 2, item 8)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.support.accounts import Accounts
from tests.support.browser import REFUSED, canvas_pixels, logged_in_page, ready, wait_until_drawn
from tests.support.http import ingest
from tests.support.paths import ARTIFACTS
from tests.support.server import LiveServer

TILE = re.compile(r"/dzi/(\d+)_files/(\d+)/(\d+)_(\d+)\.jpeg")


def test_view_and_zoom_a_real_slide(
    browser: Browser, live_server: LiveServer, accounts: Accounts, samples: dict[str, Path]
) -> None:
    slide_id = ingest(live_server.url, "expert-a", samples["pyramid"], accounts.exam_a_id)
    page = logged_in_page(browser, live_server, "expert-a")
    requested: list[tuple[int, int]] = []
    page.on("request", lambda r: (m := TILE.search(r.url)) and requested.append((int(m[1]), int(m[2]))))

    card = page.locator(f'[data-slide-id="{slide_id}"]')
    expect(card).to_contain_text("CMU-1-Small-Region-2x-pyramid.tiff")
    expect(card).to_contain_text("0.249 µm/px")
    page.wait_for_function(
        f"() => document.querySelector('[data-slide-id=\"{slide_id}\"] img').naturalWidth > 0"
    )
    page.screenshot(path=str(ARTIFACTS / "slide-list.png"))

    card.click()
    page.wait_for_url(f"{live_server.url}/slides/{slide_id}")
    wait_until_drawn(page)
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "viewer-home.png"))

    metadata = page.locator("#metadata")
    expect(metadata).to_contain_text("4,440 × 5,934 px")
    expect(metadata).to_contain_text("0.2495 µm/px")
    expect(metadata).to_contain_text("pathodesk-pyramid")
    expect(page.locator("#scale-bar .label")).to_have_text(re.compile(r"^\d+ (µm|mm)$"))

    rgba = canvas_pixels(page).astype(int)
    drawn = rgba[..., 3] > 0
    assert drawn.mean() > 0.3, "tiles cover too little of the canvas"
    pixels = rgba[..., :3]
    tissue = pixels[drawn & (pixels.sum(axis=2) < 600)]  # drawn, and not white glass
    assert len(tissue) > 0.05 * drawn.sum(), "no tissue drawn"
    # H&E: red channel above green on average (pink/purple), not a grey or green cast
    assert tissue[:, 0].mean() > tissue[:, 1].mean() + 20

    levels_before = {level for sid, level in requested if sid == slide_id}
    page.evaluate(
        "() => { const v = window.pathodeskViewer; v.viewport.zoomTo(v.viewport.getMaxZoom(), null, true); }"
    )
    wait_until_drawn(page)
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "viewer-max-zoom.png"))
    levels_after = {level for sid, level in requested if sid == slide_id}
    assert max(levels_after) > max(levels_before), (levels_before, levels_after)
    top_level = 13  # ceil(log2(5934)): full resolution
    assert top_level in levels_after
    magnification = page.locator("#magnification").inner_text()
    assert float(magnification.strip("≈ ×")) >= 60, magnification

    zoomed = canvas_pixels(page).astype(int)
    assert (zoomed[..., 3] > 0).mean() > 0.9 and zoomed[..., :3].std() > 10, "zoomed view is blank"
    page.close()


def test_viewer_shows_associated_images_and_shared_formats(
    browser: Browser, live_server: LiveServer, accounts: Accounts, samples: dict[str, Path]
) -> None:
    slide_id = ingest(live_server.url, "expert-a", samples["svs"], accounts.exam_a_id)
    page = logged_in_page(browser, live_server, "expert-a")
    page.goto(f"{live_server.url}/slides/{slide_id}")
    wait_until_drawn(page)
    label = page.locator('img[alt="label image"]')
    expect(label).to_be_visible()
    page.wait_for_function("() => document.querySelector('img[alt=\"label image\"]').naturalWidth > 0")
    expect(page.locator("#metadata")).to_contain_text("aperio")
    page.screenshot(path=str(ARTIFACTS / "viewer-svs.png"))
    page.close()


def test_the_next_slide_of_the_case_is_one_click_away(
    browser: Browser, live_server: LiveServer, accounts: Accounts, samples: dict[str, Path]
) -> None:
    first = ingest(live_server.url, "expert-a", samples["svs"], accounts.exam_a_id)
    second = ingest(live_server.url, "expert-a", samples["pyramid"], accounts.exam_a_id)
    page = logged_in_page(browser, live_server, "expert-a")
    page.goto(f"{live_server.url}/slides/{first}")
    wait_until_drawn(page)
    steps = page.locator("#slide-steps")
    expect(steps).to_contain_text("slide 1 of 2 in the exam")
    expect(page.locator("#previous-slide")).to_have_count(0)
    with page.expect_navigation():
        page.click("#next-slide")
    assert page.url == f"{live_server.url}/slides/{second}"
    wait_until_drawn(page)
    expect(steps).to_contain_text("slide 2 of 2 in the exam")
    expect(page.locator("#next-slide")).to_have_count(0)
    expect(page.locator("#previous-slide")).to_have_attribute("href", f"/slides/{first}")
    page.close()


@pytest.mark.console_errors_expected(REFUSED)  # refusals provoked on purpose
def test_upload_page_shows_progress_and_errors(
    browser: Browser,
    live_server: LiveServer,
    accounts: Accounts,
    samples: dict[str, Path],
    tmp_path: Path,
) -> None:
    page = logged_in_page(browser, live_server, "expert-a")
    page.goto(f"{live_server.url}/upload")
    ready(page)
    page.fill("#patient_code", "P-UP")
    page.fill("#pathology_id", "E-UP")
    page.click("#case-form button[type=submit]")
    expect(page.locator("#exam-select")).to_contain_text("E-UP")

    expect(page.locator("#upload-percent")).to_be_hidden()  # no bar before anything is sent
    chosen = page.locator(".file-pick .file-names")  # the page's words, not the browser's
    expect(chosen).to_have_text("No file chosen")
    bad = tmp_path / "notes.svs"
    bad.write_text("not a slide at all")
    page.set_input_files("#file", [str(bad), str(samples["svs"])])  # several at once, one refused
    expect(chosen).to_have_text("2 files")
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#upload-percent")).to_have_text("2 files · 100 %")
    lines = page.locator("#upload-result li")
    expect(lines).to_have_count(2)
    expect(lines.first).to_have_class("error")
    expect(lines.first).to_contain_text(re.compile(r"^notes\.svs: .*notes\.svs"))  # which file, and why
    expect(lines.nth(1).locator("a")).to_contain_text("Uploaded slide")
    page.screenshot(path=str(ARTIFACTS / "upload.png"))

    page.set_input_files("#file", str(samples["svs"]))  # the same bytes again: found, not stored twice
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#upload-result a")).to_contain_text("Already stored as slide")
    expect(page.locator("#upload-percent")).to_have_text("100 %")
    page.click("#upload-result a")
    wait_until_drawn(page)
    page.close()

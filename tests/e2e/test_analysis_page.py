"""AI analysis in Chromium (issue 7, item 6): upload a mosaic slide whose tumour is known,
start the analysis in the browser, watch the progress, see the outline over the tumour and
the heatmap, export the ASAP XML."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, Page, expect
from shapely.geometry import shape
from shapely.ops import unary_union

from pathodesk.analysis.mosaic import split_images, write_mosaic
from pathodesk.annotations.formats import read_annotation_file
from pathodesk.ml.registry import SHIPPED_DIR
from tests.support.accounts import Accounts
from tests.support.axe import audit, blocking
from tests.support.browser import (
    canvas_pixels,
    logged_in_page,
    open_editor,
    overlay_pixels,
    ready,
    to_screen,
    viewer_origin,
    wait_until_drawn,
)
from tests.support.paths import ARTIFACTS
from tests.support.server import LiveServer


def test_upload_analyze_watch_progress_and_export(
    browser: Browser, live_server: LiveServer, accounts: Accounts, shared_data: Path, tmp_path: Path
) -> None:
    images = split_images(shared_data / "lc25000-lung-224", SHIPPED_DIR / "lung" / "splits.csv")
    # 24 x 24 cells: long enough a job to be watched at the page's polling rate
    truth = write_mosaic(tmp_path / "lung-mosaic.tiff", images, "lung_n", "lung_aca", grid=24, seed=1)
    assert truth.tumour is not None
    page = logged_in_page(browser, live_server, "expert-a")
    page.goto(f"{live_server.url}/upload")
    ready(page)
    page.fill("#patient_code", "P-AI")
    page.fill("#pathology_id", "E-AI")
    page.select_option("#disease_type", "lung")
    page.click("#case-form button[type=submit]")
    expect(page.locator("#exam-select")).to_contain_text("E-AI")
    page.set_input_files("#file", str(truth.path))
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#upload-result a")).to_contain_text("Uploaded slide")
    page.click("#upload-result a")
    wait_until_drawn(page)
    slide_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    open_editor(page, live_server, slide_id)

    page.select_option("#analyze-outline", "tiles")
    page.select_option("#analyze-overlap", "2")
    # every text the status line shows, recorded by the page itself (sampling could miss one)
    page.evaluate(
        """() => {
          const status = document.getElementById('analyze-status');
          window.statusTexts = [];
          new MutationObserver(() => window.statusTexts.push(status.textContent))
            .observe(status, {childList: true, characterData: true, subtree: true});
        }"""
    )
    page.click("#analyze-start")
    expect(page.locator("#analyze-progress")).to_be_visible()
    expect(page.locator("#analyze-status")).to_have_text("finished 100 %", timeout=120_000)
    shown: list[str] = page.evaluate("() => window.statusTexts")
    percents = [int(text.split(" %")[0].rsplit(" ", 1)[1]) for text in shown]
    assert shown[-1] == "finished 100 %" and percents == sorted(percents), shown  # never goes back
    assert any(text.startswith("running") for text in shown), shown  # seen while it ran
    assert any(text.endswith("finding tissue") for text in shown), shown  # stage by stage
    expect(page.locator("#analyze-progress")).to_be_hidden()  # no full bar left behind
    expect(page.locator("#analysis-summary")).to_contain_text("lung adenocarcinoma")  # by display name
    expect(page.locator("#analysis-summary")).to_contain_text("Lung v")  # the model's disease type too
    expect(page.locator("#analysis-summary")).to_contain_text("tiles of 224 px, 112 px apart")

    # the AI outline is in the list and drawn over the tumour
    rows = page.locator("#annotation-rows tr")
    expect(rows.first).to_contain_text("AI")
    centre = truth.tumour.representative_point()
    (x, y) = to_screen(page, [[centre.x, centre.y]])[0]
    ox, oy = viewer_origin(page)
    pixels = overlay_pixels(page)
    ratio = pixels.shape[1] / page.evaluate("() => document.getElementById('annotation-canvas').clientWidth")
    assert pixels[int((y - oy) * ratio), int((x - ox) * ratio), 3] > 20  # the region's fill covers it

    before = canvas_pixels(page).astype(int)
    page.locator("input.heatmap-toggle[data-label='lung_aca']").check()
    page.wait_for_timeout(1500)
    after = canvas_pixels(page).astype(int)
    tinted = (abs(after - before).sum(axis=2) > 30).mean()
    assert tinted > 0.02  # the heatmap tints the tumour
    expect(page.locator("#heatmap-controls .legend-bar")).to_be_visible()  # viridis scale, 0 to 1
    page.screenshot(path=str(ARTIFACTS / "analysis-viewer.png"))
    # issue 21, item 3: a threshold hides the unlikely tiles, the opacity slider fades the rest
    slide_to(page, "#heatmap-threshold", "0.9", "change")
    page.wait_for_timeout(1500)
    thresholded = (abs(canvas_pixels(page).astype(int) - before).sum(axis=2) > 30).mean()
    assert 0 < thresholded < tinted
    expect(page.locator("#heatmap-threshold-value")).to_have_text("0.9")
    slide_to(page, "#heatmap-opacity", "0.1", "input")
    page.wait_for_timeout(800)
    faded = abs(canvas_pixels(page).astype(int) - before).sum(axis=2)
    assert (faded > 30).mean() < thresholded  # the same tiles, much fainter
    page.screenshot(path=str(ARTIFACTS / "analysis-heatmap-threshold.png"))
    assert blocking(audit(page)) == []  # with the summary, heatmap controls and AI rows shown

    with page.expect_download() as download:
        page.click("#export-xml")
    regions = read_annotation_file(Path(download.value.path()).read_bytes()).regions
    assert {r.label for r in regions} == {"lung_aca"}
    found = unary_union([shape(r.geometry) for r in regions])
    assert 2 * found.intersection(truth.tumour).area / (found.area + truth.tumour.area) >= 0.85

    # a second analysis, cancelled from the page, leaves the first one's outlines alone
    outlines = rows.count()
    page.click("#analyze-start")
    page.click("#analyze-cancel")
    expect(page.locator("#analyze-status")).to_have_text(re.compile(r"^cancelled \d+ %$"), timeout=60_000)
    expect(page.locator("#analyze-cancel")).to_be_hidden()
    expect(page.locator("#analyze-start")).to_be_enabled()
    jobs = page.evaluate(f"() => fetch('/api/v1/jobs?slide_id={slide_id}').then((r) => r.json())")
    assert [job["state"] for job in jobs] == ["cancelled", "succeeded"]
    page.reload()
    wait_until_drawn(page)
    expect(page.locator("#annotation-rows tr")).to_have_count(outlines)
    expect(page.locator("#analysis-summary")).to_contain_text("lung adenocarcinoma")  # the finished one's
    page.close()


def slide_to(page: Page, selector: str, value: str, event: str) -> None:
    """Move a range slider as a drag would end: the value, then the event the page listens to."""
    script = "([el, value, event]) => { el.value = value; el.dispatchEvent(new Event(event)); }"
    page.locator(selector).evaluate(f"el => ({script})([el, '{value}', '{event}'])")

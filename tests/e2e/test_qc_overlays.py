"""QC in the browser (issue 5, item 3): the viewer switches the tissue mask and QC overlays on
and off over the slide, and the report page shows each check's overlay on the thumbnail."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from playwright.sync_api import Browser, expect

from pathodesk.qc.checks import CHECKS
from tests.support.accounts import Accounts
from tests.support.browser import canvas_pixels, logged_in_page, ready, wait_until_drawn
from tests.support.http import ingest
from tests.support.paths import ARTIFACTS
from tests.support.server import LiveServer

ALL_LOADED = (
    "n => window.pathodeskViewer.world.getItemCount() === n &&"
    " [...Array(n).keys()].every(i => window.pathodeskViewer.world.getItemAt(i).getFullyLoaded())"
)


def test_viewer_overlays_and_report_page(
    browser: Browser, live_server: LiveServer, accounts: Accounts, samples: dict[str, Path]
) -> None:
    slide_id = ingest(live_server.url, "expert-a", samples["pyramid"], accounts.exam_a_id)
    page = logged_in_page(browser, live_server, "expert-a")
    page.goto(f"{live_server.url}/slides/{slide_id}")
    ready(page)
    wait_until_drawn(page)
    page.wait_for_timeout(300)  # let the open animation settle before comparing pixels
    before = canvas_pixels(page).astype(int)

    page.get_by_label("tissue mask").check()
    page.wait_for_function(ALL_LOADED, arg=2, timeout=20_000)
    page.wait_for_timeout(300)
    after = canvas_pixels(page).astype(int)
    page.screenshot(path=str(ARTIFACTS / "viewer-tissue-overlay.png"))
    changed = np.abs(after - before)[..., :3].sum(axis=2) > 30
    slide_area = before[..., 3] > 0
    share = changed[slide_area].mean()
    assert 0.15 < share < 0.7, share  # about a third of the CMU region is tissue
    greener = (after[..., 1] - after[..., 0])[changed].mean() - (before[..., 1] - before[..., 0])[
        changed
    ].mean()
    assert greener > 30  # the tissue mask is drawn in green over the tissue

    page.get_by_label("tissue mask").uncheck()
    page.wait_for_function(ALL_LOADED, arg=1, timeout=20_000)
    page.wait_for_timeout(300)
    restored = canvas_pixels(page).astype(int)
    assert (np.abs(restored - before)[..., :3].sum(axis=2) > 30).mean() < 0.01

    page.click("#qc-report-link")
    page.wait_for_url(f"{live_server.url}/slides/{slide_id}/qc")
    ready(page)
    expect(page.locator("#qc-verdict")).to_contain_text("QC passed")
    expect(page.locator(".qc-card")).to_have_count(len(CHECKS))
    page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
    sizes = page.evaluate("() => [...document.querySelectorAll('.qc-stack img')].map(i => i.naturalWidth)")
    assert len(sizes) == 2 * len(CHECKS) and len(set(sizes)) == 1  # overlays match the thumbnail
    page.screenshot(path=str(ARTIFACTS / "qc-report.png"), full_page=True)

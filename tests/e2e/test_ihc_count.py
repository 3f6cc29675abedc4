"""Counting a region's nuclei in the viewer (Chromium): select the region, count, read the
Ki-67 index, see each counted nucleus ringed where it lies (red positive, blue negative), and
the same in Chinese."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.accounts import Accounts
from tests.support.axe import audit, blocking
from tests.support.browser import REFUSED, log_in, open_editor, overlay_pixels, to_screen
from tests.support.http import PASSWORD, ingest
from tests.support.ihc import grid, hot_spot_field, ihc_slide, pyramid_of
from tests.support.paths import ARTIFACTS
from tests.support.server import LiveServer
from tests.support.shapes import rectangle

AMOUNTS = [0.9 if i % 3 == 0 else 0.0 for i in range(32)]  # 8 × 4 nuclei; every third brown
NUCLEI = grid(AMOUNTS)
RING_UM, MPP = 4, 0.5  # ihc-panel.js draws rings of 4 µm


def ring_colour(page: Page, x: float, y: float) -> np.ndarray:
    """The strongest pixel the annotation layer drew on the ring right of nucleus (x, y)."""
    pixels = overlay_pixels(page)
    canvas = page.locator("#annotation-canvas").bounding_box()
    assert canvas is not None
    ratio = pixels.shape[1] / canvas["width"]
    (_, sy), (rx, _) = to_screen(page, [[x, y], [x + RING_UM / MPP, y]])
    row, col = round((sy - canvas["y"]) * ratio), round((rx - canvas["x"]) * ratio)
    window = pixels[row - 2 : row + 3, col - 2 : col + 3].reshape(-1, 4)
    return window[window[:, 3].argmax()].astype(int)


def open_region(page: Page, server: LiveServer, slide_id: int) -> None:
    open_editor(page, server, slide_id)
    page.locator("#annotation-rows tr").first.click()
    expect(page.locator("#ihc-count")).to_be_visible()


def test_a_region_is_counted_and_each_nucleus_ringed_where_it_lies(
    browser: Browser, live_server: LiveServer, accounts: Accounts, tmp_path: Path
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    slide_path = ihc_slide(tmp_path / "ki67-hotspot.tif", (200, 360), NUCLEI)
    slide_id = ingest(live_server.url, "expert-a", slide_path, accounts.exam_a_id)
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        token = client.post("/api/v1/auth/login", json={"account": "expert-a", "password": PASSWORD}).json()
        created = client.post(
            f"/api/v1/slides/{slide_id}/annotations",
            json={"label": "lung_aca", "geometry": rectangle(0, 0, 170, 200), "name": "hot spot"},
            headers={"X-CSRF-Token": token["csrf_token"]},
        )
        assert created.status_code == 201, created.text

    page = browser.new_page(viewport={"width": 1440, "height": 900}, locale="en-US")
    log_in(page, live_server, "expert-a")
    open_region(page, live_server, slide_id)
    expect(page.locator("#ihc-result")).to_be_empty()  # never counted
    page.click("#ihc-start")
    expect(page.locator("#ihc-index")).to_have_text("Ki-67 index 37.5 %: 6 of 16 nuclei positive")
    expect(page.locator("#ihc-result")).to_contain_text("H-score 113 (negative 10, 1+ 0, 2+ 0, 3+ 6)")
    page.wait_for_function("() => document.getElementById('viewer').dataset.nucleiShown === '16'")

    positive = next((x, y) for x, y, amount in NUCLEI if amount > 0 and x < 170)
    negative = next((x, y) for x, y, amount in NUCLEI if amount == 0 and x < 170)
    red, blue = ring_colour(page, *positive), ring_colour(page, *negative)
    assert red[3] > 150 and red[0] > 150 and red[2] < 100, red
    assert blue[3] > 150 and blue[2] > 150 and blue[0] < 100, blue
    outside = next((x, y) for x, y, _ in NUCLEI if x > 250)  # right of the region: not counted
    assert ring_colour(page, *outside)[3] < 50
    page.screenshot(path=str(ARTIFACTS / "ihc-count.png"))
    assert blocking(audit(page)) == []

    page.uncheck("#ihc-show")  # the rings go, the numbers stay
    page.wait_for_function("() => document.getElementById('viewer').dataset.nucleiShown === '0'")
    assert ring_colour(page, *positive)[3] < 150  # at most the region's translucent fill
    page.close()

    chinese = browser.new_page(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    log_in(chinese, live_server, "expert-a")
    open_region(chinese, live_server, slide_id)  # the count is read back for the selected region
    expect(chinese.locator("#ihc-index")).to_have_text("Ki-67 指数 37.5 %：16 个细胞核中 6 个阳性")
    expect(chinese.locator("#ihc-start")).to_have_text("计数细胞核")
    chinese.screenshot(path=str(ARTIFACTS / "ihc-count-zh.png"))
    chinese.close()


@pytest.mark.console_errors_expected(REFUSED)  # the H&E slide's refusal (422)
def test_the_ai_finds_the_hot_spot_in_the_viewer_and_says_why_not_on_h_and_e(
    browser: Browser, live_server: LiveServer, accounts: Accounts, samples: dict[str, Path], tmp_path: Path
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    field = hot_spot_field((1400, 1800), 16, (1250, 700, 220), mpp=0.5)
    slide_id = ingest(
        live_server.url, "expert-a", pyramid_of(tmp_path / "ki67-field.tif", field, 0.5), accounts.exam_a_id
    )
    page = browser.new_page(viewport={"width": 1440, "height": 900}, locale="en-US")
    log_in(page, live_server, "expert-a")
    open_editor(page, live_server, slide_id)
    page.click("#ihc-hot-spot")
    expect(page.locator("#ihc-index")).to_contain_text("Ki-67 index")
    expect(page.locator("#annotation-rows tr")).to_have_count(1)
    expect(page.locator("#annotation-name")).to_have_value("Ki-67 hot spot")
    page.wait_for_function("() => Number(document.getElementById('viewer').dataset.nucleiShown) > 1000")
    page.screenshot(path=str(ARTIFACTS / "ihc-hot-spot.png"))

    he_id = ingest(live_server.url, "expert-a", samples["svs"], accounts.exam_a_id)
    open_editor(page, live_server, he_id)
    page.click("#ihc-hot-spot")
    expect(page.locator("#ihc-hot-spot-error")).to_contain_text("not on H&E")
    expect(page.locator("#annotation-rows tr")).to_have_count(0)
    page.close()

"""Finding one's way on a slide (issue 21, item 5): magnification presets, rotation with the
outlines turning along, the cursor in µm, class names on the slide, counts of all and in
view, the shortcuts list; larger vertex handles."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from playwright.sync_api import Browser, expect

from tests.support.accounts import Accounts
from tests.support.browser import logged_in_page, open_editor, overlay_pixels, to_screen, viewer_origin
from tests.support.http import ingest, login
from tests.support.paths import ARTIFACTS
from tests.support.server import LiveServer

SQUARE = [[900, 1200], [1300, 1200], [1300, 1500], [900, 1500], [900, 1200]]  # level-0 px


def test_presets_rotation_cursor_labels_and_shortcuts(
    browser: Browser, live_server: LiveServer, accounts: Accounts, samples: dict[str, Path]
) -> None:
    slide_id = ingest(live_server.url, "expert-a", samples["svs"], accounts.exam_a_id)
    with httpx.Client(base_url=live_server.url) as client:
        login(client, "expert-a")
        made = client.post(
            f"/api/v1/slides/{slide_id}/annotations",
            json={"label": "lung_aca", "geometry": {"type": "Polygon", "coordinates": [SQUARE]}},
        )
        assert made.status_code == 201, made.text
    page = logged_in_page(browser, live_server, "expert-a")
    open_editor(page, live_server, slide_id)
    magnification = page.locator("#magnification")

    page.keyboard.press("2")  # 10x: a 0.499 µm/px slide at 0.499 screen px per slide px
    expect(magnification).to_have_text(re.compile(r"≈ 10\.0×"))
    page.click("[data-magnification='40']")
    expect(magnification).to_have_text(re.compile(r"≈ 40\.0×"))
    page.keyboard.press("0")  # the whole slide again
    expect(page.locator("#annotation-count")).to_contain_text("1 in view of 1")
    assert page.evaluate("() => window.pathodeskAnnotations.canvas.labels.size") == 1  # class on the slide

    page.click("[data-rotate='90']")
    page.wait_for_function("() => window.pathodeskViewer.viewport.getRotation() === 90")
    page.wait_for_timeout(1200)  # the rotation animates
    (cx, cy) = to_screen(page, [[1100, 1350]])[0]  # the square's centre, where the slide now shows it
    (ox, oy) = viewer_origin(page)
    pixels = overlay_pixels(page)
    ratio = pixels.shape[1] / page.evaluate("() => document.getElementById('annotation-canvas').clientWidth")
    assert pixels[int((cy - oy) * ratio), int((cx - ox) * ratio), 3] > 20  # the outline turned with it
    page.screenshot(path=str(ARTIFACTS / "viewer-rotated.png"))

    page.mouse.move(cx, cy)
    expect(page.locator("#cursor-position")).to_have_text(re.compile(r"^x 5\d\d µm, y 6\d\d µm$"))

    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    expect(page.locator("#shortcuts")).to_contain_text("Zoom to 5×, 10×, 20×, 40×")
    page.screenshot(path=str(ARTIFACTS / "viewer-shortcuts.png"))
    page.keyboard.press("Escape")
    expect(page.locator("#shortcuts")).to_be_hidden()
    assert page.evaluate("() => window.pathodeskAnnotations.canvas.scope.settings.handleSize") == 9
    page.close()

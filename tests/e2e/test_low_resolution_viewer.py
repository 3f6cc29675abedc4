"""A slide kept at low resolution, in Chromium (issue 17, items 4 and 6): zoomed to 40×, the
viewer draws tissue from generated tiles and says so ("Super-resolved ×8"); the switch
shows the stored pixels, only enlarged, and back."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import numpy as np
from playwright.sync_api import Browser, Request, expect

from tests.support.accounts import Accounts
from tests.support.browser import canvas_pixels, logged_in_page, open_editor, wait_until_drawn
from tests.support.http import login
from tests.support.paths import ARTIFACTS
from tests.support.server import LiveServer
from tests.support.superres import random_generator, register_generator


def test_a_low_resolution_slide_is_viewed_at_40x_with_generated_tiles(
    browser: Browser, live_server: LiveServer, accounts: Accounts, samples: dict[str, Path], tmp_path: Path
) -> None:
    register_generator(live_server.settings, random_generator(), tmp_path / "run")
    with httpx.Client(base_url=live_server.url, timeout=600) as client:
        login(client, "expert-a")
        response = client.post(
            "/api/v1/slides",
            files={"file": ("cmu.svs", samples["svs"].read_bytes())},
            data={"exam_id": str(accounts.exam_a_id), "store_downsample": "8"},
        )
        assert response.status_code == 201, response.text
        slide_id = response.json()["id"]

    page = logged_in_page(browser, live_server, "expert-a")
    tiles: list[str] = []

    def seen(request: Request) -> None:
        if "_files/" in request.url:
            tiles.append(request.url)

    page.on("request", seen)
    open_editor(page, live_server, slide_id)
    badge = page.locator("#superres-badge")
    expect(badge).to_have_text(re.compile(r"^Super-resolved ×[24]$"))  # a small slide: even whole
    expect(page.locator("#metadata")).to_contain_text("kept at 1/8 of the scan")

    page.click("[data-magnification='40']")
    expect(badge).to_have_text("Super-resolved ×8")
    page.wait_for_timeout(600)  # the zoom animates
    wait_until_drawn(page)
    generated = canvas_pixels(page)[..., :3].astype(int)
    centre = generated[
        generated.shape[0] // 4 : -generated.shape[0] // 4, generated.shape[1] // 4 : -generated.shape[1] // 4
    ]
    red, green, _ = centre.reshape(-1, 3).mean(axis=0)
    assert red > green + 15 and centre.mean() < 235  # H&E tissue drawn, not white or empty
    page.screenshot(path=str(ARTIFACTS / "low-resolution-generated-40x.png"))
    assert any("_files/" in url and "pixels=stored" not in url for url in tiles)

    with page.expect_request(lambda request: "pixels=stored" in request.url, timeout=20_000):
        page.click("#superres-switch")
    expect(badge).to_have_text("Stored pixels, enlarged ×8")
    expect(page.locator("#superres-switch")).to_have_attribute("aria-pressed", "true")
    page.wait_for_function("() => window.pathodeskViewer.world.getItemAt(0).getFullyLoaded()", timeout=20_000)
    page.wait_for_timeout(300)
    stored = canvas_pixels(page)[..., :3].astype(int)
    assert any("pixels=stored" in url for url in tiles)
    assert np.abs(stored - generated).mean() > 1  # other pixels drawn
    page.screenshot(path=str(ARTIFACTS / "low-resolution-stored-40x.png"))

    page.click("#superres-switch")
    expect(badge).to_have_text("Super-resolved ×8")
    page.close()

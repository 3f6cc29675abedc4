"""A tablet (768 px) and a phone (390 px) (issue 21, item 8): the slide takes the width, the
panel follows below it, no page scrolls sideways, every page passes axe-core there too."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.support.accounts import Accounts
from tests.support.axe import audit, blocking
from tests.support.browser import ready, submit_login, wait_until_drawn
from tests.support.http import ingest, login
from tests.support.paths import ARTIFACTS
from tests.support.server import LiveServer
from tests.support.shapes import rectangle

SIZES = {"tablet": (768, 1024), "phone": (390, 844)}
SIDEWAYS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.mark.parametrize("device", list(SIZES))
def test_viewer_first_and_nothing_wider_than_the_screen(
    device: str, browser: Browser, live_server: LiveServer, accounts: Accounts, samples: dict[str, Path]
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    slide_id = ingest(live_server.url, "expert-a", samples["svs"], accounts.exam_a_id)
    with httpx.Client(base_url=live_server.url, timeout=60) as client:  # a row in the report
        login(client, "expert-a")
        outline = {"label": "lung_aca", "geometry": rectangle(100, 100, 600, 400), "name": "main tumour"}
        assert client.post(f"/api/v1/slides/{slide_id}/annotations", json=outline).status_code == 201
    width, height = SIZES[device]
    locale = "zh-CN" if device == "phone" else "en-US"
    context = browser.new_context(viewport={"width": width, "height": height}, locale=locale, has_touch=True)
    page = context.new_page()
    page.goto(f"{live_server.url}/login")
    submit_login(page, "expert-a")
    page.wait_for_url(f"{live_server.url}/")
    ready(page)
    assert page.evaluate(SIDEWAYS) <= 0, "the slide list scrolls sideways"
    page.screenshot(path=str(ARTIFACTS / f"responsive-{device}-slides.png"), full_page=True)

    page.goto(f"{live_server.url}/slides/{slide_id}")
    ready(page)
    wait_until_drawn(page)
    if device == "phone":  # the panel is a drawer there: the slide has the screen until asked
        expect(page.locator("#metadata")).to_be_hidden()
        page.click("#panel-toggle")  # may scroll the page to reach the button below the slide
        expect(page.locator("#panel-toggle")).to_have_attribute("aria-expanded", "true")
    # both measured in one moment: the page may still be scrolling to the opened drawer
    viewer, panel = page.evaluate(
        "() => ['viewer', 'metadata'].map((id) => {"
        " const r = document.getElementById(id).getBoundingClientRect();"
        " return { x: r.x, y: r.y, width: r.width, height: r.height }; })"
    )
    assert viewer["width"] >= 0.9 * width and viewer["height"] >= 0.6 * height  # the slide first, large
    assert panel["y"] >= viewer["y"] + viewer["height"] - 1  # below it (to a sub-pixel), not beside
    assert page.evaluate(SIDEWAYS) <= 0, "the viewer page scrolls sideways"
    expect(page.locator("#heatmap-controls")).to_be_hidden()  # not analysed: no heatmap scale
    page.screenshot(path=str(ARTIFACTS / f"responsive-{device}-viewer.png"))
    assert blocking(audit(page)) == []
    for path in ("/patients", "/upload", "/models", f"/exams/{accounts.exam_a_id}/report"):
        page.goto(f"{live_server.url}{path}")
        ready(page)
        assert page.evaluate(SIDEWAYS) <= 0, f"{path} scrolls sideways"
    context.close()


def test_the_side_panel_is_as_wide_as_the_reader_drags_it(
    browser: Browser, live_server: LiveServer, accounts: Accounts, samples: dict[str, Path]
) -> None:
    slide_id = ingest(live_server.url, "expert-a", samples["svs"], accounts.exam_a_id)
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server.url}/login")
    submit_login(page, "expert-a")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/slides/{slide_id}")
    ready(page)
    wait_until_drawn(page)
    panel, splitter = page.locator("#metadata"), page.locator("#panel-splitter")
    before = panel.bounding_box()
    handle = splitter.bounding_box()
    assert before is not None and handle is not None
    page.mouse.move(handle["x"] + 4, handle["y"] + 200)
    page.mouse.down()
    page.mouse.move(handle["x"] - 196, handle["y"] + 200, steps=10)
    page.mouse.up()
    wider = panel.bounding_box()
    assert wider is not None and abs(wider["width"] - (before["width"] + 200)) < 12
    splitter.focus()
    page.keyboard.press("ArrowRight")  # narrower by a step, from the keyboard
    narrower = panel.bounding_box()
    assert narrower is not None and abs(narrower["width"] - (wider["width"] - 24)) < 3
    assert page.evaluate(SIDEWAYS) <= 0
    page.reload()
    ready(page)
    again = panel.bounding_box()
    assert again is not None and abs(again["width"] - narrower["width"]) < 3  # remembered
    assert blocking(audit(page)) == []
    context.close()

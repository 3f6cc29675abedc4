"""Driving PathoDesk's pages in Chromium (Playwright): log in, wait for the viewer to draw,
read back what a person would see (canvas pixels), map slide pixels to the screen."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from tests.support.http import PASSWORD
from tests.support.paths import ARTIFACTS
from tests.support.server import LiveServer

Screen = tuple[float, float]
# the browser's console line for a request the server refused (4xx): expected where a test
# provokes one (``@pytest.mark.console_errors_expected(REFUSED)``)
REFUSED = r"^Failed to load resource: the server responded with a status of 4\d\d"


def ready(page: Page) -> None:
    """Wait until the page's script has wired its forms (it marks <html data-ready>)."""
    page.wait_for_selector("html[data-ready='true']", state="attached")


def submit_login(page: Page, account: str, password: str = PASSWORD) -> None:
    """Fill and send the login form of the page on screen."""
    ready(page)
    page.fill("#account", account)
    page.fill("#password", password)
    page.click("button[type=submit]")


def log_in(page: Page, server: LiveServer, account: str) -> None:
    page.goto(f"{server.url}/")
    expect(page).to_have_url(re.compile(r"/login"))
    submit_login(page, account)
    page.wait_for_url(f"{server.url}/")


def logged_in_page(browser: Browser, server: LiveServer, account: str) -> Page:
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    log_in(page, server, account)
    return page


def _canvas_rgba(page: Page, selector: str) -> np.ndarray:
    url = page.evaluate("(selector) => document.querySelector(selector).toDataURL('image/png')", selector)
    png = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def canvas_pixels(page: Page) -> np.ndarray:
    """What OpenSeadragon drew, read back from its canvas as RGBA."""
    return _canvas_rgba(page, "#viewer .openseadragon-canvas canvas")


def overlay_pixels(page: Page) -> np.ndarray:
    """What the annotation layer drew over the slide, as RGBA."""
    return _canvas_rgba(page, "#annotation-canvas")


def wait_until_drawn(page: Page) -> None:
    page.wait_for_function(
        "() => window.pathodeskViewer && window.pathodeskViewer.world.getItemCount() > 0"
        " && window.pathodeskViewer.world.getItemAt(0).getFullyLoaded()",
        timeout=20_000,
    )


def open_editor(page: Page, server: LiveServer, slide_id: int) -> None:
    page.goto(f"{server.url}/slides/{slide_id}")
    wait_until_drawn(page)
    page.wait_for_selector("html[data-annotations-loaded='true']", state="attached")


def viewer_origin(page: Page) -> Screen:
    box = page.locator("#viewer > .openseadragon-container").bounding_box()
    assert box is not None
    return box["x"], box["y"]


def to_screen(page: Page, points: list[list[float]]) -> list[Screen]:
    """Level-0 slide pixels -> page pixels, through OpenSeadragon's own transform."""
    ox, oy = viewer_origin(page)
    inside: list[list[float]] = page.evaluate(
        """(points) => {
            const v = window.pathodeskViewer, item = v.world.getItemAt(0);
            return points.map(([x, y]) => {
                const inViewport = item.imageToViewportCoordinates(x, y, true);
                const p = v.viewport.viewportToViewerElementCoordinates(inViewport);
                return [p.x, p.y];
            });
        }""",
        points,
    )
    return [(x + ox, y + oy) for x, y in inside]


def wait_for_report_picture(page: Page) -> None:
    """Wait until the case report's slide picture has loaded (under its outlines)."""
    page.wait_for_function("() => document.querySelector('.report-picture img').naturalWidth > 0")

"""Security fixes seen in Chromium (issue 20, C and I): after logging in from a crafted link
the browser stays on PathoDesk, no page of ours renders inside another origin's frame, and
a log-out leaves nothing of the patients in the browser's cache."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.accounts import Accounts
from tests.support.browser import submit_login
from tests.support.http import ingest
from tests.support.paths import ARTIFACTS
from tests.support.server import LiveServer, free_port


def test_a_crafted_next_link_lands_on_pathodesk(
    browser: Browser, live_server: LiveServer, accounts: Accounts
) -> None:
    page = browser.new_page()
    page.goto(f"{live_server.url}/login?next=/%5Cevil.example/")
    submit_login(page, "expert-a")
    page.wait_for_url(f"{live_server.url}/")
    expect(page.locator("h1")).to_be_visible()
    page.close()


@pytest.fixture
def other_origin(live_server: LiveServer) -> Iterator[str]:
    """A page on another port of the same host (same site, other origin) framing our login."""
    frame = f'<iframe id="framed" src="{live_server.url}/login"></iframe>'
    body = f"<html><body><h1>another site</h1>{frame}</body></html>"

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.mark.console_errors_expected(r"^Framing '.*' violates the following Content Security Policy")
def test_no_page_of_ours_renders_in_another_origins_frame(browser: Browser, other_origin: str) -> None:
    page = browser.new_page()
    blocked: list[str] = []
    page.on("console", lambda message: blocked.append(message.text))
    page.goto(other_origin)
    expect(page.locator("h1")).to_have_text("another site")
    page.wait_for_timeout(500)
    frame = page.frame_locator("#framed")
    expect(frame.locator("#login-form")).to_have_count(0)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "framed-login-blocked.png"))
    assert any("frame-ancestors" in text or "X-Frame-Options" in text for text in blocked), blocked
    page.close()


def _cached(page: Page, url: str) -> bool:
    """Whether the browser would answer ``url`` from its cache alone, asking no server."""
    return bool(
        page.evaluate(
            """async (url) => {
                try { return (await fetch(url, {cache: "only-if-cached", mode: "same-origin"})).ok; }
                catch { return false; }
            }""",
            url,
        )
    )


@pytest.mark.console_errors_expected(r"net::ERR_CACHE_MISS")  # what only-if-cached finds missing
def test_after_logging_out_the_next_person_finds_nothing_of_the_patients(
    browser: Browser, live_server: LiveServer, accounts: Accounts, samples: dict[str, Path]
) -> None:
    """A shared workstation: Back after a log-out asks the server (and the login page answers),
    the label image was never kept, and the tissue tiles kept for speed are cleared."""
    slide_id = ingest(live_server.url, "expert-a", samples["svs"], accounts.exam_a_id)
    page = browser.new_page()
    page.goto(f"{live_server.url}/login")
    submit_login(page, "expert-a")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/exams/{accounts.exam_a_id}")
    expect(page.locator("h1")).to_contain_text("P-A")
    tile, label = f"/dzi/{slide_id}_files/12/0_0.jpeg", f"/api/v1/slides/{slide_id}/associated/label"
    page.evaluate("async (urls) => { for (const url of urls) await fetch(url); }", [tile, label])
    assert _cached(page, tile), "tiles are cached while logged in (the check can see a cached file)"
    assert not _cached(page, label), "the label image, with the patient's name, is never cached"
    assert not _cached(page, f"/exams/{accounts.exam_a_id}"), "nor a page naming the patient"

    with page.expect_navigation():
        page.click("[data-logout]")
    expect(page.locator("h1")).to_have_text("Log in")
    page.go_back()
    expect(page.locator("h1")).to_have_text("Log in")
    expect(page.locator("body")).not_to_contain_text("P-A")
    assert not _cached(page, tile)
    page.screenshot(path=str(ARTIFACTS / "back-after-logout.png"))
    page.close()

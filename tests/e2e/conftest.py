"""A real Chromium (Debian's, never a downloaded build) driven by Playwright."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# CI shares two cores between the server, Chromium and pytest: wait longer than the default.
expect.set_options(timeout=20_000)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail("Debian's chromium is missing: run `make setup` (installs it as root)")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture(autouse=True)
def no_console_errors(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Normal use logs no error in the browser's console (issue 21, item 7): every page a test
    opens is watched, and an error fails the test. A test that provokes an error on purpose
    (a wrong password, a conflict, a bad upload, a framing attempt) names what it expects:
    ``@pytest.mark.console_errors_expected(REFUSED, ...)``, regular expressions; nothing else
    is allowed."""
    seen: list[str] = []

    def watch(page: Page) -> Page:
        page.on("console", lambda message: seen.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: seen.append(f"uncaught: {error}"))
        return page

    browser_page, context_page = Browser.new_page, BrowserContext.new_page
    monkeypatch.setattr(Browser, "new_page", lambda self, *a, **k: watch(browser_page(self, *a, **k)))
    monkeypatch.setattr(BrowserContext, "new_page", lambda self, *a, **k: watch(context_page(self, *a, **k)))
    yield
    marker = request.node.get_closest_marker("console_errors_expected")
    expected = [re.compile(pattern) for pattern in (marker.args if marker else ())]
    errors = [text for text in seen if not any(pattern.search(text) for pattern in expected)]
    assert errors == [], "errors in the browser console"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """Every page a test opened is closed when it ends, before its server stops (a page left
    polling a stopped server logs refused connections). An open viewer keeps OpenSeadragon's
    frame loop running, a sixth of a core here where Chromium draws in software: left open, a
    dozen earlier tests' pages took the whole machine from the tests after them."""
    browser = getattr(item, "funcargs", {}).get("browser")
    if isinstance(browser, Browser):
        for context in browser.contexts:
            context.close()

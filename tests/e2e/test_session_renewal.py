"""A session that ends while an expert edits must not cost the edits: logged out in another tab,
the editor's save asks for the password in a dialog and then saves what was drawn; a log-in in
another tab (a new CSRF token) is taken up without asking; cancelling keeps the edits unsaved
on the page; an upload goes through after the log-in. In Chromium, with screenshots in both
languages."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_annotation_editor import api_annotations, drag
from tests.support.accounts import Accounts
from tests.support.browser import REFUSED, log_in, open_editor, ready, submit_login
from tests.support.http import PASSWORD, ingest
from tests.support.paths import ARTIFACTS
from tests.support.server import LiveServer


def draw_rectangle(page: Page, offset: int) -> None:
    box = page.locator("#viewer").bounding_box()
    assert box is not None
    x, y = round(box["x"] + box["width"] / 2) + offset, round(box["y"] + box["height"] / 2)
    page.keyboard.press("r")
    drag(page, [(x - 60, y - 40), (x, y)])
    page.keyboard.press("h")


def logged_in_tab(browser: Browser, server: LiveServer) -> Page:
    """A tab of a browser window that other tabs can join (they share its cookies)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
    log_in(page, server, "expert-a")
    return page


def log_out_in_another_tab(page: Page, server: LiveServer) -> None:
    other = page.context.new_page()
    other.goto(f"{server.url}/")
    other.click("[data-logout]")
    other.wait_for_url("**/login")
    other.close()


@pytest.mark.console_errors_expected(REFUSED)
def test_edits_survive_a_session_ended_meanwhile(
    browser: Browser, live_server: LiveServer, accounts: Accounts, samples: dict[str, Path]
) -> None:
    slide_id = ingest(live_server.url, "expert-a", samples["svs"], accounts.exam_a_id)
    page = logged_in_tab(browser, live_server)
    open_editor(page, live_server, slide_id)

    # logged out elsewhere while drawing: the save asks for the password, then saves
    draw_rectangle(page, 0)
    expect(page.locator("#annotation-save")).to_have_text("Save (1)")
    log_out_in_another_tab(page, live_server)
    page.click("#annotation-save")
    dialog = page.locator("#sign-in-again")
    expect(dialog).to_be_visible()
    expect(dialog.locator("input[name=account]")).to_have_value("expert-a")
    page.screenshot(path=str(ARTIFACTS / "session-ended-dialog.png"))
    dialog.locator("input[name=password]").fill("not the password")
    dialog.locator("button[type=submit]").click()
    expect(dialog.locator("[data-error]")).to_be_visible()  # a wrong password: asked again
    dialog.locator("input[name=password]").fill(PASSWORD)
    dialog.locator("button[type=submit]").click()
    expect(page.locator("#annotation-save")).to_have_text("Saved")
    expect(dialog).to_be_hidden()
    assert len(api_annotations(live_server, slide_id)) == 1

    # logged in again in another tab: this page takes the new session's token without asking
    draw_rectangle(page, 120)
    other = page.context.new_page()
    other.goto(f"{live_server.url}/login")
    submit_login(other, "expert-a")
    other.wait_for_url(f"{live_server.url}/")
    other.close()
    page.click("#annotation-save")
    expect(page.locator("#annotation-save")).to_have_text("Saved")
    expect(dialog).to_be_hidden()
    assert len(api_annotations(live_server, slide_id)) == 2

    # cancelled: nothing is saved, and nothing drawn is lost from the page
    draw_rectangle(page, -150)
    log_out_in_another_tab(page, live_server)
    page.click("#annotation-save")
    expect(dialog).to_be_visible()
    dialog.locator("[data-cancel]").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#annotation-save")).to_have_text("Save (1)")
    assert len(api_annotations(live_server, slide_id)) == 2
    page.context.close()


@pytest.mark.console_errors_expected(REFUSED)
def test_the_dialog_speaks_chinese(browser: Browser, live_server: LiveServer, accounts: Accounts) -> None:
    page = logged_in_tab(browser, live_server)
    with page.expect_navigation():
        page.select_option("#locale-switch", "zh_CN")
    ready(page)
    log_out_in_another_tab(page, live_server)
    page.select_option("#locale-switch", "en")  # a write, refused for want of a session
    dialog = page.locator("#sign-in-again")
    expect(dialog).to_be_visible()
    expect(dialog.locator("h2")).to_have_text("会话已结束")
    page.screenshot(path=str(ARTIFACTS / "session-ended-dialog-zh.png"))
    with page.expect_navigation():  # logged in again, the switch goes on and the page reloads
        dialog.locator("input[name=password]").fill(PASSWORD)
        dialog.locator("button[type=submit]").click()
    ready(page)
    expect(page.locator("h1")).to_have_text("Slides (0)")
    page.context.close()


@pytest.mark.console_errors_expected(REFUSED)
def test_an_upload_refused_for_an_ended_session_goes_through_after_logging_in(
    browser: Browser, live_server: LiveServer, accounts: Accounts, samples: dict[str, Path]
) -> None:
    page = logged_in_tab(browser, live_server)
    page.goto(f"{live_server.url}/upload?exam_id={accounts.exam_a_id}")
    ready(page)
    page.set_input_files("#file", str(samples["svs"]))
    log_out_in_another_tab(page, live_server)
    page.click("#upload-form button[type=submit]")
    dialog = page.locator("#sign-in-again")
    expect(dialog).to_be_visible()
    dialog.locator("input[name=password]").fill(PASSWORD)
    dialog.locator("button[type=submit]").click()
    expect(page.locator("#upload-result a")).to_contain_text("Uploaded slide")
    expect(page.locator("#upload-error")).to_be_hidden()
    page.context.close()

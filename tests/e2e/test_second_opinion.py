"""A second opinion in Chromium: on the exam page an expert asks a colleague to look at the
case, and the colleague finds it in their worklist under "assigned to me"."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, expect

from tests.support.accounts import Accounts
from tests.support.axe import audit, blocking
from tests.support.browser import logged_in_page, ready
from tests.support.http import ingest
from tests.support.paths import ARTIFACTS
from tests.support.server import LiveServer


def test_an_expert_asks_a_colleague_and_the_colleague_finds_the_case(
    browser: Browser, live_server: LiveServer, accounts: Accounts, samples: dict[str, Path]
) -> None:
    ingest(live_server.url, "expert-a", samples["svs"], accounts.exam_a_id)
    page = logged_in_page(browser, live_server, "expert-a")
    page.goto(f"{live_server.url}/exams/{accounts.exam_a_id}")
    ready(page)
    section = page.locator("#assignments")
    expect(section.locator("h2")).to_have_text("Second opinion")
    page.select_option("#assign-form select", label="Expert B (expert-b)")
    with page.expect_navigation():
        page.click("#assign-form button[type=submit]")
    ready(page)
    asked = section.locator(f'li[data-user-id="{accounts.expert_b_id}"]')
    expect(asked).to_contain_text("Expert B (expert-b) · asked by Expert A")
    expect(asked.locator("button")).to_have_text("remove")
    page.screenshot(path=str(ARTIFACTS / "second-opinion-asked.png"), full_page=True)
    assert blocking(audit(page)) == []
    page.close()

    colleague = logged_in_page(browser, live_server, "expert-b")
    colleague.goto(f"{live_server.url}/?mine=assigned")
    ready(colleague)
    expect(colleague.locator(".slide-card")).to_have_count(1)
    expect(colleague.locator(".slide-card")).to_contain_text("CMU-1-Small-Region.svs")
    colleague.close()

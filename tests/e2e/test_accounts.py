"""End to end in Chromium (issue 3, item 7): an admin creates an expert; the expert builds a
case (patient → exam → real slide) and views it; another expert cannot open it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.accounts import Accounts
from tests.support.axe import audit, blocking
from tests.support.browser import REFUSED, logged_in_page, ready, wait_until_drawn
from tests.support.http import ingest
from tests.support.paths import ARTIFACTS
from tests.support.server import LiveServer


def log_in_as(page: Page, server: LiveServer, account: str, password: str) -> None:
    page.goto(f"{server.url}/login")
    ready(page)
    page.fill("#account", account)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/")


@pytest.mark.console_errors_expected(REFUSED)  # refusals provoked on purpose
def test_admin_creates_expert_who_builds_and_views_a_case(
    browser: Browser, live_server: LiveServer, accounts: Accounts, samples: dict[str, Path]
) -> None:
    admin = logged_in_page(browser, live_server, "admin")
    admin.click("text=Users")
    expect(admin).to_have_url(re.compile(r"/admin/users$"))
    ready(admin)
    admin.fill("#account", "dr.chen")
    admin.fill("#name", "Chen Jing")
    admin.fill("#password", "short")  # the server's password policy answers, shown in the form
    admin.fill("#hospital", "West China Hospital")
    admin.fill("#department", "Pathology")
    admin.evaluate("document.querySelector('#password').removeAttribute('minlength')")
    admin.click("#user-create button[type=submit]")
    expect(admin.locator("#user-create [data-error]")).to_contain_text("password needs")
    admin.fill("#password", "chen-pathology-1")
    admin.click("#user-create button[type=submit]")
    expect(admin.locator("#user-list")).to_contain_text("dr.chen")
    expect(admin.locator("#toast")).to_have_text("Account created.")  # said, without moving the page
    expect(admin.locator("#user-list")).to_contain_text("West China Hospital")
    admin.screenshot(path=str(ARTIFACTS / "admin-users.png"))

    expert = browser.new_page(viewport={"width": 1280, "height": 860})
    log_in_as(expert, live_server, "dr.chen", "chen-pathology-1")
    expert.click("text=Patients")
    expect(expert).to_have_url(re.compile(r"/patients$"))
    ready(expert)
    expert.fill("#new-code", "H-2026-001")
    expert.fill("#new-name", "Li Hua")
    expert.select_option("#new-sex", "female")
    expert.click("#patient-create button[type=submit]")
    expect(expert).to_have_url(re.compile(r"/patients/\d+$"))
    ready(expert)
    expert.fill("#pathology", "PATH-77")
    expert.select_option("#disease", "thyroid")
    expert.fill("#admitted", "2026-11-01")
    expert.click("#exam-create button[type=submit]")
    expect(expert).to_have_url(re.compile(r"/exams/\d+$"))
    exam_url = expert.url
    ready(expert)
    expert.click("#upload-into-exam")
    expect(expert).to_have_url(re.compile(r"/upload\?exam_id=\d+$"))
    ready(expert)
    expect(expert.locator("#exam-select")).to_contain_text("PATH-77")
    expert.set_input_files("#file", str(samples["svs"]))
    expert.click("#upload-form button[type=submit]")
    expect(expert.locator("#upload-result a")).to_contain_text("Uploaded slide")
    expert.goto(exam_url)
    card = expert.locator("#slide-list .slide-card").first
    expect(card).to_contain_text("CMU-1-Small-Region.svs")
    expert.screenshot(path=str(ARTIFACTS / "exam-with-slide.png"))
    card.locator("img").click()
    wait_until_drawn(expert)
    slide_url = expert.url
    expect(expert.locator("#metadata")).to_contain_text("PATH-77")

    # a duplicate patient ID is refused by the server and the form says why
    expert.goto(f"{live_server.url}/patients")
    ready(expert)
    expert.fill("#new-code", "H-2026-001")
    expert.click("#patient-create button[type=submit]")
    expect(expert.locator("#patient-create [data-error]")).to_contain_text("you already registered")

    other = logged_in_page(browser, live_server, "expert-b")
    response = other.goto(slide_url)
    assert response is not None and response.status == 404
    other.goto(f"{live_server.url}/")
    expect(other.locator("#slide-list")).not_to_contain_text("CMU-1-Small-Region.svs")
    other.goto(f"{live_server.url}/patients")
    expect(other.locator("#patient-list")).not_to_contain_text("H-2026-001")

    admin.goto(f"{live_server.url}/admin/audit?actor=dr.chen")
    audit = admin.locator("#audit-list")
    expect(audit).to_contain_text("patient")
    expect(audit).to_contain_text("slide")
    expect(audit).not_to_contain_text("Li Hua")
    admin.screenshot(path=str(ARTIFACTS / "admin-audit.png"))
    for page in (admin, expert, other):
        page.close()


def test_deleting_asks_in_the_page_naming_what_is_lost(
    browser: Browser, live_server: LiveServer, accounts: Accounts, samples: dict[str, Path]
) -> None:
    """Issue 21, item 4: no native confirm(); the dialog counts what goes and wants the code typed."""
    ingest(live_server.url, "expert-a", samples["svs"], accounts.exam_a_id)
    page = logged_in_page(browser, live_server, "expert-a")
    native: list[str] = []
    page.on("dialog", lambda dialog: (native.append(dialog.message), dialog.dismiss()))
    page.goto(f"{live_server.url}/patients")
    page.click("text=P-A")
    expect(page).to_have_url(re.compile(r"/patients/\d+$"))
    ready(page)
    delete = page.locator("button.danger", has_text="Delete patient")
    assert delete.evaluate("b => getComputedStyle(b).color") == "rgb(176, 0, 32)"  # red, unlike Save
    delete.click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Delete patient P-A with 1 exam(s) and 1 slide(s)")
    expect(dialog).to_contain_text("Type P-A to confirm")
    expect(page.locator("#confirm-ok")).to_be_disabled()
    page.fill("#confirm-typed", "P-B")
    expect(page.locator("#confirm-ok")).to_be_disabled()
    page.screenshot(path=str(ARTIFACTS / "delete-dialog.png"))
    assert blocking(audit(page)) == []  # the dialog, too, for keyboards and screen readers
    page.click("#confirm-cancel")
    expect(dialog).to_be_hidden()
    page.goto(f"{live_server.url}/patients")
    expect(page.locator("#patient-list")).to_contain_text("P-A")  # nothing lost

    page.click("text=P-A")
    ready(page)
    delete.click()
    page.fill("#confirm-typed", "P-A")
    page.click("#confirm-ok")
    expect(page).to_have_url(re.compile(r"/patients$"))
    expect(page.locator("#patient-list")).not_to_contain_text("P-A")
    page.goto(f"{live_server.url}/")
    expect(page.locator("h1")).to_have_text("Slides (0)")  # its exam and slide went with it
    assert native == []
    page.close()

"""Chinese and English in Chromium (issue 21, item 1): a Chinese browser gets Chinese pages
with a CJK font, every page reads without an English word that is not the user's own data,
and the switch is remembered on the account. Screenshots in both languages."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.accounts import Accounts
from tests.support.axe import audit, blocking
from tests.support.browser import REFUSED, log_in, ready, submit_login, wait_until_drawn
from tests.support.http import PASSWORD, ingest, login
from tests.support.paths import ARTIFACTS
from tests.support.server import LiveServer

# Text a person reads: visible text nodes and the labels of controls, not code samples.
READ_PAGE = """() => {
  const seen = [];
  const shown = (el) => el && el.checkVisibility && el.checkVisibility();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || el.closest("code, script, style") || !shown(el)) continue;
    if (node.textContent.trim()) seen.push(node.textContent.trim());
  }
  for (const el of document.querySelectorAll("[title], [placeholder], [aria-label], img[alt], option")) {
    if (el.closest("code")) continue;
    for (const name of ["title", "placeholder", "aria-label", "alt"]) {
      const value = el.getAttribute(name);
      if (value) seen.push(value);
    }
    if (el.tagName === "OPTION") seen.push(el.textContent.trim());
  }
  seen.push(document.title);
  return seen;
}"""

# The same in both languages: product, units, formats, keys.
UNIVERSAL = {"PathoDesk", "px", "µm", "µm/px", "mm", "ASAP", "XML", "GeoJSON", "F1", "SHA-256", "HTTP", "AI"}
UNIVERSAL |= {"Ctrl", "Shift", "Alt", "Del", "zip", "SVS", "NDPI", "MRXS", "TIFF", "OME-TIFF", "DICOM", "PNG"}
UNIVERSAL |= {"JPEG", "CSV", "rrggbb"}  # and a colour's notation
UNIVERSAL |= {"English"}  # the switch names each language in its own words
UNIVERSAL |= {"HER2", "Ki-67", "DAB", "HE"}  # markers, DAB and H&E: Chinese reports name them so
UNIVERSAL |= {"B", "kB", "MB", "GB", "TB"}  # sizes, as Chinese pages write them too
UNIVERSAL |= {"PSNR", "SSIM", "dB"}  # image-quality measures keep their names
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*[A-Za-z0-9]|[A-Za-z]{2,}")


def data_words(value: Any) -> set[str]:
    """Every word in the records the server holds for this user (names, codes, file names)."""
    if isinstance(value, dict):
        return set().union(*(data_words(v) for v in value.values()), *(data_words(k) for k in value))
    if isinstance(value, list):
        return set().union(set(), *(data_words(v) for v in value))
    return set(WORD.findall(str(value))) if value is not None else set()


def english_left(page: Page, known: set[str]) -> list[str]:
    texts: list[str] = page.evaluate(READ_PAGE)
    return sorted(
        {word for text in texts for word in WORD.findall(text)} - known - UNIVERSAL,
    )


def records_of(url: str, account: str, paths: list[str]) -> set[str]:
    with httpx.Client(base_url=url, timeout=60) as client:
        login(client, account)
        versions = {f"v{model['version']}" for model in client.get("/api/v1/models").json()}  # "lung v3"
        return versions.union(*(data_words(client.get(path).json()) for path in paths))


def records_api(url: str, account: str, path: str) -> Any:
    with httpx.Client(base_url=url, timeout=60) as client:
        login(client, account)
        return client.get(path).json()


def chinese_page(browser: Browser) -> Page:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900})
    return context.new_page()


def test_chinese_browser_reads_every_page_in_chinese(
    browser: Browser, live_server: LiveServer, accounts: Accounts, samples: dict[str, Path]
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    slide_id = ingest(live_server.url, "admin", samples["svs"], accounts.exam_a_id)
    page = chinese_page(browser)
    page.goto(f"{live_server.url}/login")
    ready(page)
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("h1")).to_have_text("登录")
    # a CJK face is installed and in the font stack: Chinese is drawn, not shown as boxes
    assert page.evaluate("""() => document.fonts.check('16px "Noto Sans CJK SC"', '协和医院')""")
    page.screenshot(path=str(ARTIFACTS / "i18n-zh-login.png"))
    violations: dict[str, list[dict[str, Any]]] = {"login": audit(page)}  # axe-core (issue 21, item 8)
    submit_login(page, "admin")
    page.wait_for_url(f"{live_server.url}/")
    ready(page)
    expect(page.locator("h1")).to_have_text("切片（1）")
    expect(page.locator("[data-status]")).to_have_text("已上传")

    known = records_of(
        live_server.url,
        "admin",
        [
            f"/api/v1/slides/{slide_id}",
            "/api/v1/me",
            "/api/v1/users",
            "/api/v1/patients",
            "/api/v1/exams",
            "/api/v1/disease-types",
            "/api/v1/models",
            f"/api/v1/slides/{slide_id}/annotations",
        ],
    )
    pages = {
        "slides": "/",
        "patients": "/patients",
        "exam": f"/exams/{accounts.exam_a_id}",
        "report": f"/exams/{accounts.exam_a_id}/report",
        "upload": "/upload",
        "viewer": f"/slides/{slide_id}",
        "qc": f"/slides/{slide_id}/qc",
        "models": "/models",
        "users": "/admin/users",
        "user": f"/admin/users/{accounts.expert_a_id}",
        "disease-types": "/admin/disease-types",
        "audit": "/admin/audit",
        "storage": "/admin/storage",
    }
    left: dict[str, list[str]] = {}
    for name, path in pages.items():
        page.goto(f"{live_server.url}{path}")
        ready(page)
        if name == "viewer":
            wait_until_drawn(page)
            page.wait_for_selector("html[data-annotations-loaded='true']", state="attached")
        page.screenshot(path=str(ARTIFACTS / f"i18n-zh-{name}.png"), full_page=name != "viewer")
        violations[name] = audit(page)
        words = english_left(page, known)
        if words:
            left[name] = words
    (ARTIFACTS / "axe-zh.json").write_text(json.dumps(violations, indent=1, ensure_ascii=False))
    assert left == {}, "English left on Chinese pages (not the user's own data)"
    assert {name: blocking(found) for name, found in violations.items() if blocking(found)} == {}

    # times in the reader's own language and zone, not the server's UTC text
    page.goto(f"{live_server.url}/admin/audit")
    ready(page)
    first = page.locator("#audit-list time").first
    expect(first).not_to_contain_text("UTC")
    expect(first).to_have_text(re.compile(r"\d{4}年\d{1,2}月\d{1,2}日"))


@pytest.mark.console_errors_expected(REFUSED)  # refusals provoked on purpose
def test_switch_is_remembered_on_the_account(
    browser: Browser, live_server: LiveServer, accounts: Accounts
) -> None:
    english = browser.new_context(locale="en-US", viewport={"width": 1440, "height": 900})
    page = english.new_page()
    page.goto(f"{live_server.url}/login")
    submit_login(page, "expert-a")
    page.wait_for_url(f"{live_server.url}/")
    ready(page)
    expect(page.locator("h1")).to_have_text("Slides (0)")
    page.screenshot(path=str(ARTIFACTS / "i18n-en-slides.png"))
    with page.expect_navigation():
        page.select_option("#locale-switch", "zh_CN")
    ready(page)
    expect(page.locator("h1")).to_have_text("切片（0）")
    expect(page.locator("nav")).to_contain_text("患者")
    page.screenshot(path=str(ARTIFACTS / "i18n-zh-slides-switched.png"))
    english.close()

    # another English browser, nothing remembered in it: the account brings Chinese back
    fresh = browser.new_context(locale="en-US", viewport={"width": 1440, "height": 900})
    page = fresh.new_page()
    page.goto(f"{live_server.url}/login")
    ready(page)
    expect(page.locator("h1")).to_have_text("Log in")
    page.fill("#account", "expert-a")
    page.fill("#password", PASSWORD + "-wrong")
    page.click("button[type=submit]")
    expect(page.locator("#login-error")).to_have_text("unknown account or wrong password")
    submit_login(page, "expert-a")
    page.wait_for_url(f"{live_server.url}/")
    ready(page)
    expect(page.locator("h1")).to_have_text("切片（0）")
    # and back to English from the switch
    with page.expect_navigation():
        page.select_option("#locale-switch", "en")
    ready(page)
    expect(page.locator("h1")).to_have_text("Slides (0)")
    fresh.close()


def test_classes_an_administrator_adds_are_named_in_each_language(
    browser: Browser, live_server: LiveServer, accounts: Accounts
) -> None:
    """A class added on the disease types page carries its English and Chinese names (after
    the colour: ``name #rrggbb English | 中文``); pages and the browser code show them, and the
    shipped disease types' names are translated."""
    page = chinese_page(browser)
    log_in(page, live_server, "admin")
    page.goto(f"{live_server.url}/admin/disease-types")
    ready(page)
    page.fill("#dt-name", "lymph-node")
    page.fill("#dt-display", "淋巴结")
    page.fill("#dt-labels", "meta #d62728 lymph node metastasis | 淋巴结转移\nnode #2ca02c\n")
    with page.expect_navigation():
        page.click("#disease-type-create button[type=submit]")
    ready(page)
    row = page.locator("tr[data-disease-type='lymph-node']")
    labels = row.locator("td").nth(2)
    expect(labels).to_contain_text("淋巴结转移")
    expect(labels).not_to_contain_text("lymph node metastasis")
    expect(page.locator("tr[data-disease-type='lung'] td").nth(1)).to_have_text("肺")  # a shipped type
    page.screenshot(path=str(ARTIFACTS / "i18n-zh-admin-class-names.png"), full_page=True)
    row.locator("summary").first.click()
    lines = row.locator("textarea[name=labels]").input_value().splitlines()
    assert lines == ["meta #d62728 lymph node metastasis | 淋巴结转移", "node #2ca02c"]
    names = "() => JSON.parse(document.getElementById('i18n-catalogue').textContent).terms.class"
    assert page.evaluate(names)["meta"] == "淋巴结转移"
    assert "node" not in page.evaluate(names)  # no display name given: shown by its own name

    english = browser.new_context(locale="en-US").new_page()
    log_in(english, live_server, "admin")
    english.goto(f"{live_server.url}/admin/disease-types")
    ready(english)
    assert english.evaluate(names)["meta"] == "lymph node metastasis"
    labels = english.locator("tr[data-disease-type='lymph-node'] td").nth(2)
    expect(labels).to_contain_text("lymph node metastasis")
    stored = next(
        d for d in records_api(live_server.url, "admin", "/api/v1/disease-types") if d["name"] == "lymph-node"
    )
    assert stored["labels"][0]["display"] == {"en": "lymph node metastasis", "zh_CN": "淋巴结转移"}
    assert stored["labels"][1].get("display") is None

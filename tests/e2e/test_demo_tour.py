"""The demo as a Chinese-speaking pathologist first sees it (issue 21, items 2 and 9): the
worklist, the analysed lung mosaic with its heatmap and signed-off review and its case report,
the thyroid mosaic with its weak-model warning, the Ki-67 hot spot counted, the low-resolution
slide read at 40× by super-resolution. Screenshots:
test-artifacts/tour-zh-*.png."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from pathodesk.cli.demo import load_demo
from tests.support.accounts import Accounts
from tests.support.axe import audit, blocking
from tests.support.browser import ready, submit_login, wait_for_report_picture, wait_until_drawn
from tests.support.paths import ARTIFACTS
from tests.support.server import LiveServer


@pytest.mark.shared
@pytest.mark.slow
def test_the_demo_in_chinese(
    browser: Browser, live_server: LiveServer, accounts: Accounts, shared_data: Path, samples: dict[str, Path]
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    load_demo(live_server.settings, "expert-a")
    page = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900}).new_page()
    page.goto(f"{live_server.url}/login")
    submit_login(page, "expert-a")
    page.wait_for_url(f"{live_server.url}/")
    ready(page)
    expect(page.locator("h1")).to_have_text("切片（10）")
    page.screenshot(path=str(ARTIFACTS / "tour-zh-worklist.png"), full_page=True)
    page.goto(f"{live_server.url}/?mine=review")  # awaiting review: the thyroid mosaic, the Ki-67 count
    ready(page)
    expect(page.locator(".slide-card")).to_have_count(2)
    expect(page.locator(".slide-card").first).to_contain_text("thyroid-demo-mosaic.tiff")

    page.goto(f"{live_server.url}/")
    ready(page)
    page.click("text=lung-demo-mosaic.tiff")
    ready(page)
    wait_until_drawn(page)
    page.wait_for_selector("html[data-annotations-loaded='true']", state="attached")
    expect(page.locator("#analysis-summary")).to_contain_text("肺腺癌")
    expect(page.locator("#annotation-rows tr")).to_have_count(1)
    expect(page.locator("#review-status")).to_have_text("已审核，第 1 轮")
    expect(page.locator("#review-rounds li")).to_contain_text("腺癌区域经复核确认")
    page.locator("input.heatmap-toggle[data-label='lung_aca']").check()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / "tour-zh-lung.png"))
    assert blocking(audit(page)) == []
    with page.expect_navigation():  # the lung case's report: the signed outline, measured
        page.click("#case-report-link")
    ready(page)
    expect(page.locator("#report-state")).to_have_text("已签发")
    expect(page.locator(".report-findings")).to_contain_text("肺腺癌")
    expect(page.locator(".report-ai")).to_contain_text("AI 分析所用模型：肺 v")  # the type by name
    expect(page.locator(".report-opinion")).to_contain_text("腺癌区域经复核确认")
    wait_for_report_picture(page)
    page.screenshot(path=str(ARTIFACTS / "tour-zh-lung-report.png"), full_page=True)

    page.goto(f"{live_server.url}/")
    ready(page)
    page.click("text=thyroid-demo-mosaic.tiff")
    ready(page)
    wait_until_drawn(page)
    expect(page.locator("#weak-model-warning")).to_contain_text("性能较弱")
    expect(page.locator("#weak-cascade-warning")).to_contain_text("级联模型性能较弱")  # six slides
    page.screenshot(path=str(ARTIFACTS / "tour-zh-thyroid.png"))

    page.goto(f"{live_server.url}/")  # a Ki-67 stained region: its hot spot counted
    ready(page)
    page.click("text=OS-2-ndpi.ome.tif")
    ready(page)
    wait_until_drawn(page)
    page.wait_for_selector("html[data-annotations-loaded='true']", state="attached")
    expect(page.locator("#no-model-note")).to_contain_text("尚无启用的 AI 模型")  # said, not a dead button
    page.locator("#annotation-rows tr").first.click()
    expect(page.locator("#ihc-index")).to_contain_text("Ki-67 指数")
    page.wait_for_function("() => Number(document.getElementById('viewer').dataset.nucleiShown) > 500")
    page.screenshot(path=str(ARTIFACTS / "tour-zh-ki67.png"))

    page.goto(f"{live_server.url}/")  # held-out 40× tissue kept at 1/8, read at 40× by super-resolution
    ready(page)
    page.click("text=low-resolution-demo.tiff")
    ready(page)
    wait_until_drawn(page)
    page.click("[data-magnification='40']")
    expect(page.locator("#superres-badge")).to_have_text("超分辨率 ×8")
    page.wait_for_timeout(600)  # the zoom animates
    wait_until_drawn(page)
    page.screenshot(path=str(ARTIFACTS / "tour-zh-low-resolution-40x.png"))

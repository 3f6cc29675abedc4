"""QC in the browser (issue 5, item 3): the viewer switches the tissue mask and QC overlays on
and off over the slide, and the report page shows each check's overlay on the thumbnail; an
administrator makes a slide the lab's colour reference there (SPEC E2), one per stain."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from pathodesk.qc.checks import CHECKS
from tests.support.accounts import Accounts
from tests.support.axe import audit, blocking
from tests.support.browser import canvas_pixels, log_in, logged_in_page, ready, wait_until_drawn
from tests.support.http import ingest
from tests.support.paths import ARTIFACTS
from tests.support.server import LiveServer
from tests.support.slides import cast_copy, fluorescent_copy, immunostained_copy

ALL_LOADED = (
    "n => window.pathodeskViewer.world.getItemCount() === n &&"
    " [...Array(n).keys()].every(i => window.pathodeskViewer.world.getItemAt(i).getFullyLoaded())"
)


def test_viewer_overlays_and_report_page(
    browser: Browser, live_server: LiveServer, accounts: Accounts, samples: dict[str, Path]
) -> None:
    slide_id = ingest(live_server.url, "expert-a", samples["pyramid"], accounts.exam_a_id)
    page = logged_in_page(browser, live_server, "expert-a")
    page.goto(f"{live_server.url}/slides/{slide_id}")
    ready(page)
    wait_until_drawn(page)
    page.wait_for_timeout(300)  # let the open animation settle before comparing pixels
    before = canvas_pixels(page).astype(int)

    page.get_by_label("tissue mask").check()
    page.wait_for_function(ALL_LOADED, arg=2, timeout=20_000)
    page.wait_for_timeout(300)
    after = canvas_pixels(page).astype(int)
    page.screenshot(path=str(ARTIFACTS / "viewer-tissue-overlay.png"))
    changed = np.abs(after - before)[..., :3].sum(axis=2) > 30
    slide_area = before[..., 3] > 0
    share = changed[slide_area].mean()
    assert 0.15 < share < 0.7, share  # about a third of the CMU region is tissue
    greener = (after[..., 1] - after[..., 0])[changed].mean() - (before[..., 1] - before[..., 0])[
        changed
    ].mean()
    assert greener > 30  # the tissue mask is drawn in green over the tissue

    page.get_by_label("tissue mask").uncheck()
    page.wait_for_function(ALL_LOADED, arg=1, timeout=20_000)
    page.wait_for_timeout(300)
    restored = canvas_pixels(page).astype(int)
    assert (np.abs(restored - before)[..., :3].sum(axis=2) > 30).mean() < 0.01

    page.click("#qc-report-link")
    page.wait_for_url(f"{live_server.url}/slides/{slide_id}/qc")
    ready(page)
    expect(page.locator("#qc-verdict")).to_contain_text("QC passed")
    expect(page.locator(".qc-card")).to_have_count(len(CHECKS))
    page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
    sizes = page.evaluate("() => [...document.querySelectorAll('.qc-stack img')].map(i => i.naturalWidth)")
    assert len(sizes) == 2 * len(CHECKS) and len(set(sizes)) == 1  # overlays match the thumbnail
    page.screenshot(path=str(ARTIFACTS / "qc-report.png"), full_page=True)


def _card_picture(page: Page, check: str) -> np.ndarray:
    """The thumbnail with the check's overlay, as drawn on its card."""
    return np.asarray(Image.open(io.BytesIO(page.locator(f'[data-check="{check}"] .qc-stack').screenshot())))


def _orange_share(page: Page) -> float:
    """Share of the colour card's picture drawn in the check's orange over the tissue."""
    picture = _card_picture(page, "colour")
    red, blue = picture[..., 0].astype(int), picture[..., 2].astype(int)
    return float(((red > 180) & (blue < 110)).mean())


def test_an_administrator_makes_a_slide_the_colour_reference(
    browser: Browser, live_server: LiveServer, accounts: Accounts, samples: dict[str, Path], tmp_path: Path
) -> None:
    """E2: a slide stained unlike the built-in H&E picture is flagged; made the lab's
    reference, it is measured against itself and passes, and the overlay goes."""
    yellowish = cast_copy(samples["svs"], tmp_path / "yellowish.tiff", (1.05, 1.0, 0.8))
    slide_id = ingest(live_server.url, "expert-a", yellowish, accounts.exam_a_id)
    page = logged_in_page(browser, live_server, "admin")
    page.goto(f"{live_server.url}/slides/{slide_id}/qc")
    ready(page)
    expect(page.locator("#qc-verdict")).to_contain_text("non-standard")
    expect(page.locator('[data-check="colour"]')).to_have_class(re.compile("flagged"))
    expect(page.locator("#colour-reference")).to_contain_text("built-in H&E picture")
    page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
    before = _orange_share(page)
    page.screenshot(path=str(ARTIFACTS / "qc-colour-built-in-reference.png"), full_page=True)

    page.click("#make-reference")
    expect(page.locator("#colour-reference")).to_contain_text("This slide is the reference.", timeout=60_000)
    ready(page)
    expect(page.locator("#qc-verdict")).to_contain_text("QC passed")
    expect(page.locator('[data-check="colour"]')).not_to_have_class(re.compile("flagged"))
    expect(page.locator('[data-check="colour"]')).to_contain_text("lab's colour reference slide")
    expect(page.locator("#built-in-reference")).to_be_visible()
    page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
    after = _orange_share(page)
    page.screenshot(path=str(ARTIFACTS / "qc-colour-lab-reference.png"), full_page=True)
    assert before > 0.15 and after < 0.1 * before, (before, after)


def _chinese_qc_page(browser: Browser, live_server: LiveServer, accounts: Accounts, path: Path) -> Page:
    """The QC page of a new slide, as an administrator reading Chinese sees it."""
    slide_id = ingest(live_server.url, "expert-a", path, accounts.exam_a_id)
    page = browser.new_page(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    log_in(page, live_server, "admin")
    page.goto(f"{live_server.url}/slides/{slide_id}/qc")
    ready(page)
    return page


def test_a_fluorescence_slides_qc_in_chinese(
    browser: Browser, live_server: LiveServer, accounts: Accounts, samples: dict[str, Path], tmp_path: Path
) -> None:
    """E2 on dark field: the glowing tissue is found and drawn over, and the five bright-field
    checks say they do not apply, in Chinese; no colour-reference button for such a slide."""
    page = _chinese_qc_page(
        browser, live_server, accounts, fluorescent_copy(samples["svs"], tmp_path / "glow.tiff")
    )
    expect(page.locator("#qc-verdict")).to_contain_text("质控通过")
    expect(page.locator(".qc-card", has_text="不适用")).to_have_count(5)
    expect(page.locator('[data-check="pen"]')).to_contain_text("明场检查项：此切片为荧光切片。")
    expect(page.locator("#make-reference")).to_have_count(0)
    page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
    drawn_over = np.abs(_card_picture(page, "tissue_coverage").astype(int) - _card_picture(page, "pen"))
    assert 0.2 < (drawn_over[..., :3].sum(axis=2) > 40).mean() < 0.6  # the glowing third of the slide
    expect(page.locator("#colour-reference")).not_to_contain_text("随后将重新检查所有已质控的切片")
    page.screenshot(path=str(ARTIFACTS / "qc-fluorescence-zh.png"), full_page=True)
    assert blocking(audit(page)) == []


def test_an_ihc_slide_gets_its_own_colour_reference_in_chinese(
    browser: Browser, live_server: LiveServer, accounts: Accounts, samples: dict[str, Path], tmp_path: Path
) -> None:
    """E2 on immunohistochemistry: the page names the stain; brown DAB is not flagged against
    the H&E picture, the colour check waits for an IHC reference, and an administrator makes
    this slide that reference, leaving H&E's built-in one as it was."""
    page = _chinese_qc_page(
        browser, live_server, accounts, immunostained_copy(samples["svs"], tmp_path / "ihc.tiff")
    )
    expect(page.locator("#qc-verdict")).to_contain_text("质控通过")
    expect(page.locator("#qc-stain")).to_have_text("染色：免疫组化（DAB）")
    colour = page.locator('[data-check="colour"]')
    expect(colour).to_contain_text("不适用")
    expect(colour).to_contain_text("尚未为免疫组化切片选定颜色参考。")
    expect(page.locator("#colour-reference")).to_contain_text("尚无免疫组化切片被设为颜色参考")
    page.screenshot(path=str(ARTIFACTS / "qc-ihc-no-reference-zh.png"), full_page=True)
    assert blocking(audit(page)) == []

    page.click("#make-reference")
    expect(page.locator("#colour-reference")).to_contain_text("此切片即为参考。", timeout=60_000)
    ready(page)
    expect(page.locator("#colour-reference")).to_contain_text("本实验室同种染色的参考切片")
    expect(colour).not_to_contain_text("不适用")
    expect(colour).not_to_have_class(re.compile("flagged"))
    expect(page.locator("#built-in-reference")).to_have_text("停止检查免疫组化切片的颜色")
    page.screenshot(path=str(ARTIFACTS / "qc-ihc-lab-reference-zh.png"), full_page=True)
    he_reference = page.request.get(f"{live_server.url}/api/v1/qc/colour-reference").json()
    assert he_reference["source"] == "built-in"

    page.click("text=在阅片器中打开")  # the exam's lung models learned from H&E tiles
    ready(page)
    expect(page.locator("#slide-stain")).to_have_text("免疫组化（DAB）")
    expect(page.locator("#stain-warning")).to_contain_text(
        "质控判定此切片为免疫组化（DAB），但该病种的 AI 模型是在HE 染色切片上训练的"
    )
    page.screenshot(path=str(ARTIFACTS / "viewer-ihc-slide-h-and-e-models-zh.png"))
    page.goto(f"{live_server.url}/")  # the worklist marks it
    ready(page)
    expect(page.locator('#slide-list .badge[data-stain="ihc"]')).to_have_text(["免疫组化（DAB）"])
    assert blocking(audit(page)) == []

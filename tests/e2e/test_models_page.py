"""The model registry page (issue 6, item 4): models with their metrics and curves; an
administrator switches the active model, an expert cannot."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, expect

from pathodesk.db.session import Database
from pathodesk.ml.registry import SHIPPED_DIR, register
from tests.support.accounts import Accounts
from tests.support.browser import log_in, logged_in_page, ready
from tests.support.http import ingest
from tests.support.paths import ARTIFACTS
from tests.support.server import LiveServer


def test_models_page_shows_metrics_curves_and_switches_the_active_model(
    browser: Browser, live_server: LiveServer, accounts: Accounts, samples: dict[str, Path]
) -> None:
    settings = live_server.settings
    with Database(settings.resolved_database_url()).session() as session:  # a second lung version
        registered = register(session, settings, SHIPPED_DIR / "lung", "lung")
        second, arch, version = registered.id, registered.arch, registered.version

    expert = logged_in_page(browser, live_server, "expert-a")
    expert.goto(f"{live_server.url}/models")
    ready(expert)
    # 7 classifiers and the general super-resolution models: ×4 and ×8, GAN and L1
    expect(expert.locator(".model-card")).to_have_count(7 + 4)
    # grouped by role: the cascade's two stages (issue 14), super-resolution, the tile classifiers
    expect(expert.locator(".model-role > h2")).to_have_text(
        [
            "Cascade: low-resolution graders",
            "Cascade: high-resolution graders",
            "Super-resolution",
            "Tile classifiers",
        ]
    )
    generators = expert.locator(
        '.model-role[data-role="superres"] .model-card[data-disease-type="unclassified"]'
    )
    expect(generators).to_have_count(4)
    expect(generators.locator("table.superres-metrics").first).to_contain_text("bicubic → this model")
    expect(generators.locator(".weak-model")).to_have_count(0)  # each beats bicubic on its test patients
    expect(expert.locator('.model-role[data-role="tile"] .model-card')).to_have_count(3)
    coarse = expert.locator('.model-role[data-role="coarse"] .model-card[data-disease-type="lung"]')
    expect(coarse.locator("table.coarse-metrics")).to_contain_text("lesion tiles found")
    expect(coarse.locator(".weak-model")).to_have_count(0)
    # six thyroid slides cannot make a strong fine grader: flagged, with its held-out slides
    thyroid_fine = expert.locator('.model-role[data-role="fine"] .model-card[data-disease-type="thyroid"]')
    expect(thyroid_fine.locator(".weak-model")).to_have_text("weak")
    held_out = thyroid_fine.locator("table.held-out tr")
    expect(held_out).to_have_count(7)  # a header and one row per slide
    expect(held_out.nth(1)).to_contain_text("benign thyroid tissue")
    expect(expert.locator("form[data-api$='/activate']")).to_have_count(0)  # experts only look
    # the two recipes of each scale told apart (E6: the GAN against its L1-only baseline)
    expect(generators.filter(has_text="· GAN ·")).to_have_count(2)
    expect(generators.filter(has_text="· L1 ·")).to_have_count(2)
    gan = generators.filter(has_text="· GAN ·").first
    expect(gan.locator(".superres-recipe")).to_contain_text("pixel, perceptual and adversarial")
    x8 = generators.filter(has_text="superres-x8").first
    expect(x8.locator(".example-columns span")).to_have_text(
        ["real 40× tissue", "bicubic ×8", "L1 generator ×8", "GAN generator ×8"]
    )

    # in Chinese, the pictures too: drawn in Chinese, classes by display name
    chinese = browser.new_page(viewport={"width": 1280, "height": 860}, locale="zh-CN")
    log_in(chinese, live_server, "expert-a")
    chinese.goto(f"{live_server.url}/models")
    ready(chinese)
    x8 = chinese.locator('.model-card[data-role="superres"]', has_text="superres-x8").first
    expect(x8.locator(".example-columns span").last).to_have_text("GAN 生成器 ×8")
    confusion = chinese.locator(
        '.model-card[data-role="tile"][data-disease-type="lung"] img[alt^="测试图像的混淆矩阵"]'
    )
    expect(confusion).to_have_count(2)  # the shipped lung model, registered twice above
    assert "confusion.png?lang=zh_CN" in (confusion.first.get_attribute("src") or "")
    thyroid_card = chinese.locator('.model-card[data-role="tile"][data-disease-type="thyroid"] dl')
    expect(thyroid_card).to_contain_text("训练集")  # split and class names, not codes
    expect(thyroid_card).to_contain_text("正常 73 · 肿瘤 132")
    expect(thyroid_card.locator(".model-stain")).to_have_text("在HE 染色切片上训练")
    chinese.evaluate("() => { for (const image of document.images) image.loading = 'eager'; }")
    chinese.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth > 300)")
    chinese.screenshot(path=str(ARTIFACTS / "models-page-zh.png"), full_page=True)
    chinese.close()

    page = logged_in_page(browser, live_server, "admin")
    page.goto(f"{live_server.url}/models")
    ready(page)
    lung_v1 = page.locator(
        '.model-role[data-role="tile"] .model-card[data-disease-type="lung"]', has_text="v1"
    )
    expect(lung_v1).to_contain_text("active")
    expect(lung_v1.locator("table.metrics")).to_contain_text("balanced accuracy")
    thyroid = page.locator('.model-role[data-role="tile"] .model-card[data-disease-type="thyroid"]')
    expect(thyroid).to_contain_text("F1 tumour")
    expect(thyroid.locator(".weak-model")).to_have_text("weak")  # balanced accuracy 0.61: flagged
    expect(thyroid.locator(".warning")).to_contain_text("need an expert's full review")
    expect(lung_v1.locator(".weak-model")).to_have_count(0)
    # many cards: most pictures are below the fold and lazy
    page.evaluate("() => { for (const image of document.images) image.loading = 'eager'; }")
    page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth > 400)")
    page.screenshot(path=str(ARTIFACTS / "models-page.png"), full_page=True)

    card = page.locator(f'.model-card[data-model-id="{second}"]')
    card.get_by_role("button", name="Make active for Lung").click()
    expect(page.locator(f'.model-card[data-model-id="{second}"] .badge.good')).to_have_text("active")
    expect(lung_v1.locator(".badge.good")).to_have_count(0)

    # A3: a slide's disease type picks its model; the viewer says which
    slide_id = ingest(live_server.url, "expert-a", samples["svs"], accounts.exam_a_id)
    expert.goto(f"{live_server.url}/slides/{slide_id}")
    ready(expert)
    expect(expert.locator("#analysis-model")).to_have_text(f"Lung v{version} ({arch})")

"""The lesion classified from all its stains in Chromium (issue 16, items 5 and 6): on the
section-group view, "Classify the lesion" runs the job, shows its percentage, then the class
by its display name, each class's probability and each stain's weight as bars."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
from PIL import Image
from playwright.sync_api import Browser, expect

from tests.analysis.test_section_classify import GEOMETRY, registered_group
from tests.registration.test_register import he_image, known_warp, moving_image, restained
from tests.support.accounts import Accounts
from tests.support.axe import audit, blocking
from tests.support.browser import logged_in_page
from tests.support.fusion import install_fusion_model
from tests.support.http import ingest, login
from tests.support.paths import ARTIFACTS
from tests.support.server import LiveServer

__all__ = ["he_image"]


def test_the_lesion_is_classified_from_the_section_group_view(
    browser: Browser, live_server: LiveServer, accounts: Accounts, he_image: np.ndarray, tmp_path: Path
) -> None:
    truth = known_warp(he_image.shape[:2])
    Image.fromarray(he_image).save(tmp_path / "he.png")
    Image.fromarray(restained(moving_image(he_image, truth))).save(tmp_path / "her2.png")
    he = ingest(live_server.url, "expert-a", tmp_path / "he.png", accounts.exam_a_id)
    her2 = ingest(live_server.url, "expert-a", tmp_path / "her2.png", accounts.exam_a_id)
    install_fusion_model(
        live_server.settings, (he_image, restained(he_image)), "lung", ("lung_n", "lung_aca")
    )
    group_id = registered_group(live_server.settings, accounts, he, her2, truth)
    with httpx.Client(base_url=live_server.url) as client:
        login(client, "expert-a")
        client.post(
            f"/api/v1/slides/{he}/annotations",
            json={"label": "lung_aca", "geometry": GEOMETRY, "name": "lesion 1"},
        ).raise_for_status()

    page = logged_in_page(browser, live_server, "expert-a")
    page.goto(f"{live_server.url}/section-groups/{group_id}")
    panel = page.locator("#lesion-class")
    expect(panel).to_contain_text("reads H&E, HER2")
    page.click("#classify-lesion")
    result = page.locator("#classify-result .lesion-result")
    expect(result).to_have_count(1, timeout=120_000)
    label = result.get_attribute("data-label")
    assert label in ("lung_n", "lung_aca")
    shown = {"lung_n": "benign lung tissue", "lung_aca": "lung adenocarcinoma"}[label]
    expect(result.locator("h3")).to_have_text(f"lesion 1: {shown}")  # the display name, not the code
    expect(result).to_contain_text("patches in every stain")
    expect(result.locator(".bars").nth(0).locator("meter")).to_have_count(2)  # one per class
    stains = result.locator(".bars").nth(1)
    expect(stains.locator(".bar-row")).to_have_count(2)
    expect(stains).to_contain_text("H&E")
    expect(stains).to_contain_text("HER2")
    values = [
        float(v) for v in stains.locator("meter").evaluate_all("(meters) => meters.map((m) => m.value)")
    ]
    assert all(0 < v < 1 for v in values)
    page.screenshot(path=str(ARTIFACTS / "section-lesion-class.png"), full_page=True)
    assert not blocking(audit(page))

    # opened again later: the last classification is still there, and in the case report
    page.reload()
    expect(result).to_have_count(1)
    expect(result.locator("h3")).to_have_text(f"lesion 1: {shown}")
    expect(page.locator("#classify-when")).to_contain_text("Last classified")
    page.goto(f"{live_server.url}/exams/{accounts.exam_a_id}/report")
    classified = page.locator(".report-sections li")
    expect(classified).to_have_count(1)
    expect(classified).to_contain_text(f"lesion 1: {shown} (probability")
    assert not blocking(audit(page))

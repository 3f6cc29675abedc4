"""The case report in Chromium (A11, A13): reached from the exam, the signed outlines drawn
where they lie on the slide's picture, in English and Chinese, and printed to PDF without the
page's navigation."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from pathodesk.config import Settings
from tests.support.accounts import Accounts
from tests.support.axe import audit, blocking
from tests.support.browser import ready, submit_login, wait_for_report_picture
from tests.support.http import ingest, login
from tests.support.paths import ARTIFACTS
from tests.support.server import LiveServer, free_port, serve
from tests.support.shapes import rectangle

SLIDE = (2220, 2967)  # CMU-1, level-0 px
TUMOUR = (200, 300, 1000, 800)  # x, y, w, h of the signed adenocarcinoma outline
RED = (0xD6, 0x27, 0x28)  # lung adenocarcinoma's colour


@pytest.fixture
def hospital_server(settings: Settings, accounts: Accounts) -> Iterator[LiveServer]:
    port = free_port()
    process = serve(settings.data_dir, port, PATHODESK_INSTITUTION="北京协和医院 病理科")
    yield LiveServer(f"http://127.0.0.1:{port}", process, settings)
    process.terminate()
    process.wait(timeout=10)


def _signed_case(url: str, slide_id: int) -> None:
    with httpx.Client(base_url=url, timeout=60) as client:
        login(client, "expert-a")
        annotations = f"/api/v1/slides/{slide_id}/annotations"
        outline = {"label": "lung_aca", "geometry": rectangle(*TUMOUR), "source": "ai", "probability": 0.87}
        assert client.post(annotations, json=outline).status_code == 201
        benign = {"label": "lung_n", "geometry": rectangle(1400, 2000, 300, 300), "name": "pleura"}
        assert client.post(annotations, json=benign).status_code == 201
        review = {"verdict": "approved", "opinion": "浸润性腺癌，腺泡为主型。\nInvasive adenocarcinoma."}
        assert client.put(f"/api/v1/slides/{slide_id}/review", json=review).status_code == 200


def _picture_pixels(page: Page) -> tuple[np.ndarray, dict[str, float]]:
    picture = page.locator(".report-picture").first
    box = picture.bounding_box()
    assert box is not None
    return np.asarray(Image.open(io.BytesIO(picture.screenshot())).convert("RGB")).astype(int), box


def test_the_report_shows_the_signed_outlines_and_prints(
    browser: Browser, hospital_server: LiveServer, accounts: Accounts, samples: dict[str, Path]
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    slide_id = ingest(hospital_server.url, "expert-a", samples["svs"], accounts.exam_a_id)
    _signed_case(hospital_server.url, slide_id)
    page = browser.new_page(viewport={"width": 1440, "height": 900}, locale="en-US")
    page.goto(f"{hospital_server.url}/login")
    submit_login(page, "expert-a")
    page.wait_for_url(f"{hospital_server.url}/")
    page.goto(f"{hospital_server.url}/exams/{accounts.exam_a_id}")
    with page.expect_navigation():
        page.click("#exam-report")
    ready(page)
    expect(page.locator("h1")).to_have_text("Pathology report")
    expect(page.locator("#report-institution")).to_have_text("北京协和医院 病理科")
    expect(page.locator("#report-state")).to_have_text("Signed off")
    expect(page.locator(".report-opinion")).to_contain_text("Invasive adenocarcinoma.")
    expect(page.locator(".report-findings tbody tr")).to_have_count(2)
    expect(page.locator('tr[data-number="1"]')).to_contain_text("lung adenocarcinoma")
    expect(page.locator('tr[data-number="2"]')).to_contain_text("pleura")
    wait_for_report_picture(page)

    # the outline lies where it was drawn on the slide: its left edge, on the picture, is red
    pixels, box = _picture_pixels(page)
    scale = pixels.shape[1] / SLIDE[0]
    x, y, w, h = TUMOUR
    edge_x, mid_y = round(x * scale), round((y + h / 2) * scale)
    near_edge = pixels[mid_y - 2 : mid_y + 3, edge_x - 2 : edge_x + 3].reshape(-1, 3)
    assert (np.abs(near_edge - RED).sum(axis=1) < 90).any(), "the outline's edge is drawn in its class colour"
    far_away = pixels[round(2600 * scale), round(300 * scale)]  # tissue-free glass, no outline
    assert np.abs(far_away - RED).sum() > 150
    number = page.locator(".report-number").first.bounding_box()
    assert number is not None
    inside = box["x"] + x * scale <= number["x"] + number["width"] / 2 <= box["x"] + (x + w) * scale
    assert inside, "region 1's number sits on region 1"
    page.screenshot(path=str(ARTIFACTS / "case-report.png"), full_page=True)
    assert blocking(audit(page)) == []

    # printed: no navigation nor buttons; a PDF comes out
    page.emulate_media(media="print")
    expect(page.locator("header.top")).to_be_hidden()
    expect(page.locator("#print-report")).to_be_hidden()
    expect(page.locator(".report-picture svg path")).to_have_count(2)
    pdf = page.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page\b", pdf)) >= 1
    (ARTIFACTS / "case-report.pdf").write_bytes(pdf)
    page.close()

    chinese = browser.new_page(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    chinese.goto(f"{hospital_server.url}/login")
    submit_login(chinese, "expert-a")
    chinese.wait_for_url(f"{hospital_server.url}/")
    chinese.goto(f"{hospital_server.url}/exams/{accounts.exam_a_id}/report")
    ready(chinese)
    expect(chinese.locator("h1")).to_have_text("病理报告")
    expect(chinese.locator("#report-state")).to_have_text("已签发")
    expect(chinese.locator('tr[data-number="1"]')).to_contain_text("肺腺癌")
    wait_for_report_picture(chinese)
    chinese.screenshot(path=str(ARTIFACTS / "case-report-zh.png"), full_page=True)
    assert blocking(audit(chinese)) == []
    chinese.close()

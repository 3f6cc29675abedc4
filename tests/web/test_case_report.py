"""The case report (A11, A13): what was signed off, measured, and marked when it is not."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from pathodesk.annotations.geometry import point_disc, to_geojson
from pathodesk.config import Settings
from pathodesk.web import case_report
from pathodesk.web.app import create_app
from tests.support.accounts import Accounts
from tests.support.http import login
from tests.support.pages import text_of
from tests.support.shapes import rectangle
from tests.support.slides import ingest_slide

MPP = 0.499  # CMU-1's pixel size, µm


def row(page: str, number: int) -> str:
    found = re.search(rf'<tr data-number="{number}">(.*?)</tr>', page, re.S)
    assert found, f"no row {number}"
    return text_of(found.group(1))


def test_the_report_states_what_was_signed_off_with_its_sizes(
    app_client: TestClient,
    accounts: Accounts,
    settings: Settings,
    samples: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slide_id = ingest_slide(settings, samples["svs"], accounts.exam_a_id, accounts.expert_a_id)
    login(app_client, "expert-a")
    exam = app_client.get(f"/api/v1/exams/{accounts.exam_a_id}").json()
    patched = app_client.patch(
        f"/api/v1/patients/{exam['patient_id']}",
        json={"name": "王小明", "sex": "male", "birth_date": "1960-05-01"},
    )
    assert patched.status_code == 200, patched.text
    url = f"/api/v1/slides/{slide_id}/annotations"
    # 2004 × 1002 px at 0.499 µm: 1.0 × 0.5 mm, area 0.5 mm², largest dimension √1.25 = 1.118 mm
    first_draft = rectangle(0, 0, 1002, 1002)
    ai = app_client.post(
        url, json={"label": "lung_aca", "geometry": first_draft, "source": "ai", "probability": 0.91}
    ).json()
    corrected = app_client.patch(
        f"/api/v1/annotations/{ai['id']}", json={"version": 1, "geometry": rectangle(0, 0, 2004, 1002)}
    )
    assert corrected.status_code == 200, corrected.text
    expert = app_client.post(
        url, json={"label": "lung_n", "geometry": rectangle(1500, 1500, 200, 200), "name": "edge"}
    )
    assert expert.status_code == 201, expert.text
    for x in (1800, 1900):
        cell = {"label": "lung_aca", "shape": "point", "geometry": to_geojson(point_disc(x, 2500, MPP))}
        assert app_client.post(url, json=cell).status_code == 201

    report_url = f"/exams/{accounts.exam_a_id}/report"
    draft = app_client.get(report_url).text
    assert "Preliminary: not every slide is signed off" in text_of(draft)
    assert "Not signed off yet" in text_of(draft)

    review = {"verdict": "approved", "opinion": "Adenocarcinoma, acinar."}
    signed = app_client.put(f"/api/v1/slides/{slide_id}/review", json=review)
    assert signed.status_code == 200, signed.text
    page = app_client.get(report_url).text
    seen = text_of(page)
    assert "Signed off" in seen and "Preliminary" not in seen
    assert "王小明" in seen and "P-A" in seen and "E-A" in seen and "male" in seen
    assert "Verdict: approved" in seen and "Adenocarcinoma, acinar." in seen
    assert "Signed off by Expert A" in seen
    # largest first, numbered as on the picture; sizes from the outline and the pixel size
    assert row(page, 1).split() == [
        "1", "lung", "adenocarcinoma", "1.12", "0.500", "AI,", "corrected", "by", "Expert", "A", "0.91"
    ]  # fmt: skip
    assert "benign lung tissue" in row(page, 2) and "edge" in row(page, 2) and "Expert A" in row(page, 2)
    assert f"{200 * 200 * MPP * MPP / 1e6:.3g}" in row(page, 2)  # 0.00996 mm²: 3 significant digits
    assert len(re.findall(r'<path class="report-outline"', page)) == 2
    assert len(re.findall(r'<circle class="report-cell"', page)) == 2
    totals = re.search(r'<tr data-label="lung_aca">(.*?)</tr>', page, re.S)
    assert totals and text_of(totals.group(1)).split()[-3:] == ["1", "0.500", "2"]  # regions, mm², cells

    # an edit after the sign-off waits for the next round: the report keeps what was signed
    relabel = app_client.patch(f"/api/v1/annotations/{ai['id']}", json={"version": 2, "label": "lung_scc"})
    assert relabel.status_code == 200, relabel.text
    later = app_client.get(report_url).text
    assert "adenocarcinoma" in row(later, 1) and "squamous" not in text_of(later)
    assert "Outlines were changed after this sign-off" in text_of(later)
    assert "Preliminary: not every slide is signed off" in text_of(later)

    # a slide of thousands of outlines (nuclei): the largest listed, every one drawn and counted
    monkeypatch.setattr(case_report, "LISTED_REGIONS", 1)
    fewer = app_client.get(report_url).text
    assert len(re.findall(r"<tr data-number=", fewer)) == 1
    assert "Smaller regions not listed: 1." in text_of(fewer)
    assert len(re.findall(r'<path class="report-outline"', fewer)) == 2


def test_the_report_is_headed_by_the_institution(accounts: Accounts, settings: Settings) -> None:
    named = settings.model_copy(update={"institution": "北京协和医院 病理科"})
    with TestClient(create_app(named)) as client:
        login(client, "expert-a")
        page = client.get(f"/exams/{accounts.exam_a_id}/report").text
    assert '<p class="report-institution" id="report-institution">北京协和医院 病理科</p>' in page


def test_the_report_is_for_those_who_may_see_the_case(app_client: TestClient, accounts: Accounts) -> None:
    report_url = f"/exams/{accounts.exam_a_id}/report"
    anonymous = app_client.get(report_url, follow_redirects=False)
    assert anonymous.status_code in (302, 303, 307) and anonymous.headers["location"].startswith("/login")
    login(app_client, "expert-b")
    assert app_client.get(report_url).status_code == 404
    login(app_client, "admin")
    page = app_client.get(report_url, headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200 and "no-store" in page.headers["cache-control"]
    seen = text_of(page.text)
    assert "病理报告" in seen and "初步" in seen  # in Chinese; no slide yet, so preliminary


def test_slides_come_in_the_order_of_their_numbers() -> None:
    numbers = ["10", "2", "A10", "A2", "1", "B", "A1"]
    exam = SimpleNamespace(slides=[SimpleNamespace(slide_number=n, id=i) for i, n in enumerate(numbers)])
    ordered = [s.slide_number for s in case_report.slides_in_order(exam)]  # type: ignore[arg-type]
    assert ordered == ["1", "2", "10", "A1", "A2", "A10", "B"]


def test_a_thyroid_grade_names_its_bethesda_category(monkeypatch: pytest.MonkeyPatch) -> None:
    summary = {
        "mode": "cascade",
        "model": "thyroid-fine v1",
        "slide_grade": "suspicious",
        "grades": [
            {"name": "benign", "bethesda": "II"},
            {"name": "suspicious", "bethesda": "III–IV"},
            {"name": "malignant", "bethesda": "V–VI"},
        ],
    }
    monkeypatch.setattr(case_report, "read_summary", lambda settings, slide: summary)
    found = case_report._analysis(None, None)  # type: ignore[arg-type]
    assert found == {
        "model": "thyroid-fine v1",
        "model_parts": None,  # a result saved before its model's parts were kept
        "call": None,
        "grade": "suspicious",
        "bethesda": "III–IV",
    }

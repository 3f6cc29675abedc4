"""The slide worklist (issue 21, item 6): search, filters, sort and pages on the server, the
same for the API and the page; statuses kept true."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pathodesk.config import Settings
from pathodesk.db.models import ExamAssignment, Slide, SlideStatus
from tests.support.accounts import Accounts
from tests.support.http import login
from tests.web.world import World


@pytest.fixture
def world(settings: Settings, accounts: Accounts, samples: dict[str, Path], tmp_path: Path) -> World:
    return World(settings, accounts, samples["svs"], tmp_path)


def ids(client: TestClient, **params: object) -> list[int]:
    response = client.get("/api/v1/slides", params=params)
    assert response.status_code == 200, response.text
    return [s["id"] for s in response.json()]


def test_search_filters_sort_and_pages(app_client: TestClient, accounts: Accounts, world: World) -> None:
    first = world.slide(accounts.exam_a_id)
    second = world.slide(accounts.exam_a_id)
    _, other_exam = world.patient_and_exam()
    third = world.slide(other_exam)
    with world.db.session() as session:
        session.get(Slide, second).status = SlideStatus.in_review
        session.get(Slide, third).status = SlideStatus.analyzed
        session.add(ExamAssignment(exam_id=other_exam, user_id=accounts.expert_b_id))
    login(app_client, "expert-a")

    assert ids(app_client) == [third, second, first]  # newest first
    assert ids(app_client, sort="oldest") == [first, second, third]
    assert ids(app_client, q="e-a") == [second, first]  # pathology id, any case
    assert ids(app_client, q="p-a") == [second, first]  # patient code
    assert ids(app_client, status="in_review") == [second]
    assert ids(app_client, mine="review") == [third, second]  # analysed or in review
    assert ids(app_client, exam_id=other_exam) == [third]
    assert ids(app_client, disease_type="thyroid") == []
    assert ids(app_client, mine="assigned") == []  # A created these; nobody assigned them to A

    page = app_client.get("/api/v1/slides", params={"per_page": 2, "page": 2})
    assert [s["id"] for s in page.json()] == [first] and page.headers["x-total-count"] == "3"
    beyond = app_client.get("/api/v1/slides", params={"per_page": 2, "page": 9})
    assert [s["id"] for s in beyond.json()] == [first]  # the last page, not an empty one
    for bad in ({"status": "lost"}, {"sort": "random"}, {"page": 0}, {"per_page": 5000}, {"q": "a\x00"}):
        assert app_client.get("/api/v1/slides", params=bad).status_code == 422, bad

    app_client.cookies.clear()
    login(app_client, "expert-b")  # sees only the case assigned to them
    assert ids(app_client) == [third] and ids(app_client, mine="assigned") == [third]
    assert ids(app_client, q="e-a") == []  # search never reaches past what one may open


def test_the_page_filters_and_pages_like_the_api(
    app_client: TestClient, accounts: Accounts, world: World
) -> None:
    made = [world.slide(accounts.exam_a_id) for _ in range(50)]
    with world.db.session() as session:
        session.get(Slide, made[0]).status = SlideStatus.reviewed
    login(app_client, "expert-a")
    page = app_client.get("/").text
    assert "Slides (50)" in page and "page 1 of 2" in page and page.count('class="slide-card"') == 48
    last = app_client.get("/?page=2").text
    assert "page 2 of 2" in last and last.count('class="slide-card"') == 2 and 'rel="prev"' in last
    reviewed = app_client.get("/?status=reviewed").text
    assert "Slides (1)" in reviewed and f'data-slide-id="{made[0]}"' in reviewed
    assert '<option value="reviewed" selected>' in reviewed  # the filter stays shown
    none = app_client.get("/?q=nothing-like-this").text
    assert "No slide matches these filters." in none


def test_cards_show_the_label_the_scanner_photographed(
    app_client: TestClient, accounts: Accounts, world: World
) -> None:
    svs, png = world.slide(accounts.exam_a_id, svs=True), world.slide(accounts.exam_a_id)
    login(app_client, "expert-a")
    listed = {s["id"]: s["associated_images"] for s in app_client.get("/api/v1/slides").json()}
    assert listed == {svs: ["label", "macro", "thumbnail"], png: []}
    page = app_client.get("/").text
    assert f'src="/api/v1/slides/{svs}/associated/label"' in page
    assert f'src="/api/v1/slides/{png}/associated/label"' not in page  # a PNG has no label
    label = app_client.get(f"/api/v1/slides/{svs}/associated/label")
    assert label.status_code == 200 and label.headers["content-type"].startswith("image/")

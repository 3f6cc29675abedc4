"""A shared hospital workstation: what one pathologist saw must not stay in the browser's
cache for the next person at the desk (patient pages, API answers, label images)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from pathodesk.config import Settings
from tests.support.accounts import Accounts
from tests.support.http import login
from tests.support.slides import ingest_slide


def test_patient_data_is_never_stored_but_tiles_and_scripts_are_cached(
    app_client: TestClient, accounts: Accounts, settings: Settings, samples: dict[str, Path]
) -> None:
    slide_id = ingest_slide(settings, samples["svs"], accounts.exam_a_id, accounts.expert_a_id)
    login(app_client, "expert-a")
    never_stored = [
        "/",  # the worklist: patients' codes
        f"/exams/{accounts.exam_a_id}",
        f"/slides/{slide_id}",
        "/api/v1/patients",
        f"/api/v1/slides/{slide_id}",
        "/api/v1/exams/999999",  # a refusal too
        f"/api/v1/slides/{slide_id}/associated/label",  # the patient's name, written on the glass
    ]
    for path in never_stored:
        response = app_client.get(path)
        assert "no-store" in response.headers["cache-control"], path

    tile = app_client.get(f"/dzi/{slide_id}_files/12/0_0.jpeg")  # tissue: cached, for speed
    assert tile.status_code == 200 and "immutable" in tile.headers["cache-control"]
    script = app_client.get("/static/dist/login.js")
    assert script.status_code == 200 and "no-store" not in script.headers.get("cache-control", "")


def test_logging_out_clears_this_sites_cache(app_client: TestClient) -> None:
    login(app_client, "expert-a")
    response = app_client.post("/api/v1/auth/logout")
    assert response.status_code == 204
    assert response.headers["clear-site-data"] == '"cache"'  # the tiles kept for speed go too

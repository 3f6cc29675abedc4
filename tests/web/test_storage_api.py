"""Storage life cycle through the API (issue 18, items 2–5): an administrator previews and
applies the placement policy (the moves run as a background job), checks the mirror; a
case's reading station receives its high-resolution images in advance, verified — a slide
kept at low resolution arrives generated at full resolution; discharging a patient drops
their generated images."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from pathodesk.config import MediumSettings, Settings
from pathodesk.db.models import Exam, Slide, StorageTier
from pathodesk.db.session import Database
from pathodesk.slides import open_slide
from pathodesk.storage import file_sha256
from pathodesk.storage.temporary import TemporaryStore, generated_tiles_dir
from tests.support.accounts import Accounts
from tests.support.http import login
from tests.support.jobs import finished, wait_for


def _png(seed: int, side: int = 256) -> bytes:
    pixels = np.random.default_rng(seed).integers(120, 250, size=(side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def _upload(client: TestClient, exam_id: int, seed: int, **data: str) -> dict[str, object]:
    response = client.post(
        "/api/v1/slides",
        files={"file": (f"s{seed}.png", _png(seed))},
        data={"exam_id": str(exam_id), **data},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _tiers(settings: Settings) -> dict[int, StorageTier]:
    with Database(settings.resolved_database_url()).session() as session:
        return {slide.id: StorageTier(slide.storage_tier) for slide in session.query(Slide)}


def test_the_policy_is_previewed_applied_and_run_in_the_background(
    app_client: TestClient, accounts: Accounts, settings: Settings
) -> None:
    settings.move_grace_seconds = 0.0
    login(app_client, "expert-a")
    exam = app_client.patch(f"/api/v1/exams/{accounts.exam_a_id}", json={"admitted_on": "2026-01-05"})
    assert exam.status_code == 200, exam.text
    slides = [_upload(app_client, accounts.exam_a_id, seed)["id"] for seed in (1, 2)]
    assert set(_tiers(settings).values()) == {StorageTier.recent}
    discharged = app_client.patch(f"/api/v1/exams/{accounts.exam_a_id}", json={"discharged_on": "2026-01-20"})
    assert discharged.status_code == 200

    assert app_client.post("/api/v1/storage/apply-policy", json={}).status_code == 403
    login(app_client, "admin")
    preview = app_client.post("/api/v1/storage/apply-policy", json={"dry_run": True})
    assert preview.status_code == 200 and preview.json()["routes"] == {"recent->middle": 2}
    applied = app_client.post("/api/v1/storage/apply-policy", json={})
    assert applied.status_code == 202 and applied.json()["planned_moves"] == 2
    job = wait_for(finished(app_client, applied.json()["job_id"]))
    assert job["state"] == "succeeded", job
    assert job["result"]["done"] == 2
    assert {_tiers(settings)[slide_id] for slide_id in slides} == {StorageTier.middle}
    tile = app_client.get(f"/dzi/{slides[0]}_files/8/0_0.jpeg")
    assert tile.status_code == 200, "read from its new tier"
    report = app_client.get("/api/v1/storage/report").json()
    assert report["tiers"]["middle"]["slides"] == 2 and report["moves"]["done"] == 2

    bad = app_client.post("/api/v1/storage/apply-policy", json={"dry_run": "sometimes"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"


def test_a_case_is_sent_to_its_reading_station_in_advance(
    app_client: TestClient, accounts: Accounts, settings: Settings, tmp_path: Path
) -> None:
    station = tmp_path / "reading-room-3"
    settings.stations = {"room-3": MediumSettings(url=str(station), name="Reading room 3")}
    login(app_client, "expert-a")
    full = _upload(app_client, accounts.exam_a_id, 11)
    low = _upload(app_client, accounts.exam_a_id, 12, store_downsample="8")
    assert app_client.get("/api/v1/storage/stations").json() == [
        {"station": "room-3", "name": "Reading room 3", "cases": 0}
    ]
    unknown = app_client.put(f"/api/v1/exams/{accounts.exam_a_id}/station", json={"station": "room-9"})
    assert unknown.status_code == 422 and "room-3" in unknown.json()["detail"]

    chosen = app_client.put(f"/api/v1/exams/{accounts.exam_a_id}/station", json={"station": "room-3"})
    assert chosen.status_code == 200, chosen.text
    job = wait_for(finished(app_client, chosen.json()["job_id"]), timeout=300)
    assert job["state"] == "succeeded", job
    assert job["result"] == {"station": "room-3", "files": 2, "sent": 2}
    with Database(settings.resolved_database_url()).session() as session:
        exam = session.get(Exam, accounts.exam_a_id)
        assert exam is not None
        case = station / exam.pathology_id
    manifest = json.loads((case / "manifest.json").read_text())
    sent = {entry["slide_number"]: entry for entry in manifest["slides"]}
    for entry in sent.values():
        assert file_sha256(station / entry["file"]) == entry["sha256"]
    generated = open_slide(station / sent[low["slide_number"]]["file"])
    assert generated.info.dimensions == (256, 256), "the low-resolution slide arrives at full resolution"
    generated.close()
    assert not sent[full["slide_number"]]["generated"] and sent[low["slide_number"]]["generated"]
    assert app_client.get("/api/v1/storage/stations").json()[0]["cases"] == 1


def test_discharge_drops_the_patients_generated_tiles(
    app_client: TestClient, accounts: Accounts, settings: Settings
) -> None:
    login(app_client, "expert-a")
    app_client.patch(f"/api/v1/exams/{accounts.exam_a_id}", json={"admitted_on": "2026-01-05"})
    slide = _upload(app_client, accounts.exam_a_id, 21)
    with Database(settings.resolved_database_url()).session() as session:
        row = session.get(Slide, slide["id"])
        assert row is not None
        sha256 = row.sha256
    store = TemporaryStore(generated_tiles_dir(settings), 10**8)
    store.put((sha256, 254, 1, 80, 9, 0, 0, "gen"), b"tile" * 50)
    assert store.get((sha256, 254, 1, 80, 9, 0, 0, "gen")) is not None
    response = app_client.patch(f"/api/v1/exams/{accounts.exam_a_id}", json={"discharged_on": "2026-01-20"})
    assert response.status_code == 200
    assert store.get((sha256, 254, 1, 80, 9, 0, 0, "gen")) is None


def test_a_patients_images_download_as_one_zip_of_what_the_user_may_see(
    app_client: TestClient, accounts: Accounts, settings: Settings
) -> None:
    """E5 organize from the patient page: every image of the exams the caller may see, with a
    manifest; another expert's exam of the same patient is not in it."""
    import zipfile

    from pathodesk.cases import get_or_create_exam

    login(app_client, "expert-a")
    _upload(app_client, accounts.exam_a_id, 31)
    _upload(app_client, accounts.exam_a_id, 32)
    with Database(settings.resolved_database_url()).session() as session:
        exam = session.get(Exam, accounts.exam_a_id)
        assert exam is not None
        patient_id, code = exam.patient_id, exam.patient.patient_code
        hidden = get_or_create_exam(
            session, patient_code=code, pathology_id="HIDDEN-1", disease_type="lung", owner_id=None
        )
        hidden.patient_id = patient_id
        session.commit()
    page = app_client.get(f"/patients/{patient_id}")
    assert f'href="/api/v1/patients/{patient_id}/archive"' in page.text

    response = app_client.get(f"/api/v1/patients/{patient_id}/archive")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    manifest = json.loads(archive.read("manifest.json"))
    assert [exam["pathology_id"] for exam in manifest["exams"]] == [exam.pathology_id]
    files = [slide["file"] for slide in manifest["exams"][0]["slides"]]
    assert len(files) == 2 and sorted(archive.namelist()) == sorted(["manifest.json", *files])
    assert not list(settings.cache_dir.glob("archive-*")), "the server keeps no copy"

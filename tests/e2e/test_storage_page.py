"""The storage life cycle in Chromium (issue 18, items 4 and 5): after a patient's discharge
the administrator's storage page says which files are on the wrong tier, "Move files now"
moves them with a percentage shown and the page then counts them on the middle tier; "Check
the mirror now" copies and checks the mirror; "Back up now" backs the database up beside it;
an expert sends a case to a reading station from the exam page and the images are there,
whole."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Browser, expect

from pathodesk.config import Settings
from pathodesk.storage import file_sha256
from tests.support.accounts import Accounts
from tests.support.browser import logged_in_page
from tests.support.http import login
from tests.support.paths import ARTIFACTS
from tests.support.server import LiveServer, free_port, serve


@pytest.fixture
def storage_server(settings: Settings, accounts: Accounts, tmp_path: Path) -> Iterator[LiveServer]:
    port = free_port()
    process = serve(
        settings.data_dir,
        port,
        PATHODESK_MIRROR=json.dumps({"url": str(tmp_path / "mirror")}),
        PATHODESK_STATIONS=json.dumps(
            {"room-3": {"url": str(tmp_path / "room-3"), "name": "Reading room 3"}}
        ),
        PATHODESK_MOVE_GRACE_SECONDS="0",
    )
    yield LiveServer(f"http://127.0.0.1:{port}", process, settings)
    process.terminate()
    process.wait(timeout=10)


def _png(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(120, 250, size=(300, 300, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def test_files_move_the_mirror_is_checked_and_a_case_goes_to_its_station(
    browser: Browser, storage_server: LiveServer, accounts: Accounts, tmp_path: Path
) -> None:
    exam_url = f"/api/v1/exams/{accounts.exam_a_id}"
    with httpx.Client(base_url=storage_server.url, timeout=120) as client:
        login(client, "expert-a")
        assert client.patch(exam_url, json={"admitted_on": "2026-02-01"}).status_code == 200
        for seed in (1, 2):
            response = client.post(
                "/api/v1/slides",
                files={"file": (f"s{seed}.png", _png(seed))},
                data={"exam_id": str(accounts.exam_a_id)},
            )
            assert response.status_code == 201, response.text
        assert client.patch(exam_url, json={"discharged_on": "2026-02-10"}).status_code == 200
        pathology_id = client.get(exam_url).json()["pathology_id"]

    page = logged_in_page(browser, storage_server, "admin")
    page.goto(f"{storage_server.url}/admin/storage")
    expect(page.locator("#storage-plan")).to_contain_text("2 file(s)")
    expect(page.locator("#storage-plan")).to_contain_text("recent → middle: 2")
    page.click("#apply-policy")
    expect(page.locator("#storage-moves")).to_contain_text("2 done, 0 failed", timeout=60_000)
    expect(page.locator("#storage-plan")).to_contain_text("Every file is on the tier")
    expect(page.locator("tr[data-tier='middle'] td").nth(1)).to_have_text("2")
    expect(page.locator("tr[data-tier='recent'] td").nth(1)).to_have_text("0")
    expect(page.locator("#mirror-state")).to_have_text("Never checked.")
    page.click("#scrub-mirror")
    expect(page.locator("#mirror-state")).to_contain_text("2 file(s), 0 damaged cop(ies)", timeout=60_000)
    assert len(list((tmp_path / "mirror").rglob("*.png"))) == 2

    expect(page.locator("#backups-state")).to_contain_text("never been backed up")
    page.click("#back-up-now")
    expect(page.locator("#backups-state")).to_contain_text("1 backup(s) kept", timeout=60_000)
    # beside the mirror's files by default; here the mirror shares the database's disk
    (backup,) = (tmp_path / "mirror" / "database-backups").iterdir()
    assert backup.name.endswith("-manual.sqlite3.gz") and backup.stat().st_size > 0
    expect(page.locator("#backups-beside-database")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "storage-page.png"), full_page=True)
    page.close()

    page = logged_in_page(browser, storage_server, "expert-a")
    page.goto(f"{storage_server.url}/exams/{accounts.exam_a_id}")
    expect(page.locator("#station-choice")).to_have_value("")
    page.select_option("#station-choice", "room-3")
    with page.expect_navigation(timeout=60_000):  # the page reloads once the images are there
        page.click("#send-to-station")
    expect(page.locator("#station-choice")).to_have_value("room-3")  # as the server now has it
    manifest = json.loads((tmp_path / "room-3" / pathology_id / "manifest.json").read_text())
    assert len(manifest["slides"]) == 2
    for entry in manifest["slides"]:
        assert file_sha256(tmp_path / "room-3" / entry["file"]) == entry["sha256"]
    page.screenshot(path=str(ARTIFACTS / "exam-reading-station.png"), full_page=True)
    page.close()

"""Upload, ingest rules, visibility and Deep Zoom over HTTP (issue 2, items 4 and 6)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import openslide
from fastapi.testclient import TestClient
from PIL import Image

from pathodesk.config import Settings
from tests.support.accounts import Accounts
from tests.support.http import login


def upload(client: TestClient, path: Path, exam_id: int, name: str | None = None, data: bytes | None = None):  # type: ignore[no-untyped-def]
    content = data if data is not None else path.read_bytes()
    return client.post(
        "/api/v1/slides",
        files={"file": (name or path.name, content, "application/octet-stream")},
        data={"exam_id": str(exam_id)},
    )


def stored_files(settings: Settings) -> list[Path]:
    return [
        p
        for p in settings.data_dir.rglob("*")
        if p.is_file() and p.parent.name != "data" and "sqlite" not in p.name
    ]


def test_anonymous_callers_are_refused(app_client: TestClient) -> None:
    for path in (
        "/api/v1/me",
        "/api/v1/slides",
        "/dzi/1.dzi",
        "/dzi/1_files/0/0_0.jpeg",
        "/api/v1/slides/1/thumbnail",
    ):
        response = app_client.get(path)
        assert response.status_code == 401, path
        assert response.headers["content-type"] == "application/problem+json"


def test_wrong_password_and_unknown_account_look_the_same(app_client: TestClient) -> None:
    wrong = app_client.post("/api/v1/auth/login", json={"account": "expert-a", "password": "nope-nope-1"})
    unknown = app_client.post("/api/v1/auth/login", json={"account": "nobody", "password": "nope-nope-1"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]


def test_state_changes_need_the_csrf_header(
    app_client: TestClient, accounts: Accounts, samples: dict[str, Path]
) -> None:
    login(app_client, "expert-a")
    del app_client.headers["X-CSRF-Token"]
    response = upload(app_client, samples["svs"], accounts.exam_a_id)
    assert response.status_code == 403
    assert "X-CSRF-Token" in response.json()["detail"]


def test_upload_view_and_tiles(
    app_client: TestClient, accounts: Accounts, samples: dict[str, Path], settings: Settings
) -> None:
    login(app_client, "expert-a")
    response = upload(app_client, samples["svs"], accounts.exam_a_id)
    assert response.status_code == 201, response.text
    slide = response.json()
    assert (slide["width"], slide["height"], slide["vendor"]) == (2220, 2967, "aperio")
    assert slide["mpp"] == 0.499 and slide["objective_power"] == 20
    assert slide["pathology_id"] == "E-A" and slide["patient_code"] == "P-A"
    assert "label" in slide["associated_images"]
    assert (settings.slides_dir / slide["sha256"][:2] / f"{slide['sha256']}.svs").is_file()

    listed = app_client.get("/api/v1/slides").json()
    assert [s["id"] for s in listed] == [slide["id"]]

    dzi = app_client.get(f"/dzi/{slide['id']}.dzi")
    assert dzi.status_code == 200
    # tiled on Aperio's own 240-px grid, so a whole tile is the stored one, never re-encoded
    assert 'TileSize="240"' in dzi.text and 'Overlap="0"' in dzi.text
    assert re.search(r'Width="2220" Height="2967"', dzi.text)

    tile = app_client.get(f"/dzi/{slide['id']}_files/12/3_4.jpeg")
    assert tile.status_code == 200 and tile.headers["content-type"] == "image/jpeg"
    assert "immutable" in tile.headers["cache-control"]
    assert slide["sha256"][:24] in tile.headers["etag"]
    pixels = np.asarray(Image.open(io.BytesIO(tile.content)).convert("RGB"))
    scanned = openslide.OpenSlide(str(samples["svs"])).read_region((3 * 240, 4 * 240), 0, (240, 240))
    assert np.array_equal(pixels, np.asarray(scanned.convert("RGB")))
    again = app_client.get(
        f"/dzi/{slide['id']}_files/12/3_4.jpeg", headers={"If-None-Match": tile.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""

    assert app_client.get(f"/dzi/{slide['id']}_files/12/99_0.jpeg").status_code == 404
    assert app_client.get(f"/dzi/{slide['id']}_files/40/0_0.jpeg").status_code == 404

    thumb = app_client.get(f"/api/v1/slides/{slide['id']}/thumbnail")
    assert (
        thumb.status_code == 200 and max(Image.open(io.BytesIO(thumb.content)).size) == settings.thumbnail_px
    )
    label = app_client.get(f"/api/v1/slides/{slide['id']}/associated/label")
    assert label.status_code == 200 and label.headers["content-type"] == "image/jpeg"
    assert app_client.get(f"/api/v1/slides/{slide['id']}/associated/nothing").status_code == 404


def test_pyramid_is_tiled_on_its_stored_grid(
    app_client: TestClient, accounts: Accounts, samples: dict[str, Path]
) -> None:
    login(app_client, "expert-a")
    slide = upload(app_client, samples["pyramid"], accounts.exam_a_id).json()
    dzi = app_client.get(f"/dzi/{slide['id']}.dzi").text
    assert 'TileSize="256"' in dzi and 'Overlap="0"' in dzi
    tile = app_client.get(f"/dzi/{slide['id']}_files/12/2_3.jpeg")
    assert tile.status_code == 200


def test_same_bytes_twice_point_to_the_existing_slide(
    app_client: TestClient, accounts: Accounts, samples: dict[str, Path], settings: Settings
) -> None:
    login(app_client, "expert-a")
    first = upload(app_client, samples["svs"], accounts.exam_a_id)
    second = upload(app_client, samples["svs"], accounts.exam_a_id, name="renamed.svs")
    assert first.status_code == 201 and second.status_code == 200
    assert second.json()["id"] == first.json()["id"] and second.json()["duplicate"] is True
    assert len(app_client.get("/api/v1/slides").json()) == 1
    assert len(list(settings.slides_dir.rglob("*.svs"))) == 1
    assert not any(settings.incoming_dir.iterdir())


def test_bad_files_leave_no_row_and_no_file(
    app_client: TestClient, accounts: Accounts, samples: dict[str, Path], settings: Settings
) -> None:
    login(app_client, "expert-a")
    svs = samples["svs"].read_bytes()
    cases = {
        "notes.txt": b"this is a text file, not a slide\n" * 100,
        "truncated.svs": svs[: len(svs) // 3],
        "empty.svs": b"",
        "fake.png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 500,
    }
    for name, data in cases.items():
        response = upload(app_client, samples["svs"], accounts.exam_a_id, name=name, data=data)
        assert response.status_code == 422, (name, response.text)
        body = response.json()
        assert response.headers["content-type"] == "application/problem+json"
        assert body["title"] == "Unreadable slide" and name in body["detail"]
        assert str(settings.data_dir) not in body["detail"] and "incoming" not in body["detail"]
    assert app_client.get("/api/v1/slides").json() == []
    assert list(settings.slides_dir.rglob("*.*")) == []
    assert list(settings.incoming_dir.iterdir()) == []


def test_size_limit_is_enforced_while_streaming(
    settings: Settings, accounts: Accounts, samples: dict[str, Path]
) -> None:
    from pathodesk.web.app import create_app

    settings.max_upload_bytes = 100_000
    with TestClient(create_app(settings)) as client:
        login(client, "expert-a")
        response = upload(client, samples["svs"], accounts.exam_a_id)
        assert response.status_code == 413
        assert response.json()["title"] == "Upload too large"
    assert list(settings.incoming_dir.iterdir()) == []


def test_upload_form_errors_are_problems(
    app_client: TestClient, accounts: Accounts, samples: dict[str, Path]
) -> None:
    login(app_client, "expert-a")
    no_exam = app_client.post("/api/v1/slides", files={"file": ("a.svs", b"123")}, data={"exam_id": "x"})
    assert no_exam.status_code == 422
    not_multipart = app_client.post(
        "/api/v1/slides", content=b"raw", headers={"content-type": "application/octet-stream"}
    )
    assert not_multipart.status_code == 422
    foreign_exam = upload(app_client, samples["svs"], accounts.exam_b_id)
    assert foreign_exam.status_code == 404


def test_experts_cannot_see_each_others_slides(
    app_client: TestClient, accounts: Accounts, samples: dict[str, Path]
) -> None:
    login(app_client, "expert-a")
    slide_id = upload(app_client, samples["svs"], accounts.exam_a_id).json()["id"]
    warm = app_client.get(f"/dzi/{slide_id}_files/12/0_0.jpeg")  # now in every cache
    assert warm.status_code == 200
    assert app_client.get(f"/dzi/{slide_id}_files/12/0_0.jpeg").content == warm.content
    app_client.post("/api/v1/auth/logout")
    app_client.cookies.clear()
    assert app_client.get(f"/dzi/{slide_id}_files/12/0_0.jpeg").status_code == 401
    login(app_client, "expert-b")
    revalidate = {"If-None-Match": warm.headers["etag"]}
    assert app_client.get(f"/dzi/{slide_id}_files/12/0_0.jpeg", headers=revalidate).status_code == 404
    for path in (
        f"/api/v1/slides/{slide_id}",
        f"/dzi/{slide_id}.dzi",
        f"/dzi/{slide_id}_files/12/0_0.jpeg",
        f"/api/v1/slides/{slide_id}/thumbnail",
        f"/slides/{slide_id}",
    ):
        assert app_client.get(path).status_code == 404, path
    assert app_client.get("/api/v1/slides").json() == []
    # the same bytes from expert B do not reveal A's slide: B gets a slide of their own
    own = upload(app_client, samples["svs"], accounts.exam_b_id)
    assert own.status_code == 201 and own.json()["id"] != slide_id and own.json()["duplicate"] is False
    app_client.cookies.clear()
    login(app_client, "admin")
    assert app_client.get(f"/api/v1/slides/{slide_id}").status_code == 200


def test_update_and_delete_slide(
    app_client: TestClient, accounts: Accounts, samples: dict[str, Path], settings: Settings
) -> None:
    login(app_client, "expert-a")
    slide = upload(app_client, samples["svs"], accounts.exam_a_id).json()
    patched = app_client.patch(
        f"/api/v1/slides/{slide['id']}", json={"slide_number": "A-7", "description": "left lobe"}
    )
    assert patched.status_code == 200 and patched.json()["slide_number"] == "A-7"
    app_client.get(f"/dzi/{slide['id']}_files/10/0_0.jpeg")
    assert app_client.delete(f"/api/v1/slides/{slide['id']}").status_code == 204
    assert app_client.get(f"/api/v1/slides/{slide['id']}").status_code == 404
    assert app_client.get(f"/dzi/{slide['id']}_files/10/0_0.jpeg").status_code == 404
    assert list(settings.slides_dir.rglob("*.svs")) == []


def test_logout_ends_the_session_on_the_server(app_client: TestClient) -> None:
    login(app_client, "expert-a")
    assert app_client.get("/api/v1/me").json()["account"] == "expert-a"
    stolen = app_client.cookies["pathodesk_session"]
    assert app_client.post("/api/v1/auth/logout").status_code == 204
    app_client.cookies.set("pathodesk_session", stolen)
    assert app_client.get("/api/v1/me").status_code == 401


def test_pages_redirect_to_login(app_client: TestClient) -> None:
    response = app_client.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert app_client.get("/login").status_code == 200

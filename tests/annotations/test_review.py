"""Expert review (issue 4, item 4; SPEC A11, A13): statuses, frozen rounds, the admin's zip."""

from __future__ import annotations

import csv
import io
import json
import zipfile

from fastapi.testclient import TestClient

from pathodesk.annotations.formats import FileRegion, asap_xml, read_annotation_file
from tests.support.http import login
from tests.support.shapes import rectangle


def annotations_of(client: TestClient, slide_id: int, **params: int) -> dict[str, object]:
    response = client.get(f"/api/v1/slides/{slide_id}/annotations", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_slide_goes_from_uploaded_through_analyzed_and_review_to_reviewed(
    app_client: TestClient, slide_id: int
) -> None:
    login(app_client, "expert-a")
    url = f"/api/v1/slides/{slide_id}"
    assert app_client.get(f"{url}/review").json() == {
        "slide_id": slide_id,
        "status": "uploaded",
        "round": 1,
        "rounds": [],
    }
    ai = app_client.post(
        f"{url}/annotations",
        json={
            "label": "lung_aca",
            "geometry": rectangle(100, 100, 400, 300),
            "source": "ai",
            "probability": 0.91,
        },
    ).json()
    assert app_client.get(f"{url}/review").json()["status"] == "analyzed"
    corrected = app_client.patch(
        f"/api/v1/annotations/{ai['id']}", json={"version": 1, "geometry": rectangle(100, 100, 420, 300)}
    )
    assert corrected.status_code == 200
    assert app_client.get(f"{url}/review").json()["status"] == "in_review"

    signed = app_client.put(
        f"{url}/review", json={"verdict": "approved", "opinion": "Adenocarcinoma, acinar."}
    )
    assert signed.status_code == 200, signed.text
    state = signed.json()
    assert state["status"] == "reviewed" and state["round"] == 1
    assert state["rounds"][0]["verdict"] == "approved" and state["rounds"][0]["reviewer"] == "expert-a"
    assert state["rounds"][0]["reviewer_name"] == "Expert A"
    assert state["rounds"][0]["annotations"] == 1

    # a later edit opens round 2; round 1 stays as it was signed
    app_client.patch(f"/api/v1/annotations/{ai['id']}", json={"version": 2, "label": "lung_scc"})
    assert app_client.get(f"{url}/review").json()["status"] == "in_review"
    assert app_client.get(f"{url}/review").json()["round"] == 2
    frozen = annotations_of(app_client, slide_id, round=1)
    assert frozen["frozen"] is True
    assert [a["label"] for a in frozen["annotations"]] == ["lung_aca"]  # type: ignore[attr-defined]
    assert [a["label"] for a in annotations_of(app_client, slide_id)["annotations"]] == ["lung_scc"]  # type: ignore[attr-defined]
    old_xml = app_client.get(f"{url}/annotations.xml", params={"round": 1})
    assert [r.label for r in read_annotation_file(old_xml.content).regions] == ["lung_aca"]
    assert app_client.get(f"{url}/annotations", params={"round": 3}).status_code == 404


def test_needs_revision_opens_the_next_round_at_once(app_client: TestClient, slide_id: int) -> None:
    login(app_client, "expert-a")
    url = f"/api/v1/slides/{slide_id}"
    app_client.post(f"{url}/annotations", json={"label": "lung_n", "geometry": rectangle(0, 0, 50, 50)})
    state = app_client.put(
        f"{url}/review", json={"verdict": "needs_revision", "opinion": "Outline too wide."}
    ).json()
    assert state["status"] == "in_review" and state["round"] == 2
    assert [r["verdict"] for r in state["rounds"]] == ["needs_revision"]
    bad = app_client.put(f"{url}/review", json={"verdict": "maybe", "opinion": "?"})
    assert bad.status_code == 422


def test_admin_downloads_every_reviewed_slide_as_one_zip(app_client: TestClient, slide_id: int) -> None:
    login(app_client, "expert-a")
    url = f"/api/v1/slides/{slide_id}"
    regions = [
        FileRegion("lung_aca", rectangle(10, 10, 100, 100)),
        FileRegion("lung_n", rectangle(300, 10, 50, 50)),
    ]
    assert (
        app_client.post(f"{url}/annotations/import", content=asap_xml.write(regions, {})).status_code == 201
    )
    app_client.put(f"{url}/review", json={"verdict": "rejected", "opinion": "Not tumour."})
    assert app_client.get("/api/v1/exports/reviewed-annotations.zip").status_code == 403
    login(app_client, "admin")
    response = app_client.get("/api/v1/exports/reviewed-annotations.zip")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    stem = f"slide-{slide_id}/round-1"
    assert sorted(archive.namelist()) == [
        f"{stem}.csv",
        f"{stem}.geojson",
        f"{stem}.review.json",
        f"{stem}.xml",
    ]
    measured = list(csv.DictReader(io.StringIO(archive.read(f"{stem}.csv").decode("utf-8-sig"))))
    assert [(r["class"], float(r["area_px"])) for r in measured] == [
        ("lung_aca", 10000.0),
        ("lung_n", 2500.0),
    ]
    summary = json.loads(archive.read(f"{stem}.review.json"))
    assert summary["verdict"] == "rejected" and summary["annotations"] == 2
    assert "P-A" not in archive.read(f"{stem}.review.json").decode()  # no patient code in the export
    for name in (f"{stem}.xml", f"{stem}.geojson"):
        assert [r.label for r in read_annotation_file(archive.read(name)).regions] == ["lung_aca", "lung_n"]

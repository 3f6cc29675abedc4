"""Counting the nuclei of a drawn region (Ki-67): a job counts only what lies inside the
outline, places each nucleus on the slide, keeps its count beside an edited outline marked as
made on the earlier one, refuses what cannot be counted with the reason, and shows nothing to
those who may not see the slide."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pathodesk.analysis import ihc_job
from pathodesk.annotations.geometry import point_disc, to_geojson
from pathodesk.config import Settings
from tests.support.accounts import Accounts
from tests.support.http import login
from tests.support.ihc import grid, hot_spot_field, ihc_slide, pyramid_of
from tests.support.jobs import finished, wait_for
from tests.support.pages import text_of
from tests.support.shapes import rectangle
from tests.support.slides import ingest_slide

# 8 × 4 nuclei 40 px apart from (30, 30): the left half (x < 170) holds 16, of which the
# strong ones (every third) are 6; the whole grid 32, of which 11 are positive
AMOUNTS = [0.9 if i % 3 == 0 else 0.0 for i in range(32)]


def count(client: TestClient, annotation_id: int, **body: float) -> dict:
    job = client.post(f"/api/v1/annotations/{annotation_id}/ihc", json=body)
    assert job.status_code == 202, job.text
    done = wait_for(finished(client, job.json()["id"]), timeout=120)
    assert done["state"] == "succeeded", done
    result = client.get(f"/api/v1/annotations/{annotation_id}/ihc")
    assert result.status_code == 200, result.text
    return result.json()


def test_a_region_counts_its_own_nuclei_and_keeps_the_count_beside_later_edits(
    app_client: TestClient, accounts: Accounts, settings: Settings, tmp_path: Path
) -> None:
    nuclei = grid(AMOUNTS)
    slide_path = ihc_slide(tmp_path / "ki67.tif", (200, 360), nuclei)
    slide_id = ingest_slide(settings, slide_path, accounts.exam_a_id, accounts.expert_a_id)
    login(app_client, "expert-a")
    url = f"/api/v1/slides/{slide_id}/annotations"
    region = app_client.post(url, json={"label": "lung_aca", "geometry": rectangle(0, 0, 170, 200)}).json()
    assert app_client.get(f"/api/v1/annotations/{region['id']}/ihc").status_code == 204  # not counted yet

    result = count(app_client, region["id"])
    left = [n for n in nuclei if n[0] < 170]
    assert (result["nuclei"], result["positive"]) == (len(left), sum(a > 0 for _, _, a in left))
    assert result["index_percent"] == round(100 * 6 / 16, 2)
    assert result["current"] is True and result["read_mpp"] == 0.5
    placed = {(round(x), round(y)) for x, y, _ in result["cells"]}
    for x, y, _ in left:  # each nucleus where it was painted
        assert any(abs(x - px) <= 2 and abs(y - py) <= 2 for px, py in placed), (x, y)
    strong = [dab for x, y, dab in result["cells"] if dab >= 0.2]
    assert len(strong) == 6 and min(strong) > 0.6

    stricter = count(app_client, region["id"], threshold=0.95)
    assert (stricter["positive"], stricter["positive_threshold"]) == (0, 0.95)

    grown = app_client.patch(
        f"/api/v1/annotations/{region['id']}", json={"version": 1, "geometry": rectangle(0, 0, 360, 200)}
    )
    assert grown.status_code == 200, grown.text
    kept = app_client.get(f"/api/v1/annotations/{region['id']}/ihc").json()
    assert kept["current"] is False and kept["nuclei"] == 16  # the count of the earlier outline
    recounted = count(app_client, region["id"])
    assert (recounted["nuclei"], recounted["positive"], recounted["current"]) == (32, 11, True)

    # the case report states the count beside the outline it was made on
    report = text_of(app_client.get(f"/exams/{accounts.exam_a_id}/report").text)
    assert "Ki-67 index 34.4 %: 11 of 32 nuclei positive; H-score 103" in report
    assert "16 nuclei" not in report  # the count of the earlier outline is not this outline's

    login(app_client, "admin")
    trail = app_client.get(
        "/api/v1/audit",
        params={"action": "count-nuclei", "record_type": "annotation", "record_id": region["id"]},
    ).json()
    assert [entry["actor_account"] for entry in trail] == ["expert-a"] * 3


def test_what_cannot_be_counted_is_refused_with_the_reason_and_others_see_nothing(
    app_client: TestClient,
    accounts: Accounts,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slide_path = ihc_slide(tmp_path / "ki67.tif", (200, 360), grid(AMOUNTS))
    slide_id = ingest_slide(settings, slide_path, accounts.exam_a_id, accounts.expert_a_id)
    login(app_client, "expert-a")
    url = f"/api/v1/slides/{slide_id}/annotations"
    cell = app_client.post(
        url, json={"label": "lung_aca", "shape": "point", "geometry": to_geojson(point_disc(50, 50, 0.5))}
    ).json()
    refused = app_client.post(f"/api/v1/annotations/{cell['id']}/ihc")
    assert refused.status_code == 422 and "not at a point" in refused.json()["detail"]
    region = app_client.post(url, json={"label": "lung_aca", "geometry": rectangle(0, 0, 100, 100)}).json()
    for threshold in (0, 3, -1):
        bad = app_client.post(f"/api/v1/annotations/{region['id']}/ihc", json={"threshold": threshold})
        assert bad.status_code == 422, bad.text

    monkeypatch.setattr(ihc_job, "MAX_REGION_MM2", 0.002)  # the region covers 0.0025 mm²
    too_large = app_client.post(f"/api/v1/annotations/{region['id']}/ihc")
    assert too_large.status_code == 422 and "hot spots of at most" in too_large.json()["detail"]
    monkeypatch.undo()

    coarse_path = ihc_slide(tmp_path / "coarse.tif", (100, 100), grid([0.9]), mpp=2.0)
    coarse_id = ingest_slide(settings, coarse_path, accounts.exam_a_id, accounts.expert_a_id)
    coarse = app_client.post(
        f"/api/v1/slides/{coarse_id}/annotations",
        json={"label": "lung_aca", "geometry": rectangle(0, 0, 90, 90)},
    ).json()
    too_coarse = app_client.post(f"/api/v1/annotations/{coarse['id']}/ihc")
    assert too_coarse.status_code == 422 and "10× or finer" in too_coarse.json()["detail"]

    login(app_client, "expert-b")  # expert B may not see exam A
    assert app_client.post(f"/api/v1/annotations/{region['id']}/ihc").status_code == 404
    assert app_client.get(f"/api/v1/annotations/{region['id']}/ihc").status_code == 404
    app_client.cookies.clear()
    assert app_client.get(f"/api/v1/annotations/{region['id']}/ihc").status_code == 401


def test_the_ai_outlines_the_hot_spot_and_counts_it_but_not_on_h_and_e(
    app_client: TestClient, accounts: Accounts, settings: Settings, samples: dict[str, Path], tmp_path: Path
) -> None:
    """A Ki-67 field of 900 × 700 µm, 5 % of its nuclei brown but half of them in a 110 µm
    cluster: the 500 µm hot spot holds the cluster and is counted higher than the field."""
    cluster = (1250, 700, 220)  # x, y, radius in px at 0.5 µm/px
    field = hot_spot_field((1400, 1800), 16, cluster, mpp=0.5)
    slide_id = ingest_slide(
        settings,
        pyramid_of(tmp_path / "ki67-field.tif", field, 0.5),
        accounts.exam_a_id,
        accounts.expert_a_id,
    )
    login(app_client, "expert-a")
    found = app_client.post(f"/api/v1/slides/{slide_id}/ki67-hot-spot", headers={"Accept-Language": "zh-CN"})
    assert found.status_code == 202, found.text
    spot, job = found.json()["annotation"], found.json()["job"]
    assert (spot["source"], spot["shape"], spot["name"]) == ("ai", "ellipse", "Ki-67 热点")
    x0, y0, x1, y1 = spot["bbox"]
    assert 900 < x1 - x0 < 1100 and 900 < y1 - y0 < 1100  # a disc of 500 µm (1000 px)
    cx, cy, radius = cluster
    assert x0 <= cx - radius and cx + radius <= x1 and y0 <= cy - radius and cy + radius <= y1
    done = wait_for(finished(app_client, job["id"]), timeout=120)
    assert done["state"] == "succeeded", done
    counted = app_client.get(f"/api/v1/annotations/{spot['id']}/ihc").json()
    assert counted["nuclei"] > 1000 and counted["index_percent"] > 10  # the field as a whole: ~5–8 %

    he_id = ingest_slide(settings, samples["svs"], accounts.exam_a_id, accounts.expert_a_id)
    refused = app_client.post(f"/api/v1/slides/{he_id}/ki67-hot-spot")
    assert refused.status_code == 422 and "not on H&E" in refused.json()["detail"]
    login(app_client, "expert-b")
    assert app_client.post(f"/api/v1/slides/{slide_id}/ki67-hot-spot").status_code == 404

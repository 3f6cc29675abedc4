"""Section groups (SPEC D1; issue 15, items 1 and 5) through the API: two serial 'sections'
(the CMU H&E and a warped, restained copy of it) grouped, registered by a job, and an
outline drawn on the reference carried onto the other section where the tissue is — then
following its origin's edits until an expert corrects the copy."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from httpx import Response
from PIL import Image
from sqlalchemy import select

from pathodesk.analysis import section_job
from pathodesk.config import Settings
from pathodesk.db.models import SlideTransform
from pathodesk.db.session import Database
from pathodesk.registration import Transform
from pathodesk.web.app import create_app
from tests.registration.test_region import full_resolution, lesion_bend
from tests.registration.test_register import he_image, known_warp, moving_image, restained
from tests.support.accounts import Accounts
from tests.support.http import login
from tests.support.jobs import finished, wait_for
from tests.support.slides import ingest_slide

__all__ = ["full_resolution", "he_image"]

LESION = [[150.0, 250.0], [330.0, 230.0], [360.0, 420.0], [170.0, 440.0], [150.0, 250.0]]


@pytest.fixture
def sections(
    settings: Settings, accounts: Accounts, he_image: np.ndarray, tmp_path: Path
) -> tuple[int, int, Transform]:
    """The reference (H&E) and the other section (IHC-like) as slides of exam A, and the
    true transform between them (reference px → other px)."""
    truth = known_warp(he_image.shape[:2])
    Image.fromarray(he_image).save(tmp_path / "he.png")
    Image.fromarray(restained(moving_image(he_image, truth))).save(tmp_path / "ihc.png")
    he = ingest_slide(settings, tmp_path / "he.png", accounts.exam_a_id, accounts.expert_a_id)
    ihc = ingest_slide(settings, tmp_path / "ihc.png", accounts.exam_a_id, accounts.expert_a_id)
    return he, ihc, truth


def outline(client: TestClient, slide_id: int) -> list[dict[str, Any]]:
    annotations: list[dict[str, Any]] = client.get(f"/api/v1/slides/{slide_id}/annotations").json()[
        "annotations"
    ]
    return annotations


def tissue_colour(response: Response) -> np.ndarray:
    """Mean RGB of the tissue (not glass) in a JPEG response."""
    assert response.status_code == 200, response.text
    pixels = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB")).reshape(-1, 3).astype(float)
    return pixels[pixels.mean(axis=1) < 200].mean(axis=0)


def ring(feature: dict[str, Any]) -> np.ndarray:
    return np.asarray(feature["geometry"]["coordinates"][0], dtype=np.float64)


def test_an_outline_on_the_reference_appears_on_the_other_stain_and_follows_it(
    settings: Settings, accounts: Accounts, sections: tuple[int, int, Transform]
) -> None:
    he, ihc, truth = sections
    with TestClient(create_app(settings)) as client:
        login(client, "expert-a")
        drawn = client.post(
            f"/api/v1/slides/{he}/annotations",
            json={
                "label": "lung_aca",
                "geometry": {"type": "Polygon", "coordinates": [LESION]},
                "name": "lesion",
            },
        ).json()
        group = client.post(
            f"/api/v1/exams/{accounts.exam_a_id}/section-groups",
            json={
                "name": "block A1",
                "reference_slide_id": he,
                "slides": [{"slide_id": he, "stain": "H&E"}, {"slide_id": ihc, "stain": "HER2"}],
            },
        )
        assert group.status_code == 201, group.text
        group_id = group.json()["id"]
        job = client.post(f"/api/v1/section-groups/{group_id}/register").json()
        done = wait_for(finished(client, job["id"]), timeout=120)
        assert done["state"] == "succeeded", done
        assert done["result"]["slides"][str(ihc)]["annotations_carried"] == 1

        stored = client.get(f"/api/v1/section-groups/{group_id}").json()
        other = next(member for member in stored["slides"] if member["slide_id"] == ihc)
        assert (
            other["stain"] == "HER2"
            and other["transform"]["version"] == 1
            and other["transform"]["error_px"] < 3
        )

        # the other stain's tiles in the reference's colours (the viewer's normalization switch);
        # Deep Zoom level 8 holds the whole (quarter-size CMU) slide in one tile
        reference_colour = tissue_colour(client.get(f"/dzi/{he}_files/8/0_0.jpeg"))
        as_scanned = tissue_colour(client.get(f"/dzi/{ihc}_files/8/0_0.jpeg"))
        normalized = tissue_colour(
            client.get(f"/api/v1/section-groups/{group_id}/slides/{ihc}/normalized_files/8/0_0.jpeg")
        )
        assert (
            np.linalg.norm(normalized - reference_colour) < np.linalg.norm(as_scanned - reference_colour) / 2
        )

        (copy,) = outline(client, ihc)
        assert (
            copy["source"] == "registered"
            and copy["label"] == "lung_aca"
            and copy["origin_id"] == drawn["id"]
        )
        expected = truth.fixed_to_moving(np.asarray(LESION))
        assert np.linalg.norm(ring(copy) - expected, axis=1).max() < 3.0  # where the tissue is

        # the origin moves: the uncorrected copy follows
        moved = [[x + 40, y] for x, y in LESION]
        client.patch(
            f"/api/v1/annotations/{drawn['id']}",
            json={
                "version": drawn["version"],
                "geometry": {"type": "Polygon", "coordinates": [moved]},
            },
        ).raise_for_status()
        (copy,) = outline(client, ihc)
        assert np.linalg.norm(ring(copy) - truth.fixed_to_moving(np.asarray(moved)), axis=1).max() < 3.0

        # an expert corrects the copy: it is theirs now and the origin no longer moves it
        corrected = [[x, y + 5] for x, y in ring(copy).tolist()]
        client.patch(
            f"/api/v1/annotations/{copy['id']}",
            json={
                "version": copy["version"],
                "geometry": {"type": "Polygon", "coordinates": [corrected]},
            },
        ).raise_for_status()
        origin = client.get(f"/api/v1/annotations/{drawn['id']}").json()
        client.patch(
            f"/api/v1/annotations/{drawn['id']}",
            json={"version": origin["version"], "label": "lung_scc"},
        ).raise_for_status()
        (kept,) = outline(client, ihc)
        assert kept["id"] == copy["id"] and kept["label"] == "lung_aca"

        # a new outline on the reference is carried at once; deleting it takes its copy away
        second = client.post(
            f"/api/v1/slides/{he}/annotations",
            json={
                "label": "lung_n",
                "geometry": {"type": "Polygon", "coordinates": [[[p[0] + 150, p[1]] for p in LESION]]},
            },
        ).json()
        assert sorted(a["label"] for a in outline(client, ihc)) == ["lung_aca", "lung_n"]
        client.delete(
            f"/api/v1/annotations/{second['id']}", params={"version": second["version"]}
        ).raise_for_status()
        assert [a["id"] for a in outline(client, ihc)] == [copy["id"]]


def test_the_lesion_is_registered_again_at_a_finer_pixel_size(
    settings: Settings,
    accounts: Accounts,
    full_resolution: np.ndarray,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Sections registered on thumbnails of 768 px (as a real slide's 2,048 px thumbnail is
    far coarser than its scan), with a fine bend inside the lesion only: the lesion drawn on
    the reference is read again at full resolution, and its outline lands on the bent tissue."""
    monkeypatch.setattr(section_job, "THUMBNAIL_SIDE", 768)
    truth = lesion_bend(full_resolution.shape[:2])
    Image.fromarray(full_resolution).save(tmp_path / "he.png")
    Image.fromarray(restained(moving_image(full_resolution, truth))).save(tmp_path / "ihc.png")
    he = ingest_slide(settings, tmp_path / "he.png", accounts.exam_a_id, accounts.expert_a_id)
    ihc = ingest_slide(settings, tmp_path / "ihc.png", accounts.exam_a_id, accounts.expert_a_id)
    angles = np.linspace(0, 2 * np.pi, 25)
    circle = np.column_stack([600 + 150 * np.cos(angles), 600 + 150 * np.sin(angles)])
    with TestClient(create_app(settings)) as client:
        login(client, "expert-a")
        client.post(
            f"/api/v1/slides/{he}/annotations",
            json={"label": "lung_aca", "geometry": {"type": "Polygon", "coordinates": [circle.tolist()]}},
        ).raise_for_status()
        group_id = client.post(
            f"/api/v1/exams/{accounts.exam_a_id}/section-groups",
            json={
                "name": "block A2",
                "reference_slide_id": he,
                "slides": [{"slide_id": he, "stain": "H&E"}, {"slide_id": ihc, "stain": "HER2"}],
            },
        ).json()["id"]
        job = client.post(f"/api/v1/section-groups/{group_id}/register").json()
        done = wait_for(finished(client, job["id"]), timeout=180)
        assert done["state"] == "succeeded", done
        (copy,) = outline(client, ihc)
    db = Database(settings.resolved_database_url())
    try:
        with db.session() as session:
            stored = session.scalars(select(SlideTransform).where(SlideTransform.slide_id == ihc)).one()
            transform = Transform.from_bytes(stored.data)
            lesion = stored.summary["lesion"]
    finally:
        db.dispose()
    assert lesion is not None and lesion["error_px"] < 1.0
    expected = truth.fixed_to_moving(circle)
    whole_section_only = Transform(transform.affine, transform.field, transform.field_scale)
    assert np.linalg.norm(whole_section_only.fixed_to_moving(circle) - expected, axis=1).mean() > 1.2
    assert np.linalg.norm(ring(copy) - expected, axis=1).mean() < 0.7


def test_bad_groups_are_refused_with_reasons(
    settings: Settings, accounts: Accounts, sections: tuple[int, int, Transform]
) -> None:
    he, ihc, _ = sections
    members = [{"slide_id": he, "stain": "H&E"}, {"slide_id": ihc, "stain": "Ki67"}]
    with TestClient(create_app(settings)) as client:
        login(client, "expert-a")
        url = f"/api/v1/exams/{accounts.exam_a_id}/section-groups"
        outside = client.post(url, json={"name": "g", "reference_slide_id": 999, "slides": members})
        assert outside.status_code == 422
        other_exam = client.post(
            f"/api/v1/exams/{accounts.exam_b_id}/section-groups",
            json={"name": "g", "reference_slide_id": he, "slides": members},
        )
        assert other_exam.status_code == 404  # expert A does not see exam B
        assert (
            client.post(url, json={"name": "g", "reference_slide_id": he, "slides": members}).status_code
            == 201
        )
        again = client.post(url, json={"name": "h", "reference_slide_id": he, "slides": members})
        assert again.status_code == 409 and "already in section group" in again.json()["detail"]
        login(client, "expert-b")
        assert client.get(url).status_code == 404

"""Annotations through the HTTP API (issue 4, items 1 and 6; SPEC A7, A10)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from shapely.geometry import shape
from sqlalchemy import update

from pathodesk.config import Settings
from pathodesk.db.models import Annotation
from pathodesk.db.session import Database
from pathodesk.web.app import create_app
from tests.support.http import login
from tests.support.shapes import ellipse, polygon, rectangle

CMU_WIDTH, CMU_HEIGHT = 2220, 2967


def create(client: TestClient, slide_id: int, geometry: dict[str, Any], **fields: Any) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/slides/{slide_id}/annotations", json={"label": "lung_aca", "geometry": geometry, **fields}
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_every_shape_is_stored_with_measures_in_microns(app_client: TestClient, slide_id: int) -> None:
    login(app_client, "expert-a")
    made = {
        "rectangle": create(app_client, slide_id, rectangle(100, 200, 300, 100), shape="rectangle"),
        "polygon": create(
            app_client, slide_id, polygon([(500, 500), (700, 520), (600, 700)]), shape="polygon"
        ),
        "ellipse": create(app_client, slide_id, ellipse(1000, 1000, 100, 50), shape="ellipse"),
        "freehand": create(
            app_client,
            slide_id,
            polygon([(0, 0), (50, 50), (50, 0), (0, 50)]),
            shape="freehand",
            label="lung_n",
        ),
    }
    slide = app_client.get(f"/api/v1/slides/{slide_id}").json()
    rect = made["rectangle"]
    assert rect["area_px"] == pytest.approx(30_000)
    assert rect["perimeter_px"] == pytest.approx(800)
    assert rect["area_um2"] == pytest.approx(30_000 * slide["mpp"] ** 2)
    assert rect["bbox"] == [100, 200, 400, 300]
    assert rect["source"] == "expert" and rect["author"] == "expert-a" and rect["version"] == 1
    assert rect["color"] == "#d62728"  # lung_aca in the lung label set
    assert made["ellipse"]["area_px"] == pytest.approx(3.14159 * 100 * 50, rel=0.01)
    # a self-crossing freehand stroke (a bow tie) is repaired into its two triangles, not refused
    assert made["freehand"]["geometry"]["type"] == "MultiPolygon"
    assert made["freehand"]["area_px"] == pytest.approx(1250)
    listed = app_client.get(f"/api/v1/slides/{slide_id}/annotations").json()
    assert {a["id"] for a in listed["annotations"]} == {a["id"] for a in made.values()}
    assert listed["status"] == "in_review"  # an expert drew on it


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"label": "lung_aca", "geometry": polygon([(0, 0), (10, 10), (10, 0), (0, 10)])},
            "not a valid polygon",
        ),
        ({"label": "tumour", "geometry": rectangle(0, 0, 10, 10)}, "not in this disease type"),
        ({"label": "lung_aca", "geometry": rectangle(5000, 5000, 10, 10)}, "no area on the slide"),
        (
            {"label": "lung_aca", "geometry": {"type": "Point", "coordinates": [1, 2]}},
            "Polygon or MultiPolygon",
        ),
        (
            {"label": "lung_aca", "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1]]]}},
            "well-formed",
        ),
        ({"label": "lung_aca", "geometry": rectangle(0, 0, 10, 10), "probability": 2}, "less than or equal"),
    ],
)
def test_bad_annotations_are_refused_clearly(
    app_client: TestClient, slide_id: int, body: dict[str, Any], message: str
) -> None:
    login(app_client, "expert-a")
    response = app_client.post(f"/api/v1/slides/{slide_id}/annotations", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert message in response.text
    assert app_client.get(f"/api/v1/slides/{slide_id}/annotations").json()["annotations"] == []


def test_drawing_past_the_edge_is_clipped_to_the_slide(app_client: TestClient, slide_id: int) -> None:
    login(app_client, "expert-a")
    made = create(app_client, slide_id, rectangle(CMU_WIDTH - 50, -30, 100, 80))
    assert made["bbox"] == [CMU_WIDTH - 50, 0, CMU_WIDTH, 50]


def test_stale_version_is_a_conflict_and_every_save_is_a_restorable_revision(
    app_client: TestClient, slide_id: int
) -> None:
    login(app_client, "expert-a")
    made = create(app_client, slide_id, rectangle(100, 100, 50, 50))
    url = f"/api/v1/annotations/{made['id']}"
    moved = app_client.patch(url, json={"version": 1, "geometry": rectangle(200, 100, 50, 50)})
    assert moved.status_code == 200 and moved.json()["version"] == 2
    relabel = app_client.patch(url, json={"version": 2, "label": "lung_scc"})
    assert relabel.json()["label"] == "lung_scc" and relabel.json()["bbox"][0] == 200
    stale = app_client.patch(url, json={"version": 2, "label": "lung_n"})
    assert stale.status_code == 409 and "version 3" in stale.json()["detail"]
    assert app_client.delete(url, params={"version": 2}).status_code == 409
    assert app_client.delete(url, params={"version": 3}).status_code == 204
    assert app_client.get(url).status_code == 404
    history = app_client.get(f"{url}/revisions").json()
    assert [r["action"] for r in history] == ["create", "update", "update", "delete"]
    restored = app_client.post(f"{url}/restore", json={"version": 1})
    assert restored.status_code == 200, restored.text
    assert restored.json()["bbox"] == [100, 100, 150, 150] and restored.json()["label"] == "lung_aca"
    assert app_client.get(url).json()["version"] == 5


def test_two_editors_saving_the_same_annotation_get_exactly_one_conflict(
    settings: Settings, slide_id: int
) -> None:
    app = create_app(settings)
    with TestClient(app) as first, TestClient(app) as second:
        login(first, "expert-a")
        login(second, "admin")
        made = create(first, slide_id, rectangle(100, 100, 50, 50))
        barrier = threading.Barrier(2)
        statuses: list[int] = []

        def save(client: TestClient, x: int) -> None:
            barrier.wait()
            body = {"version": made["version"], "geometry": rectangle(x, 100, 50, 50)}
            statuses.append(client.patch(f"/api/v1/annotations/{made['id']}", json=body).status_code)

        threads = [threading.Thread(target=save, args=(c, x)) for c, x in ((first, 300), (second, 600))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(statuses) == [200, 409]
        final = first.get(f"/api/v1/annotations/{made['id']}").json()
        assert final["version"] == 2 and final["bbox"][0] in (300, 600)


def test_viewport_fetch_uses_the_spatial_index_and_simplifies_at_low_zoom(
    app_client: TestClient, slide_id: int
) -> None:
    login(app_client, "expert-a")
    left = create(app_client, slide_id, ellipse(300, 300, 200, 200, n=256))
    right = create(app_client, slide_id, ellipse(1800, 2500, 100, 100))
    tiny = create(app_client, slide_id, rectangle(1000, 1000, 2, 2))
    plain = create(app_client, slide_id, rectangle(1500, 100, 40, 40))
    url = f"/api/v1/slides/{slide_id}/annotations"
    in_view = app_client.get(url, params={"x0": 0, "y0": 0, "x1": 600, "y1": 600}).json()
    assert [a["id"] for a in in_view["annotations"]] == [left["id"]]
    both = app_client.get(url, params={"x0": 450, "y0": 450, "x1": 1900, "y1": 2500}).json()
    assert {a["id"] for a in both["annotations"]} == {left["id"], right["id"], tiny["id"]}
    low_zoom = app_client.get(
        url, params={"x0": 0, "y0": 0, "x1": CMU_WIDTH, "y1": CMU_HEIGHT, "tolerance": 8, "min_size": 8}
    ).json()
    assert {a["id"] for a in low_zoom["annotations"]} == {left["id"], right["id"], plain["id"]}
    assert low_zoom["omitted"] == 1
    plain_low = next(a for a in low_zoom["annotations"] if a["id"] == plain["id"])
    assert plain_low["geometry"] == plain["geometry"] and plain_low["simplified"] is False  # nothing to drop
    simplified = next(a for a in low_zoom["annotations"] if a["id"] == left["id"])
    assert simplified["simplified"] is True
    assert len(simplified["geometry"]["coordinates"][0]) < 64
    full = shape(left["geometry"])
    assert shape(simplified["geometry"]).hausdorff_distance(full) <= 8  # never off by more than asked
    bad = app_client.get(url, params={"x0": 10, "y0": 0, "x1": 5, "y1": 10})
    assert bad.status_code == 422


def test_filters_by_class_and_source(app_client: TestClient, slide_id: int) -> None:
    login(app_client, "expert-a")
    create(app_client, slide_id, rectangle(0, 0, 10, 10), label="lung_n")
    ai = create(app_client, slide_id, rectangle(20, 0, 10, 10), source="ai", probability=0.9)
    url = f"/api/v1/slides/{slide_id}/annotations"
    assert [a["id"] for a in app_client.get(url, params={"source": "ai"}).json()["annotations"]] == [ai["id"]]
    assert [a["label"] for a in app_client.get(url, params={"label": "lung_n"}).json()["annotations"]] == [
        "lung_n"
    ]


def test_other_experts_cannot_see_or_touch_annotations(app_client: TestClient, slide_id: int) -> None:
    login(app_client, "expert-a")
    made = create(app_client, slide_id, rectangle(0, 0, 10, 10))
    login(app_client, "expert-b")
    assert app_client.get(f"/api/v1/slides/{slide_id}/annotations").status_code == 404
    assert app_client.get(f"/api/v1/annotations/{made['id']}").status_code == 404
    patch = app_client.patch(f"/api/v1/annotations/{made['id']}", json={"version": 1, "label": "lung_n"})
    assert patch.status_code == 404


def test_a_corrected_outline_says_who_edited_it_and_the_list_counts_all(
    app_client: TestClient, slide_id: int, settings: Settings
) -> None:
    """Issue 21, item 5: an AI outline an expert moved is not shown as the AI's alone."""
    login(app_client, "expert-a")
    ai = create(app_client, slide_id, rectangle(20, 0, 10, 10), source="ai", probability=0.9)
    assert ai["edited_by"] is None
    with Database(settings.resolved_database_url()).session() as session:
        # drawn by the analysis, as it is: no author
        session.execute(update(Annotation).where(Annotation.id == ai["id"]).values(author_id=None))
    change = {"version": ai["version"], "geometry": rectangle(25, 0, 10, 10)}
    moved = app_client.patch(f"/api/v1/annotations/{ai['id']}", json=change)
    assert moved.status_code == 200 and moved.json()["edited_by"] == "expert-a"
    listed = app_client.get(f"/api/v1/slides/{slide_id}/annotations").json()
    assert [(a["author"], a["edited_by"]) for a in listed["annotations"]] == [(None, "expert-a")]
    assert listed["annotations"][0]["edited_by_name"] == "Expert A"  # what pages show
    create(app_client, slide_id, rectangle(2000, 2000, 10, 10))
    corner = {"x0": 0, "y0": 0, "x1": 100, "y1": 100}
    in_view = app_client.get(f"/api/v1/slides/{slide_id}/annotations", params=corner).json()
    assert len(in_view["annotations"]) == 1 and in_view["total"] == 2  # "1 in view of 2"


def test_name_and_comment_are_kept_changed_and_cleared(app_client: TestClient, slide_id: int) -> None:
    login(app_client, "expert-a")
    made = create(app_client, slide_id, rectangle(0, 0, 50, 50), name="Focus 1", comment="近似腺样结构")
    assert (made["name"], made["comment"]) == ("Focus 1", "近似腺样结构")
    renamed = app_client.patch(
        f"/api/v1/annotations/{made['id']}", json={"version": made["version"], "name": "Focus A"}
    )
    assert renamed.status_code == 200 and (renamed.json()["name"], renamed.json()["comment"]) == (
        "Focus A",
        "近似腺样结构",
    )
    cleared = app_client.patch(
        f"/api/v1/annotations/{made['id']}", json={"version": renamed.json()["version"], "comment": None}
    )
    assert cleared.json()["comment"] is None and cleared.json()["name"] == "Focus A"
    control = {"label": "lung_aca", "geometry": rectangle(0, 0, 5, 5), "name": "a\x00b"}
    bad = app_client.post(f"/api/v1/slides/{slide_id}/annotations", json=control)
    assert bad.status_code == 422

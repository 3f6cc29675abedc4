"""Measurements of outlines (the CSV export, the report's sizes): area, perimeter and largest
dimension in µm, counted cells by place, text safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import math

import pytest
from fastapi.testclient import TestClient
from shapely.geometry import Point, Polygon

from pathodesk.annotations.geometry import longest_dimension, point_disc, to_geojson
from tests.support.http import login
from tests.support.shapes import rectangle

MPP = 0.499  # CMU-1


@pytest.mark.parametrize(
    ("outline", "expected"),
    [
        (Polygon([(0, 0), (3, 0), (0, 4)]), 5.0),  # the hypotenuse
        (Polygon([(0, 0), (10, 0), (10, 1), (1, 1), (1, 10), (0, 10)]), math.hypot(10, 10)),  # L: tip to tip
        (Point(50, 50).buffer(20, quad_segs=64), 40.0),  # a disc: its diameter
    ],
)
def test_the_largest_dimension_is_the_farthest_pair_of_points(outline: Polygon, expected: float) -> None:
    assert longest_dimension(outline) == pytest.approx(expected, rel=1e-3)


def rows_of(client: TestClient, url: str) -> list[dict[str, str]]:
    response = client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())  # Excel reads the Chinese right
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_measurements_come_out_as_a_table_in_microns(app_client: TestClient, slide_id: int) -> None:
    login(app_client, "expert-a")
    url = f"/api/v1/slides/{slide_id}/annotations"
    tumour = {
        "label": "lung_aca",
        "geometry": rectangle(100, 200, 2004, 1002),
        "name": '=HYPERLINK("http://evil.example")',
        "comment": "肿瘤边缘清楚",
    }
    assert app_client.post(url, json=tumour).status_code == 201
    cell = {"label": "lung_aca", "shape": "point", "geometry": to_geojson(point_disc(150, 250, MPP))}
    assert app_client.post(url, json=cell).status_code == 201

    rows = rows_of(app_client, f"{url}.csv")
    assert [r["shape"] for r in rows] == ["polygon", "point"]
    outline, counted = rows
    assert float(outline["area_um2"]) == pytest.approx(2004 * 1002 * MPP**2, rel=1e-4)
    assert float(outline["perimeter_um"]) == pytest.approx(2 * (2004 + 1002) * MPP, rel=1e-4)
    assert float(outline["max_diameter_um"]) == pytest.approx(math.hypot(2004, 1002) * MPP, rel=1e-4)
    assert (float(outline["centroid_x_px"]), float(outline["centroid_y_px"])) == (1102.0, 701.0)
    assert outline["name"] == '\'=HYPERLINK("http://evil.example")'  # shown as text, never run
    assert outline["comment"] == "肿瘤边缘清楚" and outline["author"] == "expert-a"
    assert outline["uid"] and outline["class"] == "lung_aca"
    # a counted cell is a place: its marker's size is no measurement
    assert counted["area_um2"] == counted["max_diameter_um"] == ""
    assert float(counted["centroid_x_px"]) == pytest.approx(150, abs=0.1)

    # a signed round keeps its measurements after later edits
    app_client.put(f"/api/v1/slides/{slide_id}/review", json={"verdict": "approved", "opinion": "ok"})
    tumour_id = int(outline["annotation_id"])
    changed = app_client.patch(
        f"/api/v1/annotations/{tumour_id}", json={"version": 1, "geometry": rectangle(0, 0, 10, 10)}
    )
    assert changed.status_code == 200, changed.text
    signed = rows_of(app_client, f"{url}.csv?round=1")
    assert float(signed[0]["area_um2"]) == pytest.approx(2004 * 1002 * MPP**2, rel=1e-4)
    assert float(rows_of(app_client, f"{url}.csv")[0]["area_px"]) == 100.0

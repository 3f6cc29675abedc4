"""ASAP XML, QuPath GeoJSON and ImageScope XML in and out (issue 4, item 5; SPEC A7, A13)."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
from defusedxml.ElementTree import fromstring
from fastapi.testclient import TestClient
from shapely import make_valid
from shapely.geometry import Point, Polygon, shape

from pathodesk.annotations.formats import FileRegion, asap_xml, qupath_geojson, read_annotation_file
from pathodesk.errors import ValidationFailedError
from tests.support.http import login
from tests.support.shapes import ellipse, polygon, rectangle


def random_outlines(seed: int, count: int) -> list[dict[str, Any]]:
    """Star-shaped polygons (always valid) with fractional vertices, in the CMU slide."""
    rng = random.Random(seed)
    outlines = []
    for _ in range(count):
        cx, cy, n = rng.uniform(200, 2000), rng.uniform(200, 2700), rng.randint(3, 40)
        angles = sorted(rng.uniform(0, 6.283) for _ in range(n))
        radii = [rng.uniform(20, 150) for _ in range(n)]
        from math import cos, sin

        outlines.append(
            polygon([(cx + r * cos(a), cy + r * sin(a)) for a, r in zip(angles, radii, strict=True)])
        )
    return [o for o in outlines if shape(o).is_valid and shape(o).area > 1]


def vertices(geometry: dict[str, Any]) -> list[tuple[float, float]]:
    return [tuple(p) for p in geometry["coordinates"][0][:-1]]  # type: ignore[misc]


def assert_same_outline(a: dict[str, Any], b: dict[str, Any]) -> None:
    """Same vertices in the same order, each within 0.01 px (the issue's tolerance)."""
    va, vb = vertices(a), vertices(b)
    assert len(va) == len(vb)
    assert max(max(abs(p[0] - q[0]), abs(p[1] - q[1])) for p, q in zip(va, vb, strict=True)) <= 0.01


def test_asap_xml_is_written_the_way_asap_writes_it() -> None:
    regions = [
        FileRegion("lung_aca", rectangle(10.25, 20.5, 100, 50), shape="rectangle"),
        FileRegion("lung_n", ellipse(300, 300, 40, 20, n=32), shape="ellipse"),
    ]
    root = fromstring(asap_xml.write(regions, {"lung_aca": "#d62728", "lung_n": "#2ca02c"}))
    assert root.tag == "ASAP_Annotations"
    annotations = root.findall("./Annotations/Annotation")
    assert [a.get("Type") for a in annotations] == ["Rectangle", "Polygon"]  # circles become polygons
    assert [a.get("PartOfGroup") for a in annotations] == ["lung_aca", "lung_n"]
    assert annotations[0].get("Color") == "#d62728" and annotations[0].get("Name") == "Annotation 0"
    coordinates = annotations[0].findall("./Coordinates/Coordinate")
    assert [(c.get("Order"), c.get("X"), c.get("Y")) for c in coordinates] == [
        ("0", "10.25", "20.5"),
        ("1", "110.25", "20.5"),
        ("2", "110.25", "70.5"),
        ("3", "10.25", "70.5"),
    ]
    assert len(annotations[1].findall("./Coordinates/Coordinate")) == 32
    groups = root.findall("./AnnotationGroups/Group")
    assert [(g.get("Name"), g.get("PartOfGroup"), g.get("Color")) for g in groups] == [
        ("lung_aca", "None", "#d62728"),
        ("lung_n", "None", "#2ca02c"),
    ]
    assert all(g.find("Attributes") is not None for g in groups)


@pytest.mark.parametrize("module", [asap_xml, qupath_geojson])
def test_file_round_trip_keeps_geometry_to_a_hundredth_of_a_pixel(module: Any) -> None:
    outlines = random_outlines(7, 60)
    labels = ["lung_aca", "lung_n", "lung_scc"]
    regions = [FileRegion(labels[i % 3], o) for i, o in enumerate(outlines)]
    parsed = read_annotation_file(module.write(regions, {}))
    assert len(parsed.regions) == len(regions)
    for before, after in zip(regions, parsed.regions, strict=True):
        assert after.label == before.label
        assert_same_outline(before.geometry, after.geometry)


def test_geojson_is_qupath_shaped() -> None:
    import json

    document = json.loads(
        qupath_geojson.write([FileRegion("lung_scc", rectangle(0, 0, 5, 5))], {"lung_scc": "#9467bd"})
    )
    assert document["type"] == "FeatureCollection"
    properties = document["features"][0]["properties"]
    assert properties["objectType"] == "annotation"
    assert properties["classification"] == {"name": "lung_scc", "color": [0x94, 0x67, 0xBD]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<ASAP_Annotations><Annotations><Annotation", "not a readable ASAP XML"),
        (b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><Annotations>&x;</Annotations>', "ImageScope"),
        (b"{not json", "not a readable GeoJSON"),
        (b"plain text", "not an annotation file"),
        (b'{"type": "Point"}', "FeatureCollection"),
    ],
)
def test_broken_files_are_refused_clearly(data: bytes, message: str) -> None:
    with pytest.raises(ValidationFailedError, match=message):
        read_annotation_file(data)


def test_round_trip_through_the_api_in_both_formats(app_client: TestClient, slide_id: int) -> None:
    login(app_client, "expert-a")
    outlines = random_outlines(11, 25)
    for i, outline in enumerate(outlines):
        body = {"label": ["lung_aca", "lung_scc"][i % 2], "geometry": outline}
        assert app_client.post(f"/api/v1/slides/{slide_id}/annotations", json=body).status_code == 201
    before = app_client.get(f"/api/v1/slides/{slide_id}/annotations").json()["annotations"]
    exports = {
        suffix: app_client.get(f"/api/v1/slides/{slide_id}/annotations.{suffix}")
        for suffix in ("xml", "geojson")
    }
    for suffix, exported in exports.items():
        assert exported.status_code == 200
        assert "attachment" in exported.headers["content-disposition"]
        imported = app_client.post(f"/api/v1/slides/{slide_id}/annotations/import", content=exported.content)
        assert imported.status_code == 201, imported.text
        assert imported.json()["created"] == len(outlines)
        assert imported.json()["format"] == {"xml": "asap", "geojson": "geojson"}[suffix]
    after = app_client.get(f"/api/v1/slides/{slide_id}/annotations").json()["annotations"]
    copies = after[len(before) :]
    assert len(copies) == 2 * len(before)
    for original, asap_copy, geojson_copy in zip(
        before, copies[: len(before)], copies[len(before) :], strict=True
    ):
        for copy in (asap_copy, geojson_copy):
            assert copy["label"] == original["label"]
            assert_same_outline(original["geometry"], copy["geometry"])


def test_counted_cells_are_asap_dots_and_qupath_points() -> None:
    """Issue 21: a counted cell goes out as ASAP's Dot / QuPath's Point (its centre), not as
    a small polygon, and point sets and multi-points come in as one cell per point."""
    disc = {"type": "Polygon", "coordinates": [[[110, 50], [100, 60], [90, 50], [100, 40], [110, 50]]]}
    cells = [FileRegion("lung_aca", disc, shape="point"), FileRegion("lung_n", rectangle(0, 0, 5, 5))]
    root = fromstring(asap_xml.write(cells, {}))
    dot, square = root.findall("./Annotations/Annotation")
    assert dot.get("Type") == "Dot" and square.get("Type") == "Polygon"
    assert [(c.get("X"), c.get("Y")) for c in dot.iter("Coordinate")] == [("100", "50")]
    features = json.loads(qupath_geojson.write(cells, {}))["features"]
    assert features[0]["geometry"] == {"type": "Point", "coordinates": [100.0, 50.0]}
    for module in (asap_xml, qupath_geojson):
        back = read_annotation_file(module.write(cells, {})).regions
        assert [(r.shape, r.geometry["type"]) for r in back] == [("point", "Point"), ("polygon", "Polygon")]
    point_set = (
        '<ASAP_Annotations><Annotations><Annotation Type="PointSet" PartOfGroup="lung_n">'
        '<Coordinates><Coordinate Order="0" X="1" Y="2"/><Coordinate Order="1" X="3.5" Y="4"/>'
        '</Coordinates></Annotation><Annotation Type="Ruler" PartOfGroup="None"><Coordinates>'
        '<Coordinate Order="0" X="1" Y="2"/><Coordinate Order="1" X="9" Y="9"/></Coordinates>'
        "</Annotation></Annotations></ASAP_Annotations>"
    )
    parsed = asap_xml.read(point_set.encode())
    assert [r.geometry["coordinates"] for r in parsed.regions] == [[1.0, 2.0], [3.5, 4.0]]
    assert parsed.skipped == 1  # the ruler
    multi = {"type": "Feature", "geometry": {"type": "MultiPoint", "coordinates": [[5, 6], [7, 8]]}}
    assert len(qupath_geojson.read(json.dumps(multi).encode()).regions) == 2
    with pytest.raises(ValidationFailedError, match="point"):
        qupath_geojson.read(json.dumps({**multi, "geometry": {"type": "Point", "coordinates": "x"}}).encode())


def test_counted_cells_keep_their_place_and_size_through_the_api(
    app_client: TestClient, slide_id: int
) -> None:
    """Dots imported become the viewer's counted-cell discs (3 µm radius at the slide's
    0.499 µm/px) and go out again as dots at the same centres."""
    login(app_client, "expert-a")
    centres = [(400.25, 500.5), (1200.0, 2100.75)]
    dots = "".join(
        f'<Annotation Name="cell {i}" Type="Dot" PartOfGroup="lung_aca" Color="#d62728"><Coordinates>'
        f'<Coordinate Order="0" X="{x}" Y="{y}"/></Coordinates></Annotation>'
        for i, (x, y) in enumerate(centres)
    )
    body = f"<ASAP_Annotations><Annotations>{dots}</Annotations></ASAP_Annotations>"
    imported = app_client.post(f"/api/v1/slides/{slide_id}/annotations/import", content=body)
    assert imported.status_code == 201 and imported.json()["created"] == 2, imported.text
    stored = app_client.get(f"/api/v1/slides/{slide_id}/annotations").json()["annotations"]
    mpp = app_client.get(f"/api/v1/slides/{slide_id}").json()["mpp"]
    for record, (x, y) in zip(stored, centres, strict=True):
        disc = shape(record["geometry"])
        assert record["shape"] == "point" and record["label"] == "lung_aca"
        assert disc.centroid.distance(Point(x, y)) < 0.01
        assert math.sqrt(disc.area / math.pi) == pytest.approx(3 / mpp, rel=0.01)
    exported = read_annotation_file(app_client.get(f"/api/v1/slides/{slide_id}/annotations.xml").content)
    assert [r.geometry["coordinates"] for r in exported.regions] == [list(c) for c in centres]
    assert [r.name for r in exported.regions] == ["cell 0", "cell 1"]


def test_import_with_unknown_classes_is_refused_whole(app_client: TestClient, slide_id: int) -> None:
    login(app_client, "expert-a")
    regions = [FileRegion("lung_aca", rectangle(0, 0, 10, 10)), FileRegion("Tumor", rectangle(20, 0, 10, 10))]
    response = app_client.post(
        f"/api/v1/slides/{slide_id}/annotations/import", content=asap_xml.write(regions, {})
    )
    assert response.status_code == 422 and "Tumor" in response.json()["detail"]
    assert app_client.get(f"/api/v1/slides/{slide_id}/annotations").json()["annotations"] == []
    mapped = app_client.post(
        f"/api/v1/slides/{slide_id}/annotations/import",
        params={"label": "lung_scc"},
        content=asap_xml.write(regions, {}),
    )
    assert mapped.status_code == 201
    labels = [
        a["label"] for a in app_client.get(f"/api/v1/slides/{slide_id}/annotations").json()["annotations"]
    ]
    assert labels == ["lung_aca", "lung_scc"]


def test_real_monuseg_imagescope_files_import_onto_their_place(
    app_client: TestClient, slide_id: int, shared_data: Path
) -> None:
    """Every nucleus outline of the real Aperio ImageScope files, offset onto the slide."""
    login(app_client, "expert-a")
    folder = shared_data / "monuseg-nuclei-xml" / "annotations"
    path = sorted(folder.glob("*.xml"))[0]
    data = path.read_bytes()
    regions = data.count(b"<Region ")
    response = app_client.post(
        f"/api/v1/slides/{slide_id}/annotations/import",
        params={"label": "lung_n", "offset_x": 500, "offset_y": 700},
        content=data,
    )
    assert response.status_code == 201, response.text
    assert response.json()["format"] == "imagescope"
    assert response.json()["created"] + response.json()["skipped"] == regions
    assert response.json()["created"] >= regions - 2
    stored = app_client.get(f"/api/v1/slides/{slide_id}/annotations").json()["annotations"]
    first_vertex = fromstring(data).find(".//Vertex")
    assert first_vertex is not None
    x, y = float(first_vertex.get("X", "0")), float(first_vertex.get("Y", "0"))
    assert (
        shape(stored[0]["geometry"]).distance(Polygon.from_bounds(x + 500, y + 700, x + 500, y + 700)) < 1.5
    )
    mean_area = sum(a["area_um2"] for a in stored) / len(stored)
    assert 10 < mean_area < 200  # nuclei: tens of µm² at the slide's 0.5 µm/px


@pytest.mark.parametrize("module", [asap_xml, qupath_geojson])
def test_real_nucleus_outlines_survive_a_round_trip(module: Any, shared_data: Path) -> None:
    """Every MoNuSeg outline (real ImageScope XML) written out and read back, to 0.01 px."""
    for path in sorted((shared_data / "monuseg-nuclei-xml" / "annotations").glob("*.xml"))[:3]:
        original = read_annotation_file(path.read_bytes())
        regions = [FileRegion("nucleus", r.geometry) for r in original.regions]
        again = read_annotation_file(module.write(regions, {"nucleus": "#00ff00"}))
        assert len(again.regions) == len(regions) > 400
        for before, after in zip(regions, again.regions, strict=True):
            assert after.label == "nucleus"
            assert_same_outline(before.geometry, after.geometry)


def test_repaired_imports_keep_one_annotation_per_region(
    app_client: TestClient, slide_id: int, shared_data: Path
) -> None:
    """Issue 20, interop 2: repairing MoNuSeg's self-crossing outlines split off sub-pixel
    slivers (region 364 of TCGA-2Z-A9J9: parts of 0.5 and 127.5 px²) that became extra
    annotations on export. One region in, one annotation out, the same area."""
    login(app_client, "expert-a")
    data = (shared_data / "monuseg-nuclei-xml" / "annotations" / "TCGA-2Z-A9J9-01A-01-TS1.xml").read_bytes()
    regions = read_annotation_file(data).regions
    imported = app_client.post(
        f"/api/v1/slides/{slide_id}/annotations/import", params={"label": "lung_n"}, content=data
    ).json()
    exported = read_annotation_file(app_client.get(f"/api/v1/slides/{slide_id}/annotations.xml").content)
    assert imported["created"] == len(exported.regions) == len(regions) - imported["skipped"]
    area_in = sum(make_valid(shape(r.geometry)).area for r in regions)
    area_out = sum(shape(r.geometry).area for r in exported.regions)
    assert abs(area_out - area_in) / area_in < 0.001, (area_in, area_out)


def test_holes_go_out_as_asap_exclusions_and_come_back_as_holes() -> None:
    """Issue 20, interop 1: a 300,000 px² outline with a 60,000 px² hole exported as 300,000."""
    outer = [[0.0, 0.0], [600.0, 0.0], [600.0, 500.0], [0.0, 500.0], [0.0, 0.0]]
    hole = [[100.0, 100.0], [400.0, 100.0], [400.0, 300.0], [100.0, 300.0], [100.0, 100.0]]
    region = FileRegion("lung_aca", {"type": "Polygon", "coordinates": [outer, hole]})
    xml = asap_xml.write([region], {"lung_aca": "#d62728"})
    root = fromstring(xml)
    groups = [a.get("PartOfGroup") for a in root.iter("Annotation")]
    assert groups == ["lung_aca", "Exclusion"] and {g.get("Name") for g in root.iter("Group")} == {
        "lung_aca",
        "Exclusion",
    }
    (back,) = read_annotation_file(xml).regions
    assert back.label == "lung_aca" and shape(back.geometry).area == pytest.approx(240_000)
    # CAMELYON16 files name the exclusion group "_2"
    camelyon = xml.replace(b'PartOfGroup="Exclusion"', b'PartOfGroup="_2"')
    assert shape(read_annotation_file(camelyon).regions[0].geometry).area == pytest.approx(240_000)


def test_asap_splines_are_read_as_the_curve_asap_draws() -> None:
    """Issue 20, interop 3: a spline's control polygon lost 12.7 % of its area."""
    radius, centre = 100.0, 1000.0
    points = [
        (centre + radius * math.cos(2 * math.pi * i / 8), centre + radius * math.sin(2 * math.pi * i / 8))
        for i in range(8)
    ]
    coordinates = "".join(f'<Coordinate Order="{i}" X="{x}" Y="{y}"/>' for i, (x, y) in enumerate(points))
    xml = (
        '<ASAP_Annotations><Annotations><Annotation Name="a" Type="Spline" PartOfGroup="lung_n">'
        f"<Coordinates>{coordinates}</Coordinates></Annotation></Annotations></ASAP_Annotations>"
    ).encode()
    curve = shape(read_annotation_file(xml).regions[0].geometry)
    assert curve.area == pytest.approx(math.pi * radius**2, rel=0.015)  # the control octagon: -10 %
    for x, y in points:  # the curve passes through every control point
        assert curve.exterior.distance(Point(x, y)) < 1e-6


def test_classes_of_other_tools_map_onto_ours_in_any_language(
    app_client: TestClient, slide_id: int, accounts: Any
) -> None:
    """Issue 20, interop 5: a class map on import, and label names in Chinese."""
    login(app_client, "admin")
    labels = [
        {"name": "肺腺癌", "color": "#d62728"},
        {"name": "正常", "color": "#2ca02c"},
        {"name": "lung_scc", "color": "#9467bd"},
    ]
    assert app_client.patch("/api/v1/disease-types/lung", json={"labels": labels}).status_code == 200
    for bad in ("a,b", "x:y", "../up", "tab\there"):
        refused = app_client.patch(
            "/api/v1/disease-types/lung", json={"labels": [{"name": bad, "color": "#000000"}]}
        )
        assert refused.status_code == 422, bad
    login(app_client, "expert-a")
    regions = [
        FileRegion("Tumor", rectangle(10, 10, 50, 50)),
        FileRegion("Normal", rectangle(100, 10, 50, 50)),
    ]
    url = f"/api/v1/slides/{slide_id}/annotations/import"
    refused = app_client.post(url, content=asap_xml.write(regions, {}))
    assert refused.status_code == 422 and "map=" in refused.json()["detail"]
    wrong = app_client.post(url, params={"map": "Tumor:adenoma"}, content=asap_xml.write(regions, {}))
    assert wrong.status_code == 422 and "adenoma" in wrong.json()["detail"]
    mapped = app_client.post(
        url, params={"map": "Tumor:肺腺癌,Normal:正常"}, content=asap_xml.write(regions, {})
    )
    assert mapped.status_code == 201, mapped.text
    stored = app_client.get(f"/api/v1/slides/{slide_id}/annotations").json()["annotations"]
    assert sorted(a["label"] for a in stored) == ["正常", "肺腺癌"]
    exported = read_annotation_file(app_client.get(f"/api/v1/slides/{slide_id}/annotations.geojson").content)
    assert sorted(r.label or "" for r in exported.regions) == ["正常", "肺腺癌"]


def test_qupath_feature_ids_are_stable_across_exports(app_client: TestClient, slide_id: int) -> None:
    """Issue 20, interop 4: feature ids changed on every export, so QuPath saw new objects."""
    login(app_client, "expert-a")
    regions = [
        FileRegion("lung_n", rectangle(10, 10, 50, 50)),
        FileRegion("lung_aca", rectangle(100, 10, 50, 50)),
    ]
    url = f"/api/v1/slides/{slide_id}/annotations"
    assert app_client.post(f"{url}/import", content=asap_xml.write(regions, {})).status_code == 201

    def feature_ids() -> list[str]:
        return [f["id"] for f in app_client.get(f"{url}.geojson").json()["features"]]

    first = feature_ids()
    assert first == feature_ids() and len(set(first)) == 2


def test_qupath_properties_classes_and_detections_survive_import_and_export(
    app_client: TestClient, slide_id: int
) -> None:
    """Issue 20, interop 4: string and derived classes, name, lock, measurements, metadata and
    colour kept; detections are machine output, not an expert's annotation."""
    login(app_client, "expert-a")

    def qupath(geometry: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
        return {"type": "Feature", "id": "f", "geometry": geometry, "properties": properties}

    features = [
        qupath(
            rectangle(10, 10, 80, 80),
            {"objectType": "annotation", "classification": "lung_n", "name": "edge"},
        ),
        qupath(
            rectangle(200, 10, 80, 80),
            {
                "objectType": "annotation",
                "classification": {"names": ["lung_scc", "Positive"], "color": [255, 0, 0]},
                "isLocked": True,
                "measurements": {"Area µm^2": 1600.0},
                "metadata": {"scanner": "VS200"},
                "color": [10, 20, 30],
            },
        ),
        qupath(
            rectangle(400, 10, 20, 20), {"objectType": "detection", "classification": {"name": "lung_aca"}}
        ),
    ]
    body = json.dumps({"type": "FeatureCollection", "features": features})
    imported = app_client.post(f"/api/v1/slides/{slide_id}/annotations/import", content=body)
    assert imported.status_code == 201 and imported.json()["created"] == 3, imported.text
    stored = app_client.get(f"/api/v1/slides/{slide_id}/annotations").json()["annotations"]
    assert [(a["label"], a["source"]) for a in stored] == [
        ("lung_n", "expert"),
        ("lung_scc", "expert"),
        ("lung_aca", "ai"),
    ]
    out = app_client.get(f"/api/v1/slides/{slide_id}/annotations.geojson").json()["features"]
    props = [f["properties"] for f in out]
    assert [p["objectType"] for p in props] == ["annotation", "annotation", "detection"]
    assert props[0]["name"] == "edge" and props[1]["isLocked"] is True
    assert props[1]["measurements"] == {"Area µm^2": 1600.0} and props[1]["metadata"] == {"scanner": "VS200"}
    assert props[1]["color"] == [10, 20, 30] and props[1]["classification"]["name"] == "lung_scc"
    assert sum(shape(f["geometry"]).area for f in out) == pytest.approx(80 * 80 * 2 + 20 * 20)


def test_names_and_comments_travel_in_both_formats() -> None:
    """Issue 21, item 5: QuPath's name and description, ASAP's Name; control characters dropped."""
    region = FileRegion("lung_aca", rectangle(0, 0, 40, 40), name="Focus A", comment="腺样结构\nsecond line")
    back = qupath_geojson.read(qupath_geojson.write([region], {"lung_aca": "#d62728"})).regions[0]
    assert (back.name, back.comment) == ("Focus A", "腺样结构\nsecond line")
    hostile = json.dumps(
        {
            "type": "Feature",
            "geometry": rectangle(0, 0, 9, 9),
            "properties": {"name": "a\nb\x00c", "description": 7},
        }
    )
    read = qupath_geojson.read(hostile.encode()).regions[0]
    assert (read.name, read.comment) == ("abc", None)
    assert b'Name="Focus A"' in asap_xml.write([region], {"lung_aca": "#d62728"})


@pytest.mark.parametrize(
    "coordinates",
    [
        [(0, 0), (0, 0), (10, 0), (10, 10)],  # a repeated control point
        [(0, 0), (1e308, 0), (1e308, 1e308), (0, 1e308)],  # beyond what the curve can compute
    ],
)
def test_degenerate_splines_are_read_or_refused_never_crash(coordinates: list[tuple[float, float]]) -> None:
    """Found by the fuzz test: NaN from a spline reached GEOS and broke the import with a 500."""
    points = "".join(f'<Coordinate Order="{i}" X="{x}" Y="{y}"/>' for i, (x, y) in enumerate(coordinates))
    xml = (
        '<ASAP_Annotations><Annotations><Annotation Name="a" Type="Spline" PartOfGroup="_2">'
        f"<Coordinates>{points}</Coordinates></Annotation>"
        '<Annotation Name="b" Type="Spline" PartOfGroup="lung_aca">'
        f"<Coordinates>{points}</Coordinates></Annotation></Annotations></ASAP_Annotations>"
    )
    try:
        parsed = asap_xml.read(xml.encode())
    except ValidationFailedError:
        return
    for region in parsed.regions:  # an empty one (all cut away) is refused by the store's checks
        for ring in region.geometry["coordinates"][:1]:
            assert all(math.isfinite(v) for point in ring for v in point)

"""Malformed annotation files get a 422, never a 500 (issue 20, G): the nine bodies the
outside review found, then hypothesis-generated GeoJSON and XML around real structure."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.accounts import Accounts
from tests.support.http import login

SQUARE = [[[10, 10], [60, 10], [60, 60], [10, 60], [10, 10]]]


def feature(properties: Any = None, coordinates: Any = SQUARE) -> str:
    return json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": {"type": "Polygon", "coordinates": coordinates},
                    "properties": properties,
                }
            ],
        }
    )


def nested(depth: int, inner: Any) -> Any:
    for _ in range(depth):
        inner = [inner]
    return inner


MALFORMED = {
    "deep brackets": "[" * 100_000 + "]" * 100_000,
    "deep braces": '{"a":' * 50_000 + "1" + "}" * 50_000,
    "NaN vertex": feature(coordinates=[[[10, 10], [60, 10], ["NaN", 60], [10, 10]]]).replace('"NaN"', "NaN"),
    "Infinity vertex": feature(coordinates=[[[10, 10], [60, 10], [1, 60], [10, 10]]]).replace(
        "[1, 60]", "[Infinity, 60]"
    ),
    "properties as a list": feature([1, 2]),
    "pathodesk as a string": feature({"classification": {"name": "lung_n"}, "pathodesk": "x"}),
    "colour with a word": feature({"classification": {"name": "lung_n", "color": ["x", 0, 0]}}),
    "colour of Infinity": feature({"classification": {"name": "lung_n", "color": [1, 0, 0]}}).replace(
        "[1, 0, 0]", "[Infinity, 0, 0]"
    ),
    "coordinates 900 deep": feature(coordinates=nested(900, [1, 2])),
    "ImageScope superscript colour": (
        '<Annotations><Annotation Name="lung_n" LineColor="²"><Regions><Region Type="0"><Vertices>'
        '<Vertex X="10" Y="10"/><Vertex X="60" Y="10"/><Vertex X="60" Y="60"/></Vertices></Region>'
        "</Regions></Annotation></Annotations>"
    ),
}


@pytest.fixture
def importer(app_client: TestClient, accounts: Accounts, slide_id: int) -> Any:
    login(app_client, "expert-a")

    def post(body: str | bytes) -> Any:
        return app_client.post(
            f"/api/v1/slides/{slide_id}/annotations/import",
            content=body.encode() if isinstance(body, str) else body,
        )

    return post


@pytest.mark.parametrize("name", list(MALFORMED))
def test_each_malformed_body_is_a_readable_error_or_a_clean_import(importer: Any, name: str) -> None:
    response = importer(MALFORMED[name])
    assert response.status_code in (201, 422), (name, response.status_code, response.text[:300])
    if response.status_code == 422:
        assert response.headers["content-type"] == "application/problem+json" and response.json()["detail"]


def test_a_class_given_as_a_plain_string_is_imported(importer: Any) -> None:
    """QuPath accepts "classification": "lung_n" and so do we."""
    response = importer(feature({"classification": "lung_n"}))
    assert response.status_code == 201 and response.json()["created"] == 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)
known_keys = st.sampled_from(["classification", "pathodesk", "color", "name", "names", "objectType", "shape"])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    properties=st.dictionaries(known_keys, json_values, max_size=4) | json_values,
    coordinates=st.just(SQUARE) | json_values,
)
def test_fuzzed_geojson_never_breaks_the_server(importer: Any, properties: Any, coordinates: Any) -> None:
    assert importer(feature(properties, coordinates)).status_code in (201, 422)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    colour=st.text(max_size=6),
    x=st.text(max_size=6) | st.floats().map(str),
    region_type=st.text(max_size=3),
)
def test_fuzzed_imagescope_xml_never_breaks_the_server(
    importer: Any, colour: str, x: str, region_type: str
) -> None:
    def attr(value: str) -> str:
        return json.dumps(value.replace("<", "").replace("&", ""))  # a quoted XML attribute

    body = (
        f'<Annotations><Annotation Name="lung_n" LineColor={attr(colour)}><Regions>'
        f'<Region Type={attr(region_type)}><Vertices><Vertex X={attr(x)} Y="10"/>'
        '<Vertex X="60" Y="10"/><Vertex X="60" Y="60"/></Vertices></Region></Regions>'
        "</Annotation></Annotations>"
    )
    assert importer(body).status_code in (201, 422)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(["Polygon", "Spline", "Rectangle", "Dot", "PointSet"]) | st.text(max_size=8),
    group=st.sampled_from(["lung_n", "Exclusion", "_2", "None", ""]) | st.text(max_size=8),
    points=st.lists(st.tuples(st.text(max_size=6) | st.floats().map(str), st.floats().map(str)), max_size=6),
)
def test_fuzzed_asap_xml_never_breaks_the_server(
    importer: Any, kind: str, group: str, points: list[tuple[str, str]]
) -> None:
    """The ASAP reader (exclusion groups cut holes, splines become curves) never answers 500."""

    def attr(value: str) -> str:
        return json.dumps(value.replace("<", "").replace("&", ""))

    coordinates = "".join(
        f"<Coordinate Order={attr(str(i))} X={attr(x)} Y={attr(y)}/>" for i, (x, y) in enumerate(points)
    )
    square = "".join(
        f'<Coordinate Order="{i}" X="{x}" Y="{y}"/>'
        for i, (x, y) in enumerate([(10, 10), (90, 10), (90, 90)])
    )
    body = (
        "<ASAP_Annotations><Annotations>"
        '<Annotation Name="a" Type="Polygon" PartOfGroup="lung_n">'
        f"<Coordinates>{square}</Coordinates></Annotation>"
        f'<Annotation Name="b" Type={attr(kind)} PartOfGroup={attr(group)}>'
        f"<Coordinates>{coordinates}</Coordinates></Annotation></Annotations></ASAP_Annotations>"
    )
    assert importer(body).status_code in (201, 422)

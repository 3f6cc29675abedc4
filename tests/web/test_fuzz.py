"""API fuzzing with hypothesis (issue 3, item 7): every operation of the OpenAPI schema,
random and schema-shaped inputs, as an admin and as an expert; not one 5xx."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.http import login

HOSTILE = st.sampled_from(
    [
        "' OR 1=1 --",
        "../../etc/passwd",
        "%00",
        "\u202e",
        "9" * 40,
        "-1",
        "0",
        "",
        "null",
        "<img src=x>",
        "%2e%2e%2f",
        "∞",
    ]
)
SCALARS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=40),
    HOSTILE,
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
)
RANDOM_JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
EXAMPLES_PER_OPERATION = 50
sent: dict[str, int] = {"requests": 0}


def _resolve(schema: Any, components: dict[str, Any]) -> Any:
    """Inline $refs so hypothesis-jsonschema sees one self-contained schema."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _resolve(components[schema["$ref"].rsplit("/", 1)[-1]], components)
        return {k: _resolve(v, components) for k, v in schema.items() if k not in ("examples", "example")}
    if isinstance(schema, list):
        return [_resolve(v, components) for v in schema]
    return schema


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values shaped like a JSON schema (types, enums, nested objects), often at its edges."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "anyOf" in schema:
        return st.one_of([from_schema(option) for option in schema["anyOf"]])
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return st.fixed_dictionaries({}, optional={k: from_schema(v) for k, v in properties.items()})
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {})), max_size=4)
    if kind == "integer":
        return st.integers(min_value=-(2**40), max_value=2**40)
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "string" and schema.get("format") == "date":
        return st.one_of(st.dates().map(str), st.text(max_size=12))
    if kind == "string" and schema.get("format") == "date-time":
        return st.one_of(st.datetimes().map(lambda d: d.isoformat()), st.text(max_size=12))
    if kind == "string":
        return st.one_of(st.text(max_size=int(schema.get("maxLength", 40)) + 2), HOSTILE)
    return SCALARS


def operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    schema = client.get("/openapi.json").json()
    components = schema.get("components", {}).get("schemas", {})
    result = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if path == "/api/v1/auth/logout":
                continue  # would only end the fuzzing session itself
            result.append((method.upper(), path, _resolve(operation, components)))
    return result


def request_strategy(method: str, path: str, operation: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    params = operation.get("parameters", [])
    # small ids hit records that exist (the fixture's users, patients, exams); the rest probe
    path_values = {
        p["name"]: st.one_of(
            st.integers(1, 4), st.integers(-5, 10**12), HOSTILE, st.text(min_size=1, max_size=20)
        )
        for p in params
        if p["in"] == "path"
    }
    query_values = {
        p["name"]: st.one_of(from_schema(p.get("schema", {})), HOSTILE, st.text(max_size=30))
        for p in params
        if p["in"] == "query"
    }
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        body = st.one_of(from_schema(content["application/json"]["schema"]), RANDOM_JSON).map(
            lambda b: {"json": b}
        )
    elif "multipart/form-data" in content:
        body = st.builds(
            lambda data, exam: {"files": {"file": ("f.svs", data)}, "data": {"exam_id": exam}},
            st.binary(max_size=2048),
            st.one_of(st.integers(-3, 10).map(str), HOSTILE),
        )
    else:
        body = st.just({})
    return st.fixed_dictionaries(
        {
            "path": st.fixed_dictionaries(path_values),
            "query": st.fixed_dictionaries({}, optional=query_values),
            "body": body,
        }
    )


def fuzz_operation(client: TestClient, method: str, path: str, operation: dict[str, Any]) -> None:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(request_strategy(method, path, operation))
    def check(case: dict[str, Any]) -> None:
        url = path.format(**{k: quote(str(v), safe="") for k, v in case["path"].items()})
        query = {k: v if isinstance(v, str) else json.dumps(v) for k, v in case["query"].items()}
        response = client.request(method, url, params=query, **case["body"])
        sent["requests"] += 1
        assert response.status_code < 500, (
            f"{method} {url} {case}: {response.status_code} {response.text[:300]}"
        )

    check()


@pytest.mark.parametrize("role", ["admin", "expert-a"])
def test_no_operation_answers_5xx(app_client: TestClient, role: str) -> None:
    login(app_client, role)
    for method, path, operation in operations(app_client):
        fuzz_operation(app_client, method, path, operation)
    print(f"fuzzing: {sent['requests']} requests so far")
    assert sent["requests"] >= EXAMPLES_PER_OPERATION * 10

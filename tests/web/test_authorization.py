"""Every route of the OpenAPI schema × anonymous, expert A, expert B, admin (issue 3, item 7).

The records used belong to expert A. The table below must name every operation the app
serves: a new route without an expectation fails ``test_every_route_has_an_expectation``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pathodesk.config import Settings
from pathodesk.web.app import create_app
from tests.support.accounts import Accounts
from tests.support.http import PASSWORD, login
from tests.web.world import World

ROLES = ("anon", "expert-a", "expert-b", "admin")


@dataclass
class Case:
    """Expected status per role, path parameters and body, each built fresh per request."""

    expect: tuple[int, int, int, int]  # anon, A, B, admin
    params: Callable[[World], dict[str, Any]] = lambda w: {}
    json: Callable[[World], Any] | None = None
    multipart: Callable[[World, dict[str, Any]], dict[str, Any]] | None = None
    query: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None  # a raw request body (annotation files)


def shared_slide(w: World) -> dict[str, Any]:
    if not hasattr(w, "_svs_slide"):
        w._svs_slide = w.slide(svs=True)  # type: ignore[attr-defined]
    return {"slide_id": w._svs_slide}  # type: ignore[attr-defined]


def shipped_model(w: World) -> dict[str, Any]:
    """The shipped lung model, registered in every new data directory."""
    from pathodesk.db.models import TrainedModel

    with w.db.session() as session:
        return {"model_id": session.query(TrainedModel).filter_by(disease_type="lung", role="tile").one().id}


def fresh_annotation(w: World) -> dict[str, Any]:
    """A new rectangle on A's shared slide, at version 1."""
    from pathodesk.annotations.store import Draft, create_many
    from pathodesk.db.models import Slide

    with w.db.session() as session:
        slide = session.get(Slide, shared_slide(w)["slide_id"])
        assert slide is not None
        (annotation,) = create_many(session, slide, [Draft("lung_aca", SQUARE)], w.accounts.expert_a_id)
        return {"annotation_id": annotation.id}


SQUARE = {"type": "Polygon", "coordinates": [[[10, 10], [60, 10], [60, 60], [10, 60], [10, 10]]]}
ASAP_SQUARE = (
    b'<ASAP_Annotations><Annotations><Annotation Name="a" Type="Polygon" PartOfGroup="lung_n"><Coordinates>'
    b'<Coordinate Order="0" X="1" Y="1"/><Coordinate Order="1" X="9" Y="1"/>'
    b'<Coordinate Order="2" X="9" Y="9"/>'
    b"</Coordinates></Annotation></Annotations></ASAP_Annotations>"
)


def queued_job(w: World, cancelled: bool = False) -> dict[str, Any]:
    """An analysis job on A's shared slide; no workers run in this app, so it stays queued."""
    from pathodesk.db.models import JobState
    from pathodesk.jobs.queue import submit

    with w.db.session() as session:
        job = submit(session, "analyze", shared_slide(w)["slide_id"], {}, user_id=w.accounts.expert_a_id)
        if cancelled:
            job.state = JobState.cancelled
        return {"job_id": job.id}


def patient(w: World) -> dict[str, Any]:
    return {"patient_id": w.patient_and_exam()[0]}


def exam(w: World) -> dict[str, Any]:
    return {"exam_id": w.patient_and_exam()[1]}


def two_sections(w: World) -> dict[str, Any]:
    """A new exam of A's with two slides, as a section group's request names them."""
    exam_id = w.patient_and_exam()[1]
    first, second = w.slide(exam_id), w.slide(exam_id)
    return {
        "exam_id": exam_id,
        "body": {
            "name": "block",
            "reference_slide_id": first,
            "slides": [{"slide_id": first, "stain": "H&E"}, {"slide_id": second, "stain": "Ki67"}],
        },
    }


def new_sections(w: World) -> dict[str, Any]:
    """Path parameters of a new group's request; its body waits on the world for ``json``."""
    request = two_sections(w)
    w._section_request = request["body"]  # type: ignore[attr-defined]
    return {"exam_id": request["exam_id"]}


def section_group(w: World) -> dict[str, Any]:
    """A new section group in A's case (no registration run)."""
    from pathodesk.db.models import SectionGroup, SectionMember

    request = two_sections(w)
    body = request["body"]
    with w.db.session() as session:
        group = SectionGroup(
            exam_id=request["exam_id"], name="block", reference_slide_id=body["reference_slide_id"]
        )
        group.members = [
            SectionMember(slide_id=m["slide_id"], stain=m["stain"], position=i)
            for i, m in enumerate(body["slides"])
        ]
        session.add(group)
        session.commit()
        return {"group_id": group.id}


def registered_section(w: World) -> dict[str, Any]:
    """A group whose second slide has a stored (identity) transform onto the reference."""
    import numpy as np

    from pathodesk.db.models import SectionGroup, SlideTransform
    from pathodesk.registration import Transform

    group_id = section_group(w)["group_id"]
    with w.db.session() as session:
        group = session.get(SectionGroup, group_id)
        assert group is not None
        other = next(m.slide_id for m in group.members if m.slide_id != group.reference_slide_id)
        identity = Transform(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
        session.add(
            SlideTransform(
                group_id=group_id,
                slide_id=other,
                reference_slide_id=group.reference_slide_id,
                version=1,
                data=identity.to_bytes(),
                error_px=1.0,
                summary=identity.summary(),
            )
        )
        session.commit()
        return {"group_id": group_id, "slide_id": other}


def classifiable_section(w: World) -> dict[str, Any]:
    """A registered group, and an active fusion model of its exam's type reading its stains."""
    from tests.support.fusion import install_untrained_fusion_model

    params = registered_section(w)
    if not hasattr(w, "_fusion_model"):
        w._fusion_model = install_untrained_fusion_model(  # type: ignore[attr-defined]
            w.settings, w.db, "lung", ["lung_n", "lung_aca"], ["H&E", "Ki67"]
        )
    return {"group_id": params["group_id"]}


def fresh_slide(w: World) -> dict[str, Any]:
    return {"slide_id": w.slide()}


def fresh_user(w: World) -> dict[str, Any]:
    return {"user_id": w.expert()}


def assignment(w: World) -> dict[str, Any]:
    exam_id, user_id = w.assignment()
    return {"exam_id": exam_id, "user_id": user_id}


def unique(prefix: str) -> Callable[[World], str]:
    counter = iter(range(10_000))
    return lambda w: f"{prefix}{next(counter)}"


new_code, new_exam_code, new_account, new_type = (
    unique("NP"),
    unique("NE"),
    unique("new-user-"),
    unique("type"),
)

OK, CREATED, GONE = 200, 201, 204
EXPECTATIONS: dict[tuple[str, str], Case] = {
    ("GET", "/healthz"): Case((OK, OK, OK, OK)),  # for load balancers: no account, no data
    ("POST", "/api/v1/auth/login"): Case(
        (OK, OK, OK, OK), json=lambda w: {"account": "expert-a", "password": PASSWORD}
    ),
    ("POST", "/api/v1/auth/logout"): Case((401, GONE, GONE, GONE)),
    ("GET", "/api/v1/me"): Case((401, OK, OK, OK)),
    ("PUT", "/api/v1/me/locale"): Case((401, OK, OK, OK), json=lambda w: {"locale": "en"}),
    ("GET", "/api/v1/users"): Case((401, 403, 403, OK), query={"q": "expert"}),
    ("POST", "/api/v1/users"): Case(
        (401, 403, 403, CREATED),
        json=lambda w: {"account": new_account(w), "name": "N", "password": PASSWORD},
    ),
    ("GET", "/api/v1/users/{user_id}"): Case(
        (401, 403, 403, OK), params=lambda w: {"user_id": w.accounts.expert_a_id}
    ),
    ("PATCH", "/api/v1/users/{user_id}"): Case(
        (401, 403, 403, OK), params=fresh_user, json=lambda w: {"hospital": "H"}
    ),
    ("DELETE", "/api/v1/users/{user_id}"): Case((401, 403, 403, OK), params=fresh_user),
    ("POST", "/api/v1/users/{user_id}/password"): Case(
        (401, 403, 403, GONE), params=fresh_user, json=lambda w: {"password": "another-pass-9"}
    ),
    ("GET", "/api/v1/patients"): Case((401, OK, OK, OK), query={"q": "W-"}),
    ("POST", "/api/v1/patients"): Case(
        (401, CREATED, CREATED, CREATED), json=lambda w: {"patient_code": new_code(w)}
    ),
    ("GET", "/api/v1/patients/{patient_id}"): Case((401, OK, 404, OK), params=patient),
    ("PATCH", "/api/v1/patients/{patient_id}"): Case(
        (401, OK, 404, OK), params=patient, json=lambda w: {"sex": "female"}
    ),
    ("DELETE", "/api/v1/patients/{patient_id}"): Case(
        (401, GONE, 404, GONE), params=patient, query={"cascade": "true"}
    ),
    ("GET", "/api/v1/exams"): Case((401, OK, OK, OK)),
    ("POST", "/api/v1/exams"): Case(
        (401, CREATED, 404, CREATED),
        json=lambda w: {
            "patient_id": w.patient_and_exam()[0],
            "pathology_id": new_exam_code(w),
            "disease_type": "thyroid",
        },
    ),
    ("GET", "/api/v1/exams/{exam_id}"): Case((401, OK, 404, OK), params=exam),
    ("PATCH", "/api/v1/exams/{exam_id}"): Case(
        (401, OK, 404, OK), params=exam, json=lambda w: {"clinical_notes": "n"}
    ),
    ("DELETE", "/api/v1/exams/{exam_id}"): Case((401, GONE, 404, GONE), params=exam),
    # an expert on the case asks a colleague for a second opinion; one who cannot see it cannot
    ("POST", "/api/v1/exams/{exam_id}/assignments"): Case(
        (401, CREATED, 404, CREATED), params=exam, json=lambda w: {"user_id": w.accounts.expert_b_id}
    ),
    # an administrator's assignment: only an administrator withdraws it
    ("DELETE", "/api/v1/exams/{exam_id}/assignments/{user_id}"): Case(
        (401, 403, 404, GONE), params=assignment
    ),
    ("GET", "/api/v1/slides"): Case((401, OK, OK, OK)),
    ("POST", "/api/v1/slides"): Case(
        (401, CREATED, 404, CREATED),
        multipart=lambda w, p: {
            "files": {"file": ("w.png", w.png_bytes())},
            "data": {"exam_id": str(w.patient_and_exam()[1])},
        },
    ),
    ("GET", "/api/v1/slides/{slide_id}"): Case((401, OK, 404, OK), params=shared_slide),
    ("PATCH", "/api/v1/slides/{slide_id}"): Case(
        (401, OK, 404, OK), params=fresh_slide, json=lambda w: {"description": "d"}
    ),
    ("DELETE", "/api/v1/slides/{slide_id}"): Case((401, GONE, 404, GONE), params=fresh_slide),
    ("GET", "/api/v1/slides/{slide_id}/thumbnail"): Case((401, OK, 404, OK), params=shared_slide),
    ("GET", "/api/v1/slides/{slide_id}/associated/{name}"): Case(
        (401, OK, 404, OK), params=lambda w: {**shared_slide(w), "name": "label"}
    ),
    ("GET", "/api/v1/slides/{slide_id}/qc"): Case((401, OK, 404, OK), params=shared_slide),
    ("GET", "/api/v1/slides/{slide_id}/qc/{name}"): Case(
        (401, OK, 404, OK), params=lambda w: {**shared_slide(w), "name": "blur.png"}
    ),
    ("GET", "/api/v1/qc/colour-reference"): Case((401, OK, OK, OK)),
    ("PUT", "/api/v1/qc/colour-reference"): Case((401, 403, 403, 202), json=shared_slide),
    ("DELETE", "/api/v1/qc/colour-reference"): Case((401, 403, 403, 202)),
    ("GET", "/api/v1/slides/{slide_id}/annotations"): Case((401, OK, 404, OK), params=shared_slide),
    ("POST", "/api/v1/slides/{slide_id}/annotations"): Case(
        (401, CREATED, 404, CREATED),
        params=shared_slide,
        json=lambda w: {"label": "lung_n", "geometry": SQUARE},
    ),
    ("GET", "/api/v1/slides/{slide_id}/annotations.xml"): Case((401, OK, 404, OK), params=shared_slide),
    ("GET", "/api/v1/slides/{slide_id}/annotations.geojson"): Case((401, OK, 404, OK), params=shared_slide),
    ("GET", "/api/v1/slides/{slide_id}/annotations.csv"): Case((401, OK, 404, OK), params=shared_slide),
    ("POST", "/api/v1/slides/{slide_id}/annotations/import"): Case(
        (401, CREATED, 404, CREATED), params=shared_slide, content=ASAP_SQUARE
    ),
    ("GET", "/api/v1/annotations/{annotation_id}"): Case((401, OK, 404, OK), params=fresh_annotation),
    ("PATCH", "/api/v1/annotations/{annotation_id}"): Case(
        (401, OK, 404, OK), params=fresh_annotation, json=lambda w: {"version": 1, "label": "lung_scc"}
    ),
    ("DELETE", "/api/v1/annotations/{annotation_id}"): Case(
        (401, GONE, 404, GONE), params=fresh_annotation, query={"version": "1"}
    ),
    ("GET", "/api/v1/annotations/{annotation_id}/revisions"): Case(
        (401, OK, 404, OK), params=fresh_annotation
    ),
    ("POST", "/api/v1/annotations/{annotation_id}/restore"): Case(
        (401, OK, 404, OK), params=fresh_annotation, json=lambda w: {"version": 1}
    ),
    ("POST", "/api/v1/annotations/{annotation_id}/ihc"): Case((401, 202, 404, 202), params=fresh_annotation),
    # the shared slide is H&E: refused with the reason once the caller may see it
    ("POST", "/api/v1/slides/{slide_id}/ki67-hot-spot"): Case((401, 422, 404, 422), params=shared_slide),
    # never counted: 204 (tests/web/test_ihc_count.py reads a count)
    ("GET", "/api/v1/annotations/{annotation_id}/ihc"): Case((401, 204, 404, 204), params=fresh_annotation),
    ("GET", "/api/v1/slides/{slide_id}/review"): Case((401, OK, 404, OK), params=shared_slide),
    ("PUT", "/api/v1/slides/{slide_id}/review"): Case(
        (401, OK, 404, OK), params=shared_slide, json=lambda w: {"verdict": "approved", "opinion": "ok"}
    ),
    ("GET", "/api/v1/exports/reviewed-annotations.zip"): Case((401, 403, 403, OK)),
    ("POST", "/api/v1/slides/{slide_id}/analyze"): Case(
        (401, 202, 404, 202), params=shared_slide, json=lambda w: {}
    ),
    # the shared slide is kept at full resolution: nothing to generate (422), said only to who may see it
    ("POST", "/api/v1/slides/{slide_id}/pregenerate"): Case((401, 422, 404, 422), params=shared_slide),
    ("GET", "/api/v1/slides/{slide_id}/analysis"): Case((401, 404, 404, 404), params=shared_slide),
    ("GET", "/api/v1/slides/{slide_id}/heatmaps/{name}"): Case(
        (401, 404, 404, 404), params=lambda w: {**shared_slide(w), "name": "lung_aca.png"}
    ),
    ("GET", "/api/v1/exams/{exam_id}/section-groups"): Case((401, OK, 404, OK), params=exam),
    ("POST", "/api/v1/exams/{exam_id}/section-groups"): Case(
        (401, CREATED, 404, CREATED),
        params=new_sections,
        json=lambda w: w._section_request,  # type: ignore[attr-defined]
    ),
    ("GET", "/api/v1/section-groups/{group_id}"): Case((401, OK, 404, OK), params=section_group),
    ("PATCH", "/api/v1/section-groups/{group_id}"): Case(
        (401, OK, 404, OK), params=section_group, json=lambda w: {"name": "renamed"}
    ),
    ("DELETE", "/api/v1/section-groups/{group_id}"): Case((401, GONE, 404, GONE), params=section_group),
    ("POST", "/api/v1/section-groups/{group_id}/register"): Case((401, 202, 404, 202), params=section_group),
    ("POST", "/api/v1/section-groups/{group_id}/classify"): Case(
        (401, 202, 404, 202), params=classifiable_section
    ),
    ("GET", "/api/v1/section-groups/{group_id}/slides/{slide_id}/transform"): Case(
        (401, OK, 404, OK), params=registered_section
    ),
    ("GET", "/api/v1/section-groups/{group_id}/slides/{slide_id}/overlay.png"): Case(
        (401, OK, 404, OK), params=registered_section
    ),
    ("GET", "/api/v1/section-groups/{group_id}/slides/{slide_id}/normalized.dzi"): Case(
        (401, OK, 404, OK), params=registered_section
    ),
    (
        "GET",
        "/api/v1/section-groups/{group_id}/slides/{slide_id}/normalized_files/{level}/{col}_{row}.jpeg",
    ): Case((401, OK, 404, OK), params=lambda w: {**registered_section(w), "level": 8, "col": 0, "row": 0}),
    ("GET", "/api/v1/jobs"): Case((401, OK, OK, OK)),
    ("GET", "/api/v1/jobs/{job_id}"): Case((401, OK, 404, OK), params=queued_job),
    ("POST", "/api/v1/jobs/{job_id}/cancel"): Case((401, OK, 404, OK), params=queued_job),
    ("POST", "/api/v1/jobs/{job_id}/retry"): Case((401, OK, 404, OK), params=lambda w: queued_job(w, True)),
    ("GET", "/api/v1/models"): Case((401, OK, OK, OK), query={"disease_type": "lung"}),
    ("GET", "/api/v1/models/{model_id}"): Case((401, OK, OK, OK), params=shipped_model),
    ("GET", "/api/v1/models/{model_id}/{name}"): Case(
        (401, OK, OK, OK), params=lambda w: {**shipped_model(w), "name": "curves.png"}
    ),
    ("POST", "/api/v1/models/{model_id}/activate"): Case((401, 403, 403, OK), params=shipped_model),
    ("GET", "/api/v1/disease-types"): Case((401, OK, OK, OK)),
    ("POST", "/api/v1/disease-types"): Case(
        (401, 403, 403, CREATED),
        json=lambda w: {
            "name": new_type(w),
            "display_name": "T",
            "labels": [{"name": "x", "color": "#123456"}],
        },
    ),
    ("PATCH", "/api/v1/disease-types/{name}"): Case(
        (401, 403, 403, OK),
        params=lambda w: {"name": "unclassified"},
        json=lambda w: {"display_name": "Unclassified"},
    ),
    ("GET", "/api/v1/audit"): Case((401, 403, 403, OK), query={"action": "create"}),
    ("GET", "/api/v1/storage/report"): Case((401, 403, 403, OK)),
    ("POST", "/api/v1/storage/apply-policy"): Case((401, 403, 403, OK), json=lambda w: {"dry_run": True}),
    ("POST", "/api/v1/storage/scrub"): Case((401, 403, 403, 202)),
    ("POST", "/api/v1/storage/backup"): Case((401, 403, 403, 202)),
    ("GET", "/api/v1/storage/stations"): Case((401, OK, OK, OK)),
    ("GET", "/api/v1/patients/{patient_id}/archive"): Case((401, OK, 404, OK), params=patient),
    ("PUT", "/api/v1/exams/{exam_id}/station"): Case(
        (401, OK, 404, OK), params=exam, json=lambda w: {"station": None}
    ),
    ("GET", "/dzi/{slide_id}.dzi"): Case((401, OK, 404, OK), params=shared_slide),
    ("GET", "/dzi/{slide_id}_files/{level}/{col}_{row}.jpeg"): Case(
        (401, OK, 404, OK), params=lambda w: {**shared_slide(w), "level": 11, "col": 0, "row": 0}
    ),
}


@pytest.fixture(scope="module")
def matrix_world(
    tmp_path_factory: pytest.TempPathFactory, samples: dict[str, Path]
) -> tuple[TestClient, World]:
    from tests.support.accounts import make_accounts

    tmp = tmp_path_factory.mktemp("matrix")
    settings = Settings(data_dir=tmp / "data")
    settings.ensure_dirs()
    accounts: Accounts = make_accounts(settings)
    client = TestClient(create_app(settings))
    return client, World(settings, accounts, samples["svs"], tmp)


def test_every_route_has_an_expectation(app_client: TestClient) -> None:
    schema = app_client.get("/openapi.json").json()
    served = {(method.upper(), path) for path, item in schema["paths"].items() for method in item}
    assert served - set(EXPECTATIONS) == set(), "routes without an authorization expectation"
    assert set(EXPECTATIONS) - served == set(), "expectations for routes that do not exist"


@pytest.mark.parametrize(("method", "path"), sorted(EXPECTATIONS), ids=lambda v: v)
def test_route_by_role(matrix_world: tuple[TestClient, World], method: str, path: str) -> None:
    app_client, world = matrix_world
    case = EXPECTATIONS[(method, path)]
    for role, expected in zip(ROLES, case.expect, strict=True):
        client = TestClient(app_client.app)
        if role != "anon":
            login(client, role)
        url = path.format(**case.params(world))
        kwargs: dict[str, Any] = {"params": case.query}
        if case.json is not None:
            kwargs["json"] = case.json(world)
        if case.multipart is not None:
            kwargs.update(case.multipart(world, {}))
        if case.content is not None:
            kwargs["content"] = case.content
        response = client.request(method, url, **kwargs)
        assert response.status_code == expected, (
            f"{role} {method} {url}: {response.status_code} {response.text[:200]}"
        )
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json"

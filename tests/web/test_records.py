"""Patients, exams, assignment and the audit log through the API (issue 3, items 3-5)."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from pathodesk.config import Settings
from tests.support.accounts import Accounts
from tests.support.http import PASSWORD, login
from tests.support.slides import ingest_slide

INJECTIONS = [
    "' OR '1'='1",
    "'; DROP TABLE patients; --",
    '" OR ""="',
    "%",
    "_",
    "\\",
    "%' UNION SELECT password_hash FROM users --",
    "<script>alert(1)</script>",
    "\x00",
    "𝔭𝔞𝔱𝔦𝔢𝔫𝔱",
]


def test_patient_and_exam_lifecycle(
    app_client: TestClient, accounts: Accounts, samples: dict[str, Path], settings: Settings
) -> None:
    login(app_client, "expert-a")
    patient = app_client.post(
        "/api/v1/patients",
        json={
            "patient_code": "H-100",
            "name": "Jane Roe",
            "sex": "female",
            "birth_date": "1970-02-03",
            "identity_number": "ID-999",
        },
    ).json()
    assert app_client.post("/api/v1/patients", json={"patient_code": "H-100"}).status_code == 409
    bad = app_client.post("/api/v1/patients", json={"patient_code": "", "sex": "robot"})
    assert bad.status_code == 422 and {tuple(e["loc"])[-1] for e in bad.json()["errors"]} == {
        "patient_code",
        "sex",
    }

    exam = app_client.post(
        "/api/v1/exams",
        json={
            "patient_id": patient["id"],
            "pathology_id": "PATH-1",
            "disease_type": "thyroid",
            "admitted_on": "2026-11-01",
            "clinical_notes": "nodule",
        },
    ).json()
    unknown = app_client.post(
        "/api/v1/exams",
        json={"patient_id": patient["id"], "pathology_id": "PATH-2", "disease_type": "kidney"},
    )
    assert unknown.status_code == 422 and "lung" in unknown.json()["detail"]
    backwards = app_client.patch(f"/api/v1/exams/{exam['id']}", json={"discharged_on": "2026-10-01"})
    assert backwards.status_code == 422
    assert (
        app_client.patch(f"/api/v1/exams/{exam['id']}", json={"discharged_on": "2026-11-20"}).status_code
        == 200
    )

    slide = app_client.post(
        "/api/v1/slides",
        files={"file": ("cmu.svs", samples["svs"].read_bytes())},
        data={"exam_id": str(exam["id"])},
    ).json()
    assert app_client.get(f"/api/v1/exams/{exam['id']}").json()["slide_ids"] == [slide["id"]]

    # children present: 409 saying what would be lost, nothing deleted
    refused = app_client.delete(f"/api/v1/patients/{patient['id']}")
    assert refused.status_code == 409 and "1 exam(s) with 1 slide(s)" in refused.json()["detail"]
    refused = app_client.delete(f"/api/v1/exams/{exam['id']}")
    assert refused.status_code == 409 and "cascade=true" in refused.json()["detail"]
    assert app_client.get(f"/api/v1/slides/{slide['id']}").status_code == 200

    assert (
        app_client.delete(f"/api/v1/patients/{patient['id']}", params={"cascade": "true"}).status_code == 204
    )
    for url in (
        f"/api/v1/patients/{patient['id']}",
        f"/api/v1/exams/{exam['id']}",
        f"/api/v1/slides/{slide['id']}",
    ):
        assert app_client.get(url).status_code == 404
    assert list(settings.slides_dir.rglob("*.svs")) == []

    login(app_client, "admin")
    trail = app_client.get("/api/v1/audit", params={"actor": "expert-a"}).json()
    actions = [(e["action"], e["record_type"]) for e in reversed(trail)]
    assert actions[:1] == [("login", "user")]
    for expected in [
        ("create", "patient"),
        ("create", "exam"),
        ("update", "exam"),
        ("create", "slide"),
        ("delete", "slide"),
        ("delete", "exam"),
        ("delete", "patient"),
    ]:
        assert expected in actions
    text = str(trail)
    assert "Jane Roe" not in text and "ID-999" not in text and "nodule" not in text


def test_assignment_opens_a_case_to_another_expert(
    app_client: TestClient, accounts: Accounts, samples: dict[str, Path]
) -> None:
    login(app_client, "expert-a")
    slide = app_client.post(
        "/api/v1/slides",
        files={"file": ("cmu.svs", samples["svs"].read_bytes())},
        data={"exam_id": str(accounts.exam_a_id)},
    ).json()
    b = TestClient(app_client.app)
    login(b, "expert-b")
    assert b.get(f"/api/v1/exams/{accounts.exam_a_id}").status_code == 404
    assert b.get(f"/dzi/{slide['id']}_files/11/0_0.jpeg").status_code == 404
    admin = TestClient(app_client.app)
    login(admin, "admin")
    assigned = admin.post(
        f"/api/v1/exams/{accounts.exam_a_id}/assignments", json={"user_id": accounts.expert_b_id}
    )
    assert assigned.json()["assigned_user_ids"] == [accounts.expert_b_id]
    assert b.get(f"/api/v1/exams/{accounts.exam_a_id}").status_code == 200
    assert b.get(f"/dzi/{slide['id']}_files/11/0_0.jpeg").status_code == 200
    assert [p["patient_code"] for p in b.get("/api/v1/patients").json()] == ["P-A", "P-B"]
    assert (
        admin.delete(f"/api/v1/exams/{accounts.exam_a_id}/assignments/{accounts.expert_b_id}").status_code
        == 204
    )
    assert b.get(f"/dzi/{slide['id']}_files/11/0_0.jpeg").status_code == 404
    assert (
        admin.post(
            f"/api/v1/exams/{accounts.exam_a_id}/assignments", json={"user_id": accounts.admin_id}
        ).status_code
        == 422
    )


def test_an_expert_asks_a_colleague_for_a_second_opinion(
    app_client: TestClient, accounts: Accounts, settings: Settings, samples: dict[str, Path]
) -> None:
    slide_id = ingest_slide(settings, samples["svs"], accounts.exam_a_id, accounts.expert_a_id)
    assigned = f"/api/v1/exams/{accounts.exam_a_id}/assignments"
    a, b, admin = (TestClient(app_client.app) for _ in range(3))
    login(a, "expert-a")
    login(b, "expert-b")
    login(admin, "admin")
    assert b.post(assigned, json={"user_id": accounts.expert_b_id}).status_code == 404  # not B's to open
    asked = a.post(assigned, json={"user_id": accounts.expert_b_id})
    assert asked.status_code == 201 and asked.json()["assigned_user_ids"] == [accounts.expert_b_id]
    # B finds it in the worklist, and opens it
    assert [s["id"] for s in b.get("/api/v1/slides", params={"mine": "assigned"}).json()] == [slide_id]
    assert b.get(f"/dzi/{slide_id}_files/11/0_0.jpeg").status_code == 200
    page = a.get(f"/exams/{accounts.exam_a_id}").text
    assert "Ask for a second opinion" in page and "Expert B (expert-b)" in page
    # the one who asked, or the one asked, withdraws it; B's access ends with it
    assert b.delete(f"{assigned}/{accounts.expert_b_id}").status_code == 204
    assert b.get(f"/dzi/{slide_id}_files/11/0_0.jpeg").status_code == 404
    assert a.post(assigned, json={"user_id": accounts.expert_b_id}).status_code == 201
    assert a.delete(f"{assigned}/{accounts.expert_b_id}").status_code == 204
    # an administrator's assignment is withdrawn by an administrator only
    assert admin.post(assigned, json={"user_id": accounts.expert_b_id}).status_code == 201
    refused = a.delete(f"{assigned}/{accounts.expert_b_id}")
    assert refused.status_code == 403 and "expert who asked" in refused.json()["detail"]
    actions = [
        (e["actor_account"], e["action"])
        for e in admin.get("/api/v1/audit", params={"record_type": "exam"}).json()
    ]
    assert actions.count(("expert-a", "assign")) == 2 and ("expert-b", "unassign") in actions


def test_with_no_colleague_to_ask_the_case_says_so_instead_of_an_empty_list(
    app_client: TestClient, accounts: Accounts
) -> None:
    """The demo's one expert created every case: the page showed an empty list and a button."""
    admin = TestClient(app_client.app)
    login(admin, "admin")
    assert admin.delete(f"/api/v1/users/{accounts.expert_b_id}").status_code in (200, 204)
    login(app_client, "expert-a")
    page = app_client.get(f"/exams/{accounts.exam_a_id}").text
    assert 'id="no-one-to-assign"' in page and 'id="assign-form"' not in page
    assert "Add an expert account" not in page  # an administrator's link
    admin_page = admin.get(f"/exams/{accounts.exam_a_id}").text
    assert 'id="no-one-to-assign"' in admin_page and 'href="/admin/users"' in admin_page


def test_admin_manages_users_and_disease_types(app_client: TestClient, accounts: Accounts) -> None:
    login(app_client, "admin")
    created = app_client.post(
        "/api/v1/users",
        json={
            "account": "Dr.Li",
            "name": "Li Wei",
            "password": "pathology-2026",
            "hospital": "West China",
            "department": "Pathology",
            "phone": "+86 28 0000",
        },
    )
    assert created.status_code == 201 and created.json()["account"] == "dr.li"
    assert (
        app_client.post(
            "/api/v1/users", json={"account": "dr.li", "name": "x", "password": "pathology-2026"}
        ).status_code
        == 409
    )
    for q in ("li wei", "WEST", "patho", "dr.l"):
        assert [u["account"] for u in app_client.get("/api/v1/users", params={"q": q}).json()] == ["dr.li"], q
    types = app_client.get("/api/v1/disease-types").json()
    assert {"lung", "thyroid"} <= {t["name"] for t in types}
    lung = next(t for t in types if t["name"] == "lung")
    assert [label["name"] for label in lung["labels"]] == ["lung_n", "lung_aca", "lung_scc"]
    bad_colour = app_client.post(
        "/api/v1/disease-types",
        json={"name": "kidney", "display_name": "Kidney", "labels": [{"name": "rcc", "color": "red"}]},
    )
    assert bad_colour.status_code == 422
    assert (
        app_client.post(
            "/api/v1/disease-types",
            json={
                "name": "kidney",
                "display_name": "Kidney",
                "labels": [{"name": "rcc", "color": "#aa0000"}],
            },
        ).status_code
        == 201
    )
    # the cascade's grade scale (issue 14, item 1): stored, or the shipped default, editable
    thyroid = next(t for t in types if t["name"] == "thyroid")
    assert [(g["name"], g["bethesda"]) for g in thyroid["grading"]["coarse"]] == [
        ("benign", "II"),
        ("suspicious", "IV"),
        ("malignant", "VI"),
    ]
    assert lung["grading"]["fine"]["lung_scc"] == "malignant"
    kidney = app_client.get("/api/v1/disease-types").json()
    derived = next(t for t in kidney if t["name"] == "kidney")["grading"]
    assert [g["name"] for g in derived["coarse"]] == ["benign", "malignant"] and derived["fine"] == {
        "rcc": "malignant"
    }
    scale = {"coarse": [{"name": "low"}, {"name": "high"}], "fine": {"rcc": "high"}}
    changed = app_client.patch("/api/v1/disease-types/kidney", json={"grading": scale})
    assert changed.status_code == 200 and changed.json()["grading"]["fine"] == {"rcc": "high"}
    stray = {"coarse": [{"name": "low"}, {"name": "high"}], "fine": {"ccrcc": "high"}}
    refused = app_client.patch("/api/v1/disease-types/kidney", json={"grading": stray})
    assert refused.status_code == 422 and "ccrcc" in refused.json()["detail"]
    unknown_grade = {"coarse": [{"name": "low"}, {"name": "high"}], "fine": {"rcc": "worst"}}
    assert (
        app_client.patch("/api/v1/disease-types/kidney", json={"grading": unknown_grade}).status_code == 422
    )


@pytest.mark.parametrize("needle", INJECTIONS)
def test_search_treats_injection_strings_as_text(
    app_client: TestClient, accounts: Accounts, needle: str
) -> None:
    login(app_client, "admin")
    for url in ("/api/v1/users", "/api/v1/patients", "/api/v1/exams", "/patients", "/admin/users"):
        response = app_client.get(url, params={"q": needle})
        if needle == "\x00" and url.startswith("/api"):
            assert response.status_code == 422  # control characters are refused, clearly
            continue
        assert response.status_code == 200, (url, response.text[:200])
        if url.startswith("/api"):
            assert response.json() == [], (url, needle)  # matched nothing, leaked nothing
    assert len(app_client.get("/api/v1/patients").json()) == 2  # tables intact


def test_patient_data_never_reaches_the_logs(
    app_client: TestClient, accounts: Accounts, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    login(app_client, "expert-a")
    patient = app_client.post(
        "/api/v1/patients",
        json={"patient_code": "LOG-1", "name": "Zhang Sanfeng", "identity_number": "510104199901010000"},
    ).json()
    app_client.patch(f"/api/v1/patients/{patient['id']}", json={"name": "Zhang Wuji"})
    app_client.post(
        "/api/v1/patients", json={"patient_code": "LOG-1", "name": "Zhang Sanfeng"}
    )  # conflict path
    logged = caplog.text
    for secret in ("Zhang", "510104199901010000"):
        assert secret not in logged


def test_writes_are_committed_before_the_response(settings: Settings, accounts: Accounts) -> None:
    """Read-your-writes: the row exists the moment the 2xx arrives. Commits are slowed down
    here so that a commit running after the response (FastAPI's default for dependencies
    with yield) would be caught every time, not once in a while."""
    import threading
    import time

    import uvicorn
    from sqlalchemy import event

    from pathodesk.web.app import create_app
    from tests.support.server import free_port

    app = create_app(settings)
    event.listen(app.state.pathodesk.db.engine, "commit", lambda _connection: time.sleep(0.3))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url) as writer, httpx.Client(base_url=url) as reader:
            token = writer.post(
                "/api/v1/auth/login", json={"account": "expert-a", "password": PASSWORD}
            ).json()
            reader.cookies = writer.cookies
            assert reader.get("/api/v1/me").status_code == 200, "the new session was not committed yet"
            created = writer.post(
                "/api/v1/patients",
                json={"patient_code": "RYW-1"},
                headers={"X-CSRF-Token": token["csrf_token"]},
            ).json()
            assert reader.get(f"/api/v1/patients/{created['id']}").status_code == 200, (
                "patient not committed yet"
            )
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_patients_are_listed_by_their_patient_id(app_client: TestClient, accounts: Accounts) -> None:
    """As people look them up, not in the order they were entered (the demo listed 1, 3, 2)."""
    login(app_client, "admin")
    for code in ("P-Z", "P-C"):
        assert app_client.post("/api/v1/patients", json={"patient_code": code}).status_code == 201
    codes = [p["patient_code"] for p in app_client.get("/api/v1/patients").json()]
    assert codes == ["P-A", "P-B", "P-C", "P-Z"]

"""``GET /healthz`` for load balancers and monitoring: 200 with each check's state while the
server can work, 503 naming what fails when its database is unreachable or its job workers
have stopped; asked without an account, it tells nothing about patients."""

from __future__ import annotations

from fastapi.testclient import TestClient

from pathodesk.db.session import Database
from pathodesk.web.state import AppState


def state_of(client: TestClient) -> AppState:
    state: AppState = client.app.state.pathodesk  # type: ignore[attr-defined]
    return state


def test_a_working_server_is_healthy_without_an_account(app_client: TestClient) -> None:
    response = app_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "storage": "ok", "jobs": "ok"}}
    assert response.headers["cache-control"] == "no-store"


def test_an_unreachable_database_or_stopped_workers_fail_the_check(app_client: TestClient) -> None:
    state = state_of(app_client)
    working = state.db
    state.db = Database("postgresql+psycopg://nobody@127.0.0.1:1/nothing?connect_timeout=2")
    try:
        response = app_client.get("/healthz")
    finally:
        state.db.dispose()
        state.db = working
    assert response.status_code == 503
    assert response.json() == {
        "status": "failing",
        "checks": {"database": "unreachable", "storage": "ok", "jobs": "ok"},
    }

    assert state.workers is not None
    state.workers.stop()
    response = app_client.get("/healthz")
    assert response.status_code == 503 and response.json()["checks"]["jobs"] == "stopped"


def test_a_recent_tier_that_is_gone_fails_the_check(app_client: TestClient) -> None:
    state = state_of(app_client)
    slides = state.settings.slides_dir
    slides.rename(slides.with_name("slides-unmounted"))  # a disk that is not mounted
    try:
        response = app_client.get("/healthz")
    finally:
        slides.with_name("slides-unmounted").rename(slides)
    assert response.status_code == 503 and response.json()["checks"]["storage"] == "not writable"

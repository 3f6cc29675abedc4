"""Sessions (issue 3, item 2): CSRF, throttling, idle and absolute expiry, deactivation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from pathodesk.config import Settings
from pathodesk.db.models import AuthSession
from pathodesk.db.session import Database
from tests.support.accounts import Accounts
from tests.support.http import PASSWORD, login


def test_cookie_is_httponly_and_samesite(app_client: TestClient) -> None:
    response = app_client.post("/api/v1/auth/login", json={"account": "expert-a", "password": PASSWORD})
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie


def test_secure_cookie_behind_https(settings: Settings, accounts: Accounts) -> None:
    from pathodesk.web.app import create_app

    settings.secure_cookies = True
    with TestClient(create_app(settings)) as client:
        response = client.post("/api/v1/auth/login", json={"account": "expert-a", "password": PASSWORD})
        assert "secure" in response.headers["set-cookie"].lower()


def test_every_state_change_needs_the_csrf_token(app_client: TestClient, accounts: Accounts) -> None:
    token = login(app_client, "expert-a")
    del app_client.headers["X-CSRF-Token"]
    attempts = [
        ("POST", "/api/v1/patients", {"patient_code": "X"}),
        ("PATCH", f"/api/v1/exams/{accounts.exam_a_id}", {"clinical_notes": "x"}),
        ("DELETE", f"/api/v1/exams/{accounts.exam_a_id}", None),
        ("POST", "/api/v1/auth/logout", None),
    ]
    for method, url, body in attempts:
        assert app_client.request(method, url, json=body).status_code == 403, url
        wrong = app_client.request(method, url, json=body, headers={"X-CSRF-Token": token[:-2] + "xx"})
        assert wrong.status_code == 403, url
    assert app_client.get(f"/api/v1/exams/{accounts.exam_a_id}").status_code == 200  # nothing changed
    ok = app_client.post("/api/v1/patients", json={"patient_code": "X"}, headers={"X-CSRF-Token": token})
    assert ok.status_code == 201


def test_five_failures_a_minute_lock_the_account_out(app_client: TestClient) -> None:
    for _ in range(5):
        response = app_client.post(
            "/api/v1/auth/login", json={"account": "expert-b", "password": "wrong-password-1"}
        )
        assert response.status_code == 401
    blocked = app_client.post("/api/v1/auth/login", json={"account": "expert-b", "password": PASSWORD})
    assert blocked.status_code == 429
    assert blocked.headers["content-type"] == "application/problem+json"
    # other accounts are not affected
    assert (
        app_client.post("/api/v1/auth/login", json={"account": "expert-a", "password": PASSWORD}).status_code
        == 200
    )


def _age_sessions(settings: Settings, **changes: datetime) -> None:
    db = Database(settings.resolved_database_url())
    with db.session() as session:
        session.execute(update(AuthSession).values(**changes))
    db.dispose()


def test_idle_sessions_expire(app_client: TestClient, settings: Settings) -> None:
    login(app_client, "expert-a")
    assert app_client.get("/api/v1/me").status_code == 200
    _age_sessions(
        settings, last_seen_at=datetime.now(UTC) - timedelta(minutes=settings.session_idle_minutes + 1)
    )
    app_client.app.state.pathodesk.principals.clear()  # the few-second cache, as after it lapses
    assert app_client.get("/api/v1/me").status_code == 401


def test_sessions_expire_absolutely_even_when_used(app_client: TestClient, settings: Settings) -> None:
    login(app_client, "expert-a")
    _age_sessions(
        settings, expires_at=datetime.now(UTC) - timedelta(seconds=1), last_seen_at=datetime.now(UTC)
    )
    app_client.app.state.pathodesk.principals.clear()
    assert app_client.get("/api/v1/me").status_code == 401


def test_deactivation_ends_sessions_and_blocks_login(app_client: TestClient, accounts: Accounts) -> None:
    expert = TestClient(app_client.app)
    login(expert, "expert-b")
    assert expert.get("/api/v1/me").status_code == 200
    login(app_client, "admin")
    assert app_client.delete(f"/api/v1/users/{accounts.expert_b_id}").json()["active"] is False
    assert expert.get("/api/v1/me").status_code == 401
    again = expert.post("/api/v1/auth/login", json={"account": "expert-b", "password": PASSWORD})
    assert again.status_code == 401
    assert app_client.get(f"/api/v1/users/{accounts.expert_b_id}").status_code == 200  # never hard-deleted


def test_password_reset_and_policy(app_client: TestClient, accounts: Accounts) -> None:
    login(app_client, "admin")
    weak = app_client.post(f"/api/v1/users/{accounts.expert_a_id}/password", json={"password": "short"})
    assert weak.status_code == 422 and "password needs" in weak.json()["detail"]
    assert (
        app_client.post(
            f"/api/v1/users/{accounts.expert_a_id}/password", json={"password": "brand-new-pass-7"}
        ).status_code
        == 204
    )
    expert = TestClient(app_client.app)
    assert (
        expert.post("/api/v1/auth/login", json={"account": "expert-a", "password": PASSWORD}).status_code
        == 401
    )
    assert (
        expert.post(
            "/api/v1/auth/login", json={"account": "expert-a", "password": "brand-new-pass-7"}
        ).status_code
        == 200
    )


def test_admins_cannot_lock_themselves_out(app_client: TestClient, accounts: Accounts) -> None:
    login(app_client, "admin")
    assert app_client.delete(f"/api/v1/users/{accounts.admin_id}").status_code == 422
    assert app_client.patch(f"/api/v1/users/{accounts.admin_id}", json={"role": "expert"}).status_code == 422

"""Stateless API replicas (issue 19, item 4): two server processes' apps over one database share
nothing else, yet a login made on one is used on the other (session and CSRF token live in
the database), a logout on one ends the session on the other, and failed logins are counted
across both."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from pathodesk.config import Settings
from pathodesk.web.app import create_app
from tests.support.accounts import Accounts
from tests.support.http import PASSWORD, login


@pytest.fixture
def replicas(settings: Settings, accounts: Accounts) -> Iterator[tuple[TestClient, TestClient]]:
    with TestClient(create_app(settings)) as first, TestClient(create_app(settings)) as second:
        yield first, second


def test_a_login_on_one_replica_works_on_the_other(replicas: tuple[TestClient, TestClient]) -> None:
    first, second = replicas
    token = login(first, "expert-a")
    second.cookies.update(first.cookies)
    assert second.get("/api/v1/me").json()["account"] == "expert-a"
    refused = second.post("/api/v1/patients", json={"patient_code": "R-1"})
    assert refused.status_code == 403, "no CSRF header: refused there too"
    made = second.post("/api/v1/patients", json={"patient_code": "R-1"}, headers={"X-CSRF-Token": token})
    assert made.status_code == 201
    assert first.post("/api/v1/auth/logout").status_code == 204
    time.sleep(5.5)  # the other replica's few-second cache of the session runs out
    assert second.get("/api/v1/me").status_code == 401


def test_failed_logins_are_counted_across_replicas(replicas: tuple[TestClient, TestClient]) -> None:
    first, second = replicas
    wrong = {"account": "expert-b", "password": "wrong-password-1"}
    for client in (first, second, first, second, first):
        assert client.post("/api/v1/auth/login", json=wrong).status_code == 401
    right = {"account": "expert-b", "password": PASSWORD}
    assert second.post("/api/v1/auth/login", json=right).status_code == 429
    assert first.post("/api/v1/auth/login", json=right).status_code == 429

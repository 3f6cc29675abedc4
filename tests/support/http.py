"""Talking to a server the way the browser's scripts do: log in, keep the CSRF token."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi.testclient import TestClient

PASSWORD = "correct-horse-42"


def login(client: TestClient | httpx.Client, account: str, password: str = PASSWORD) -> str:
    """Log in and return the CSRF token; the client keeps the session cookie and the header."""
    response = client.post("/api/v1/auth/login", json={"account": account, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["csrf_token"]
    client.headers["X-CSRF-Token"] = token
    return token


def upload_slide(client: httpx.Client | TestClient, path: Path, exam_id: int) -> dict[str, object]:
    """``POST /api/v1/slides`` as the upload page sends it; the stored slide's detail."""
    response = client.post(
        "/api/v1/slides", files={"file": (path.name, path.read_bytes())}, data={"exam_id": str(exam_id)}
    )
    assert response.status_code == 201, response.text
    detail: dict[str, object] = response.json()
    return detail


def ingest(url: str, account: str, path: Path, exam_id: int, password: str = PASSWORD) -> int:
    """Upload ``path`` to the server at ``url`` as ``account``; the new slide's id."""
    with httpx.Client(base_url=url, timeout=600) as client:
        login(client, account, password)
        return int(upload_slide(client, path, exam_id)["id"])  # type: ignore[call-overload]

"""Waiting on background jobs through the API."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from fastapi.testclient import TestClient


def wait_for(check: Callable[[], Any], timeout: float = 120.0, every: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("timed out")


def finished(client: TestClient | httpx.Client, job_id: int) -> Callable[[], dict[str, Any] | None]:
    def check() -> dict[str, Any] | None:
        job: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}").json()
        return job if job["state"] in ("succeeded", "failed", "cancelled") else None

    return check

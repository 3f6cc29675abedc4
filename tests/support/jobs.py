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


def analyse(client: TestClient | httpx.Client, slide_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Run an analysis to its end; the finished job."""
    job = client.post(f"/api/v1/slides/{slide_id}/analyze", json=body).json()
    done: dict[str, Any] = wait_for(finished(client, job["id"]), timeout=300)
    assert done["state"] == "succeeded", done
    return done


def outcome(client: TestClient | httpx.Client, slide_id: int, job: dict[str, Any]) -> dict[str, Any]:
    """What a pathologist gets from an analysis: outlines, their probabilities, the heatmaps."""
    result = job["result"]
    ai = client.get(f"/api/v1/slides/{slide_id}/annotations", params={"source": "ai"}).json()
    return {
        "label": result["slide_label"],
        "regions": [{k: r[k] for k in ("label", "probability", "std", "tiles")} for r in result["regions"]],
        "outlines": sorted(str(a["geometry"]) for a in ai["annotations"]),
        "heatmaps": {label: client.get(url).content for label, url in result["heatmaps"].items()},
    }

"""Analysis as background jobs (issue 7, items 1–3, 6): through the API, cancel and retry,
and a job that survives its server being killed mid-run."""

from __future__ import annotations

import io
import signal
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathodesk.config import Settings
from pathodesk.slides import open_slide
from pathodesk.slides.pyramid import write_pyramid
from pathodesk.web.app import create_app
from tests.support.accounts import Accounts
from tests.support.http import login
from tests.support.jobs import finished, wait_for
from tests.support.server import free_port, serve
from tests.support.slides import ingest_slide


def test_analysis_job_outlines_a_real_slide_with_heatmaps(
    settings: Settings, accounts: Accounts, samples: dict[str, Path]
) -> None:
    slide_id = ingest_slide(settings, samples["svs"], accounts.exam_a_id, accounts.expert_a_id)
    with TestClient(create_app(settings)) as client:
        login(client, "expert-a")
        response = client.post(f"/api/v1/slides/{slide_id}/analyze", json={"outline": "tiles"})
        assert response.status_code == 202, response.text
        job = wait_for(finished(client, response.json()["id"]))
        assert job["state"] == "succeeded", job
        assert job["progress"] == 1.0 and job["attempts"] == 1
        result = job["result"]
        assert result["tiles"] > 20 and result["tile_px"] == 224  # CMU has an mpp; the model's card none
        assert client.get(f"/api/v1/slides/{slide_id}/analysis").json() == result
        ai = client.get(f"/api/v1/slides/{slide_id}/annotations", params={"source": "ai"}).json()
        assert [a["id"] for a in ai["annotations"]] == [r["annotation_id"] for r in result["regions"]]
        for annotation in ai["annotations"]:
            assert annotation["probability"] >= 0.6 and annotation["author"] is None
        assert ai["status"] == "analyzed"  # also when it found no region: the slide was analysed
        total = np.zeros(1)
        for label, url in result["heatmaps"].items():
            png = client.get(url)
            assert png.status_code == 200 and png.headers["content-type"] == "image/png", label
            rgba = np.asarray(Image.open(io.BytesIO(png.content)))
            assert rgba.shape[2] == 4 and max(rgba.shape[:2]) == 1024
            total = total + rgba[..., 3].astype(float).sum()
        assert total.item() > 0  # probabilities drawn where the tissue is
        assert client.get(f"/api/v1/slides/{slide_id}/heatmaps/nope.png").status_code == 404

        # analysing again (on half-overlapping tiles) replaces the untouched AI outlines
        # rather than piling them up
        rerun = client.post(f"/api/v1/slides/{slide_id}/analyze", json={"overlap": 2}).json()
        again = wait_for(finished(client, rerun["id"]))
        assert again["state"] == "succeeded"
        assert (again["result"]["overlap"], again["result"]["cell_px"]) == (2, 112)
        assert again["result"]["tiles"] > 3 * result["tiles"]  # tiles every half tile
        ai_again = client.get(f"/api/v1/slides/{slide_id}/annotations", params={"source": "ai"}).json()
        assert len(ai_again["annotations"]) == len(again["result"]["regions"])
        assert ai_again["status"] == ai["status"]  # a machine re-run is not an expert's review

        login(client, "expert-b")
        assert client.get(f"/api/v1/jobs/{job['id']}").status_code == 404
        assert client.post(f"/api/v1/slides/{slide_id}/analyze", json={}).status_code == 404


def test_a_low_resolution_slide_is_analysed_in_its_scans_coordinates(
    settings: Settings, accounts: Accounts, samples: dict[str, Path], tmp_path: Path
) -> None:
    """E1/E8: a slide kept at 1/8 is read at the model's resolution through its enlargement,
    so its tiles cover the scan as the full-resolution copy's do."""
    full = ingest_slide(settings, samples["svs"], accounts.exam_a_id, accounts.expert_a_id)
    reader = open_slide(samples["svs"])
    copy = write_pyramid(reader, tmp_path / "cmu-copy.tif", mpp=0.499)  # the same pixels, other bytes
    reader.close()
    low = ingest_slide(settings, copy, accounts.exam_a_id, accounts.expert_a_id, store_downsample=8)
    results = {}
    with TestClient(create_app(settings)) as client:
        login(client, "expert-a")
        for slide_id in (full, low):
            response = client.post(f"/api/v1/slides/{slide_id}/analyze", json={"outline": "tiles"})
            job = wait_for(finished(client, response.json()["id"]))
            assert job["state"] == "succeeded", job
            results[slide_id] = job["result"]
    assert results[low]["tile_px"] == results[full]["tile_px"]  # the same scan pixels a tile
    assert abs(results[low]["tiles"] - results[full]["tiles"]) <= 0.2 * results[full]["tiles"]


def test_queued_jobs_cancel_and_retry(
    settings: Settings, accounts: Accounts, samples: dict[str, Path]
) -> None:
    settings.job_workers = 0  # only the interactive slot runs: analyses stay queued
    slide_id = ingest_slide(settings, samples["svs"], accounts.exam_a_id, accounts.expert_a_id)
    with TestClient(create_app(settings)) as client:
        login(client, "expert-a")
        job = client.post(f"/api/v1/slides/{slide_id}/analyze", json={"priority": 3}).json()
        assert job["state"] == "queued" and job["priority"] == 3
        time.sleep(1.0)
        assert client.get(f"/api/v1/jobs/{job['id']}").json()["state"] == "queued"
        assert client.post(f"/api/v1/jobs/{job['id']}/retry").status_code == 409  # not failed
        cancelled = client.post(f"/api/v1/jobs/{job['id']}/cancel").json()
        assert cancelled["state"] == "cancelled"
        assert client.post(f"/api/v1/jobs/{job['id']}/cancel").status_code == 409
        assert client.post(f"/api/v1/jobs/{job['id']}/retry").json()["state"] == "queued"
        assert [j["id"] for j in client.get("/api/v1/jobs", params={"slide_id": slide_id}).json()] == [
            job["id"]
        ]
        for bad_body in ({"tile_px": 5}, {"overlap": 3}, {"outline": "blob"}):
            bad = client.post(f"/api/v1/slides/{slide_id}/analyze", json=bad_body)
            assert bad.status_code == 422, bad_body


@pytest.mark.timeout(300)
def test_a_job_survives_its_server_being_killed_mid_run(
    settings: Settings, accounts: Accounts, samples: dict[str, Path]
) -> None:
    slide_id = ingest_slide(settings, samples["svs"], accounts.exam_a_id, accounts.expert_a_id)
    port = free_port()
    process = serve(settings.data_dir, port, PATHODESK_JOB_STALE_SECONDS="3")
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            login(client, "expert-a")
            # the smallest tiles make the longest job; kill as soon as a worker has claimed it,
            # polling far faster than the job can finish (however fast the machine)
            job = client.post(f"/api/v1/slides/{slide_id}/analyze", json={"tile_px": 32}).json()
            wait_for(
                lambda: client.get(f"/api/v1/jobs/{job['id']}").json()["state"] != "queued",
                every=0.02,
            )
            running = client.get(f"/api/v1/jobs/{job['id']}").json()
            assert running["state"] == "running", running
        process.send_signal(signal.SIGKILL)  # no clean shutdown: the worker dies mid-job
        process.wait(timeout=30)
        process = serve(settings.data_dir, port, PATHODESK_JOB_STALE_SECONDS="3")
        with httpx.Client(base_url=base, timeout=30) as client:
            login(client, "expert-a")
            done = wait_for(finished(client, job["id"]), timeout=240)
        assert done["state"] == "succeeded", done
        assert done["attempts"] == 2  # it ran again after the restart
        assert done["result"]["tile_px"] == 32
    finally:
        process.kill()
        process.wait(timeout=30)


def test_the_interactive_slot_runs_while_batch_jobs_wait(
    settings: Settings, accounts: Accounts, samples: dict[str, Path]
) -> None:
    """With no batch workers, only interactive jobs run: the reserved slot is never taken
    by the queue of analyses (super-resolution of the viewed region will need it)."""
    from pathodesk.db.session import Database
    from pathodesk.jobs.queue import submit

    settings.job_workers = 0
    slide_id = ingest_slide(settings, samples["svs"], accounts.exam_a_id, accounts.expert_a_id)
    db = Database(settings.resolved_database_url())
    with db.session() as session:
        owner = accounts.expert_a_id
        batch = submit(session, "analyze", slide_id, {}, user_id=owner, priority=10).id
        interactive = submit(session, "analyze", slide_id, {}, user_id=owner, interactive=True).id
    db.dispose()
    with TestClient(create_app(settings)) as client:
        login(client, "expert-a")
        done = wait_for(finished(client, interactive))
        assert done["state"] == "succeeded"
        assert client.get(f"/api/v1/jobs/{batch}").json()["state"] == "queued"  # despite its priority

"""Priority queues and split analyses (issue 19, items 2 and 3; SPEC E7), on the server's own
workers: a batch analysis gives way to a waiting interactive one and resumes where it
stopped, and an analysis split into parts taken by several workers comes out exactly as
one run does — the same probabilities (heatmaps byte for byte) and the same outlines."""

from __future__ import annotations

import itertools
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from pathodesk.analysis.parts import part_bounds
from pathodesk.config import Settings
from pathodesk.db.models import Job
from pathodesk.db.session import Database
from pathodesk.web.app import create_app
from tests.support.accounts import Accounts
from tests.support.http import login
from tests.support.jobs import analyse, finished, outcome, wait_for
from tests.support.slides import ingest_slide


def test_parts_are_whole_batches_covering_every_tile() -> None:
    assert part_bounds(100, 40) == [(0, 48), (48, 96), (96, 100)]
    assert part_bounds(4000, 2048) == [(0, 2000), (2000, 4000)]
    assert part_bounds(10, 2048) == [(0, 10)]
    for tiles, size in ((1, 16), (1000, 100), (4097, 2048)):
        bounds = part_bounds(tiles, size)
        assert bounds[0][0] == 0 and bounds[-1][1] == tiles
        assert all(a[1] == b[0] and a[0] % 16 == 0 for a, b in itertools.pairwise(bounds))


def test_a_batch_analysis_gives_way_to_an_interactive_one_and_resumes_where_it_stopped(
    settings: Settings, accounts: Accounts, samples: dict[str, Path]
) -> None:
    settings.job_workers, settings.interactive_workers = 1, 0  # one worker: someone has to give way
    settings.interactive_wait_seconds = 0.2
    slide_id = ingest_slide(settings, samples["svs"], accounts.exam_a_id, accounts.expert_a_id)
    db = Database(settings.resolved_database_url())
    with TestClient(create_app(settings)) as client:
        login(client, "expert-a")
        batch = client.post(f"/api/v1/slides/{slide_id}/analyze", json={"tile_px": 32}).json()
        wait_for(lambda: client.get(f"/api/v1/jobs/{batch['id']}").json()["progress"] > 0.1, every=0.05)
        analyse(client, slide_id, {"interactive": True})
        with db.session() as session:  # kept until the batch analysis ends
            checkpoint = session.scalars(select(Job.checkpoint).where(Job.id == batch["id"])).one()
        paused = client.get(f"/api/v1/jobs/{batch['id']}").json()
        assert paused["yields"] == 1 and paused["state"] in ("queued", "running"), paused
        done = wait_for(finished(client, batch["id"]), timeout=300)
        assert done["state"] == "succeeded" and done["yields"] == 1, done
        assert done["attempts"] == 1, "giving way is not a failed attempt"
        resumed = outcome(client, slide_id, done)
        assert checkpoint["tiles"] == done["result"]["tiles"]
        assert 0 < checkpoint["done"]["shape"][0] < checkpoint["tiles"], "it resumed where it stopped"

        uninterrupted = analyse(client, slide_id, {"tile_px": 32})
        assert uninterrupted["yields"] == 0
        assert outcome(client, slide_id, uninterrupted) == resumed
    db.dispose()


def test_an_analysis_split_over_workers_equals_one_run(
    settings: Settings, accounts: Accounts, samples: dict[str, Path]
) -> None:
    settings.job_workers = 2
    slide_id = ingest_slide(settings, samples["svs"], accounts.exam_a_id, accounts.expert_a_id)
    with TestClient(create_app(settings)) as client:
        login(client, "expert-a")
        whole = analyse(client, slide_id, {"tile_px": 64})
        assert whole["result"]["parts"] == 1
        single = outcome(client, slide_id, whole)

        settings.analysis_part_tiles = 96
        split = analyse(client, slide_id, {"tile_px": 64})
        result = split["result"]
        assert result["tiles"] == whole["result"]["tiles"] > 4 * 96
        assert result["parts"] == len(part_bounds(result["tiles"], 96)) >= 4
        assert len(result["part_workers"]) == 2, "both workers took parts"
        assert outcome(client, slide_id, split) == single
        jobs = client.get("/api/v1/jobs", params={"slide_id": slide_id}).json()
        assert [job["id"] for job in jobs] == [split["id"], whole["id"]], "the parts are merged and gone"

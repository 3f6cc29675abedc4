"""Interactive work first (issue 19, item 2; SPEC E7): how long an analysis a user waits for
takes while a long batch analysis holds the only worker, with preemption (the batch job gives
way at its next batch and resumes later from its checkpoint) against first come, first served
(``PATHODESK_INTERACTIVE_PRIORITY=false``), on one ``pathodesk serve`` with one job worker
and no reserved slot, so that someone has to give way. Also what giving way costs the batch
analysis (its time from submission to result, both ways).

    .venv/bin/python bench/priority.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]
from tests.support.http import login
from tests.support.jobs import finished, wait_for
from tests.support.paths import SAMPLE_DIR
from tests.support.server import free_port, serve

from _common import one_slide_library, result_line
from pathodesk.sampledata import ensure_samples

BATCH = {"tile_px": 32}  # the smallest tiles: the longest analysis of the sample slide (8,301 tiles)


def seconds_between(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def one_round(client: httpx.Client, slide_id: int) -> tuple[float, float, int]:
    """(seconds the interactive analysis took from its request, seconds of the batch one,
    how often the batch one gave way)."""
    batch = client.post(f"/api/v1/slides/{slide_id}/analyze", json=BATCH).json()
    wait_for(lambda: client.get(f"/api/v1/jobs/{batch['id']}").json()["progress"] > 0.15, every=0.05)
    asked = time.perf_counter()
    interactive = client.post(f"/api/v1/slides/{slide_id}/analyze", json={"interactive": True}).json()
    done = wait_for(finished(client, interactive["id"]), timeout=1800, every=0.05)
    waited = time.perf_counter() - asked
    assert done["state"] == "succeeded", done
    batch_done = wait_for(finished(client, batch["id"]), timeout=1800, every=0.1)
    assert batch_done["state"] == "succeeded", batch_done
    return waited, seconds_between(batch_done["created_at"], batch_done["finished_at"]), batch_done["yields"]


def measure(data_dir: Path, slide_id: int, preemption: bool, rounds: int) -> list[tuple[float, float, int]]:
    port = free_port()
    server = serve(
        data_dir,
        port,
        quiet=True,
        PATHODESK_JOB_WORKERS="1",
        PATHODESK_INTERACTIVE_WORKERS="0",
        PATHODESK_INTERACTIVE_WAIT_SECONDS="0.25",
        PATHODESK_INTERACTIVE_PRIORITY=str(preemption).lower(),
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            login(client, "expert-a")
            return [one_round(client, slide_id) for _ in range(rounds)]
    finally:
        server.kill()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=Path.home()) as tmp:
        _, pyramid = ensure_samples(SAMPLE_DIR)  # CMU-1-Small-Region at twice its size
        settings, slide_id = one_slide_library(tmp, pyramid)
        ours = measure(settings.data_dir, slide_id, True, args.rounds)
        theirs = measure(settings.data_dir, slide_id, False, args.rounds)
    for name, rows in (("preemption", ours), ("first come, first served", theirs)):
        waits = ", ".join(f"{w:.2f}" for w, _, _ in rows)
        batches = ", ".join(f"{b:.1f}" for _, b, _ in rows)
        yields = [y for *_, y in rows]
        print(f"{name}: interactive analysis {waits} s; batch analysis {batches} s; yields {yields}")
    wait, baseline_wait = (statistics.median(w for w, _, _ in rows) for rows in (ours, theirs))
    batch, baseline_batch = (statistics.median(b for _, b, _ in rows) for rows in (ours, theirs))
    print(
        result_line(
            "interactive_wait",
            wait,
            baseline_wait,
            "s",
            "first come, first served (PATHODESK_INTERACTIVE_PRIORITY=false)",
            lower_is_better=True,
            batch_s=round(batch, 2),
            batch_baseline_s=round(baseline_batch, 2),
            rounds=args.rounds,
        )
    )


if __name__ == "__main__":
    main()

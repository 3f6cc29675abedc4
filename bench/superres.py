"""Super-resolved tiles under load (SPEC E7, E8; issue 17, item 5): how long a viewer waits
for a generated tile, alone and while an analysis runs, with interactive work first
(PathoDesk's gate: the analysis gives way between batches, prefetching holds back) and with
plain first-come-first-served (``PATHODESK_INTERACTIVE_PRIORITY=false``), on this machine.

Setup: the CMU H&E kept at 1/8 (``ingest --store-downsample 8``) with the shipped ×8 and ×4
generators; a second slide (our 2× pyramid of the same tissue) analysed over and over by the
in-process job worker. Four viewers pan at 40× (the finest Deep Zoom level), each along its
own row of tiles, one tile after another with 150 ms between them (a hand on the mouse).
A first scenario has one viewer alone (a continued pan: how much prefetching made before it was
asked for). Every scenario starts a fresh server with empty caches. A tile counts as uncached when the
server says it made it for that request (``X-PathoDesk-Generated: made``); the others were
made before by prefetching.

    .venv/bin/python bench/superres.py [--tiles 12]

Last line (API.md): ratio = first-come-first-served p95 / ours p95, with an analysis running.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]
from tests.support.server import free_port, serve

from _common import ROOT, percentile, result_line

PASSWORD = "bench-password-1"
PAUSE_SECONDS = 0.15
VIEWERS = 4


@dataclass
class Viewing:
    made: list[float] = field(default_factory=list)  # seconds, tiles made for the request
    kept: list[float] = field(default_factory=list)  # seconds, tiles made before (prefetch)
    errors: int = 0

    def summary(self) -> dict[str, float]:
        total = len(self.made) + len(self.kept)
        return {
            "uncached_tiles": len(self.made),
            "p50_ms": round(1000 * percentile(self.made, 0.5), 1),
            "p95_ms": round(1000 * percentile(self.made, 0.95), 1),
            "prefetched_fraction": round(len(self.kept) / total, 3) if total else 0.0,
            "errors": self.errors,
        }


def cli(data_dir: Path, *args: str, stdin: str = "") -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pathodesk.cli", "--data-dir", str(data_dir), *args],
        input=stdin,
        text=True,
        capture_output=True,
        check=True,
    )
    return done.stdout


def prepare(data_dir: Path) -> tuple[int, int, int]:
    """(low-resolution slide, analysed slide, finest Deep Zoom level)."""
    from pathodesk.sampledata import ensure_samples

    svs, pyramid = ensure_samples(ROOT / "sample-data")
    cli(data_dir, "create-admin", "--account", "bench", "--password-stdin", stdin=PASSWORD + "\n")
    low = ingest(data_dir, svs, "--store-downsample", "8")
    analysed = ingest(data_dir, pyramid)
    return low, analysed, 12  # 2220 × 2967: ceil(log2(2967)) = 12


def ingest(data_dir: Path, path: Path, *options: str) -> int:
    out = cli(data_dir, "ingest", str(path), "--owner", "bench", "--disease-type", "lung", *options, "--json")
    return int(json.loads(out)["ingested"][0]["slide_id"])


def pan(client: httpx.Client, slide_id: int, level: int, row: int, tiles: int, viewing: Viewing) -> None:
    for col in range(tiles):
        started = time.perf_counter()
        response = client.get(f"/dzi/{slide_id}_files/{level}/{col}_{row}.jpeg")
        seconds = time.perf_counter() - started
        if response.status_code != 200:
            viewing.errors += 1
        elif response.headers.get("x-pathodesk-generated") == "made":
            viewing.made.append(seconds)
        else:
            viewing.kept.append(seconds)
        time.sleep(PAUSE_SECONDS)


def keep_analysing(url: str, cookies: httpx.Cookies, csrf: str, slide_id: int, stop: threading.Event) -> int:
    """Submit the analysis again whenever it ends; returns how many ran."""
    runs = 0
    with httpx.Client(base_url=url, cookies=cookies, timeout=60, headers={"X-CSRF-Token": csrf}) as client:
        while not stop.is_set():
            job = client.post(f"/api/v1/slides/{slide_id}/analyze", json={"outline": "tiles"}).json()
            runs += 1
            while not stop.is_set():
                state = client.get(f"/api/v1/jobs/{job['id']}").json()["state"]
                if state in ("succeeded", "failed", "cancelled"):
                    break
                time.sleep(0.2)
            if stop.is_set():
                client.post(f"/api/v1/jobs/{job['id']}/cancel")
    return runs


def scenario(  # type: ignore[type-arg]
    data_dir: Path, ids: tuple[int, int, int], tiles: int, analysis: bool, priority: bool, panning: int
) -> dict:
    low, analysed, level = ids
    shutil.rmtree(data_dir / "temporary", ignore_errors=True)  # empty caches: a fresh server
    port = free_port()
    server = serve(data_dir, port, quiet=True, PATHODESK_INTERACTIVE_PRIORITY=str(priority).lower())
    url = f"http://127.0.0.1:{port}"
    try:
        login = httpx.post(f"{url}/api/v1/auth/login", json={"account": "bench", "password": PASSWORD})
        login.raise_for_status()
        cookies = login.cookies
        stop = threading.Event()
        worker = None
        if analysis:
            csrf = login.json()["csrf_token"]
            worker = threading.Thread(target=keep_analysing, args=(url, cookies, csrf, analysed, stop))
            worker.start()
            time.sleep(3)  # the analysis is under way before anyone looks
        with httpx.Client(base_url=url, cookies=cookies, timeout=120) as client:
            client.get(f"/dzi/{low}.dzi").raise_for_status()
        viewing = Viewing()
        viewers = []
        for index in range(panning):
            client = httpx.Client(base_url=url, cookies=cookies, timeout=120)
            viewers.append(
                threading.Thread(target=pan, args=(client, low, level, 1 + 3 * index, tiles, viewing))
            )
        for thread in viewers:
            thread.start()
        for thread in viewers:
            thread.join()
        stop.set()
        if worker is not None:
            worker.join()
        return viewing.summary()
    finally:
        server.terminate()
        server.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=9, help="tiles each viewer pans across")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="pathodesk-bench-superres-"))
    try:
        ids = prepare(data_dir)
        results = {}
        for name, analysis, priority, viewers in (
            ("one viewer, a continued pan", False, True, 1),
            ("alone", False, True, VIEWERS),
            ("analysis running, interactive first", True, True, VIEWERS),
            ("analysis running, first come first served", True, False, VIEWERS),
        ):
            results[name] = scenario(data_dir, ids, args.tiles, analysis, priority, viewers)
            print(json.dumps({"scenario": name, **results[name]}), flush=True)
        ours = results["analysis running, interactive first"]["p95_ms"]
        baseline = results["analysis running, first come first served"]["p95_ms"]
        print(
            result_line(
                "superres",
                ours,
                baseline,
                "ms p95 per uncached generated tile (4 viewers, analysis running)",
                "first come, first served (same server, PATHODESK_INTERACTIVE_PRIORITY=false)",
                lower_is_better=True,
                cpus=os.cpu_count(),
                continued_pan_prefetched=results["one viewer, a continued pan"]["prefetched_fraction"],
                prefetched_fraction=results["alone"]["prefetched_fraction"],
            )
        )
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()

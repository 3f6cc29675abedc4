"""Analysis throughput on Celery workers (issue 19, item 6): the same whole-slide analyses run
by one ``pathodesk worker`` process, then by two, behind one ``pathodesk serve`` with
``PATHODESK_JOB_BACKEND=celery`` and a private Redis — all real processes on this machine.

Each worker runs one job at a time. On this 2-core machine two workers can at best share the
two cores that one worker's PyTorch already spreads its work over, so a ratio near 1 is what
the cores allow; near 2 needs a second machine (or cores a single job leaves idle).

    .venv/bin/python bench/scaleout.py [--jobs 4]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]
from tests.support.http import login
from tests.support.jobs import finished, wait_for
from tests.support.paths import SAMPLE_DIR
from tests.support.server import free_port, serve

from _common import one_slide_library, result_line
from pathodesk.sampledata import ensure_samples


def run_with(workers: int, data_dir: Path, env: dict[str, str], base: str, slide_id: int, jobs: int) -> float:
    """Analyses per second with ``workers`` worker processes, one job at a time each."""
    command = [sys.executable, "-m", "pathodesk.cli", "--data-dir", str(data_dir), "worker"]
    processes = [
        subprocess.Popen([*command, "--concurrency", "1"], env=os.environ | env) for _ in range(workers)
    ]
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            login(client, "expert-a")
            started = time.perf_counter()
            ids = [
                client.post(f"/api/v1/slides/{slide_id}/analyze", json={}).json()["id"] for _ in range(jobs)
            ]
            for job_id in ids:
                done = wait_for(finished(client, job_id), timeout=1800, every=0.2)
                assert done["state"] == "succeeded", done
            return jobs / (time.perf_counter() - started)
    finally:
        for process in processes:
            process.kill()
            process.wait(timeout=30)


def start_redis(folder: str) -> tuple[subprocess.Popen[bytes], str]:
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit("redis-server is missing: run `make setup`")
    port = free_port()
    options = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    return subprocess.Popen(
        [server, *options], cwd=folder, stdout=subprocess.DEVNULL
    ), f"redis://127.0.0.1:{port}/0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=Path.home()) as tmp:
        svs, _ = ensure_samples(SAMPLE_DIR)
        settings, slide_id = one_slide_library(tmp, svs)
        broker, broker_url = start_redis(tmp)
        env = {"PATHODESK_JOB_BACKEND": "celery", "PATHODESK_BROKER_URL": broker_url}
        port = free_port()
        server = serve(settings.data_dir, port, quiet=True, **env)
        base = f"http://127.0.0.1:{port}"
        try:
            one = run_with(1, settings.data_dir, env, base, slide_id, args.jobs) * 60
            two = run_with(2, settings.data_dir, env, base, slide_id, args.jobs) * 60
        finally:
            server.kill()
            broker.kill()
    cores = os.cpu_count()
    print(
        f"{args.jobs} analyses of CMU-1-Small-Region: one worker {one:.1f}/min,"
        f" two {two:.1f}/min ({cores} cores)"
    )
    print(
        result_line("scaleout_workers", two, one, "analyses/min", "one pathodesk worker process", cores=cores)
    )


if __name__ == "__main__":
    main()

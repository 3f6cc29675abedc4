"""Load test (issue 19, item 6): simulated pathologists with locust against two API replicas
and two Celery workers on this machine — all real processes started here: a private
PostgreSQL cluster, a private Redis, ``pathodesk serve`` twice (each user talks to one of
them, as a load balancer would spread them) and ``pathodesk worker`` twice.

Each user logs in, then browses the slide list and slides, reads Deep Zoom tiles of random
views (the levels a viewer shows when zooming in) and saves annotations; one more user
keeps whole-slide analyses running all the time. Printed: requests, errors, p50/p95/p99 per
endpoint, and the result line (tile p99 against the 300 ms the issue sets).

    .venv/bin/python bench/load.py [--users 50] [--seconds 120]
"""

from gevent import monkey

monkey.patch_all()  # locust's users are greenlets: patch before anything opens a socket

import argparse
import itertools
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import gevent
import httpx
from locust import HttpUser, between, events, task
from locust.env import Environment

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]
from tests.support.accounts import make_accounts
from tests.support.http import PASSWORD
from tests.support.paths import SAMPLE_DIR
from tests.support.postgres import private_cluster
from tests.support.server import free_port, serve
from tests.support.slides import ingest_slide

from _common import result_line
from pathodesk.accounts import create_user
from pathodesk.config import Settings
from pathodesk.db.models import ExamAssignment, Role
from pathodesk.db.session import Database
from pathodesk.sampledata import ensure_samples
from scaleout import start_redis

TILE_P99_TARGET_MS = 300.0
VIEW_TILES = 8  # tiles a viewer asks for at once when it moves


@dataclass(frozen=True)
class SlideView:
    slide_id: int
    width: int
    height: int
    tile: int
    max_level: int


REPLICAS: list[str] = []
SLIDES: list[SlideView] = []
USERS = [1]  # how many reader accounts there are
_next_user = itertools.count()


def reader_account(number: int) -> str:
    return f"reader-{number:03d}"


def make_readers(settings: Settings, exam_id: int, users: int) -> None:
    """One account per simulated pathologist (50 logins of one account at once would be
    throttled as password guessing, rightly), each assigned the case."""
    db = Database(settings.resolved_database_url())
    with db.session() as session:
        for number in range(users):
            user = create_user(
                session,
                account=reader_account(number),
                name=f"Reader {number}",
                password=PASSWORD,
                role=Role.expert,
            )
            session.add(ExamAssignment(exam_id=exam_id, user_id=user.id))
    db.dispose()
    USERS[0] = users


def describe(base: str, slide_id: int) -> SlideView:
    with httpx.Client(base_url=base, timeout=30) as client:
        client.post("/api/v1/auth/login", json={"account": "expert-a", "password": PASSWORD})
        slide = client.get(f"/api/v1/slides/{slide_id}").json()
    width, height = int(slide["width"]), int(slide["height"])
    return SlideView(
        slide_id, width, height, Settings().dzi_tile_size, math.ceil(math.log2(max(width, height)))
    )


class Pathologist(HttpUser):
    wait_time = between(0.5, 2.0)
    host = "http://127.0.0.1"  # each user is given one replica in on_start

    def on_start(self) -> None:
        number = next(_next_user)
        self.base = REPLICAS[number % len(REPLICAS)]
        response = self.client.post(
            f"{self.base}/api/v1/auth/login",
            json={"account": reader_account(number % USERS[0]), "password": PASSWORD},
            name="log in",
        )
        self.client.headers["X-CSRF-Token"] = response.json()["csrf_token"]

    @task(2)
    def browse(self) -> None:
        self.client.get(f"{self.base}/api/v1/slides", name="slide list")
        self.client.get(f"{self.base}/api/v1/slides/{random.choice(SLIDES).slide_id}", name="slide")

    @task(8)
    def view(self) -> None:
        """A viewport at one of the four most detailed levels: neighbouring tiles."""
        slide = random.choice(SLIDES)
        level = slide.max_level - random.randint(0, 3)
        scale = 2 ** (slide.max_level - level)
        columns = max(1, math.ceil(slide.width / scale / slide.tile))
        rows = max(1, math.ceil(slide.height / scale / slide.tile))
        col0, row0 = random.randrange(columns), random.randrange(rows)
        for offset in range(VIEW_TILES):
            col, row = min(columns - 1, col0 + offset % 4), min(rows - 1, row0 + offset // 4)
            self.client.get(f"{self.base}/dzi/{slide.slide_id}_files/{level}/{col}_{row}.jpeg", name="tile")

    @task(1)
    def annotate(self) -> None:
        slide = random.choice(SLIDES)
        x, y = random.randrange(slide.width - 200), random.randrange(slide.height - 200)
        ring = [[x, y], [x + 150, y + 20], [x + 90, y + 160], [x, y]]
        self.client.post(
            f"{self.base}/api/v1/slides/{slide.slide_id}/annotations",
            json={
                "label": "lung_aca",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "shape": "polygon",
            },
            name="save annotation",
        )


class Analyst(Pathologist):
    """Keeps one whole-slide analysis running on the workers all the time."""

    fixed_count = 1
    wait_time = between(0.1, 0.2)
    analyses: ClassVar[list[str]] = []

    @task
    def analyse(self) -> None:
        slide = random.choice(SLIDES)
        job = self.client.post(
            f"{self.base}/api/v1/slides/{slide.slide_id}/analyze", json={"tile_px": 64}, name="start analysis"
        ).json()
        while True:
            gevent.sleep(1.0)
            state = self.client.get(f"{self.base}/api/v1/jobs/{job['id']}", name="job").json()["state"]
            if state not in ("queued", "running"):
                self.analyses.append(state)
                return


def run_load(users: int, seconds: float) -> Environment:
    env = Environment(user_classes=[Pathologist, Analyst], events=events)
    runner = env.create_local_runner()
    runner.start(users, spawn_rate=5)  # a department's pathologists do not all log in at one second
    gevent.sleep(seconds)
    runner.quit()
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=120.0)
    args = parser.parse_args()
    processes: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(dir=Path.home()) as tmp, private_cluster() as postgres:
        url = postgres.new_database("load")
        settings = Settings(data_dir=Path(tmp) / "data", database_url=url)
        settings.ensure_dirs()
        accounts = make_accounts(settings)
        svs, pyramid = ensure_samples(SAMPLE_DIR)
        make_readers(settings, accounts.exam_a_id, args.users)
        slide_ids = [
            ingest_slide(settings, path, accounts.exam_a_id, accounts.expert_a_id) for path in (svs, pyramid)
        ]
        broker, broker_url = start_redis(tmp)
        processes.append(broker)
        env = {
            "PATHODESK_JOB_BACKEND": "celery",
            "PATHODESK_BROKER_URL": broker_url,
            "PATHODESK_DATABASE_URL": url,
        }
        try:
            for _ in range(2):
                port = free_port()
                processes.append(serve(settings.data_dir, port, quiet=True, **env))
                REPLICAS.append(f"http://127.0.0.1:{port}")
            worker = [sys.executable, "-m", "pathodesk.cli", "--data-dir", str(settings.data_dir), "worker"]
            processes += [
                subprocess.Popen(
                    worker, env=os.environ | env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
                for _ in range(2)
            ]
            SLIDES.extend(describe(REPLICAS[0], slide_id) for slide_id in slide_ids)
            started = time.perf_counter()
            load = run_load(args.users, args.seconds)
            elapsed = time.perf_counter() - started
        finally:
            for process in processes:
                process.kill()
                process.wait(timeout=30)
    report(load, args.users, elapsed)


def report(load: Environment, users: int, elapsed: float) -> None:
    stats = load.stats
    print(f"{users} users for {elapsed:.0f} s against 2 API replicas and 2 workers ({os.cpu_count()} cores)")
    print("| endpoint | requests | errors | p50 ms | p95 ms | p99 ms |")
    print("|---|---|---|---|---|---|")
    for (name, method), entry in sorted(stats.entries.items()):
        p50, p95, p99 = (entry.get_response_time_percentile(q) for q in (0.5, 0.95, 0.99))
        print(
            f"| {method} {name} | {entry.num_requests} | {entry.num_failures}"
            f" | {p50:.0f} | {p95:.0f} | {p99:.0f} |"
        )
    for error in stats.errors.values():
        print(f"error: {error.method} {error.name}: {error.error} ×{error.occurrences}")
    analyses = Analyst.analyses
    print(f"analyses finished during the run: {len(analyses)} ({', '.join(sorted(set(analyses))) or '-'})")
    tile = stats.get("tile", "GET")
    print(
        result_line(
            "load_tile_p99",
            tile.get_response_time_percentile(0.99),
            TILE_P99_TARGET_MS,
            "ms",
            "the issue's target (tile p99 < 300 ms)",
            lower_is_better=True,
            users=users,
            seconds=round(elapsed),
            requests=stats.total.num_requests,
            errors=stats.total.num_failures,
            analyses=len(analyses),
            analyses_failed=sum(state != "succeeded" for state in analyses),
        )
    )


if __name__ == "__main__":
    main()

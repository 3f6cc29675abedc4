"""Jobs on Celery workers behind Redis (issue 19, items 1, 2, 5), all real and all started
here: Debian's redis-server on a free port (no persistence, as a broker that loses its
data when restarted), ``pathodesk serve`` with ``PATHODESK_JOB_BACKEND=celery``, and
``pathodesk worker`` processes. The database stays the record of every job; a worker killed
with SIGKILL mid-job has the job finished by another, once; a Redis restart loses the
messages but no job."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from pathodesk.config import Settings
from tests.support.accounts import Accounts, make_accounts
from tests.support.http import login
from tests.support.jobs import analyse, finished, outcome, wait_for
from tests.support.paths import SAMPLE_DIR
from tests.support.postgres import Cluster, private_cluster
from tests.support.server import free_port, serve
from tests.support.slides import ingest_slide


@dataclass
class Redis:
    port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        server = shutil.which("redis-server")
        if server is None:
            pytest.fail("redis-server is missing: run `make setup` (installs Debian's redis-server)")
        self.process = subprocess.Popen(
            [server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.folder,
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        wait_for(lambda: _pings(client), timeout=20, every=0.05)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Redis]:
    server = Redis(free_port(), tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.fixture(scope="module")
def postgres() -> Iterator[Cluster]:
    with private_cluster() as cluster:
        yield cluster


@pytest.fixture
def pg_settings(postgres: Cluster, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """A data directory whose records live in a PostgreSQL database of the test's own."""
    url = postgres.new_database(f"celery_{request.node.name[5:40]}".lower())
    settings = Settings(data_dir=tmp_path / "pg-data", database_url=url, sample_dir=SAMPLE_DIR)
    settings.ensure_dirs()
    return settings


def environment(broker: Redis, settings: Settings | None = None) -> dict[str, str]:
    database = {"PATHODESK_DATABASE_URL": settings.database_url} if settings and settings.database_url else {}
    return database | {
        "PATHODESK_JOB_BACKEND": "celery",
        "PATHODESK_BROKER_URL": broker.url,
        "PATHODESK_JOB_STALE_SECONDS": "3",
        "PATHODESK_JOB_REDISPATCH_SECONDS": "3",
    }


def start_worker(settings: Settings, broker: Redis, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pathodesk.cli",
            "--data-dir",
            str(settings.data_dir),
            "worker",
            "--concurrency",
            "1",
        ],
        env=os.environ | environment(broker, settings) | env,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.kill()
    process.wait(timeout=30)


def test_an_analysis_runs_on_a_celery_worker_and_survives_its_death(
    pg_settings: Settings, samples: dict[str, Path], broker: Redis
) -> None:
    """On PostgreSQL, as a deployment beyond one machine runs."""
    settings, accounts = pg_settings, make_accounts(pg_settings)
    slide_id = ingest_slide(settings, samples["svs"], accounts.exam_a_id, accounts.expert_a_id)
    port = free_port()
    server = serve(settings.data_dir, port, **environment(broker, settings))
    worker = start_worker(settings, broker)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            login(client, "expert-a")
            quick = client.post(f"/api/v1/slides/{slide_id}/analyze", json={}).json()
            done = wait_for(finished(client, quick["id"]), timeout=240)
            assert done["state"] == "succeeded", done
            assert done["worker"].startswith("celery-"), "run by the worker process, not the server"

            # the smallest tiles make the longest job: kill its worker as soon as it runs
            job = client.post(f"/api/v1/slides/{slide_id}/analyze", json={"tile_px": 32}).json()
            wait_for(lambda: client.get(f"/api/v1/jobs/{job['id']}").json()["state"] == "running", every=0.02)
            first = client.get(f"/api/v1/jobs/{job['id']}").json()["worker"]
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=30)
            worker = start_worker(settings, broker)
            done = wait_for(finished(client, job["id"]), timeout=300)
            assert done["state"] == "succeeded", done
            assert done["attempts"] == 2, "ran again once, after the first worker died"
            assert done["worker"] != first and done["result"]["tile_px"] == 32
    finally:
        stop(worker)
        stop(server)


def test_a_broker_restarted_without_its_messages_loses_no_job(
    settings: Settings, accounts: Accounts, samples: dict[str, Path], broker: Redis
) -> None:
    """A job is sent while no worker runs; Redis dies with the message and comes back empty;
    the server sends the still-queued job again and a worker started later runs it."""
    slide_id = ingest_slide(settings, samples["svs"], accounts.exam_a_id, accounts.expert_a_id)
    port = free_port()
    server = serve(settings.data_dir, port, **environment(broker))
    worker = None
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            login(client, "expert-a")
            job = client.post(f"/api/v1/slides/{slide_id}/analyze", json={}).json()
            messages = redis.Redis(port=broker.port)
            wait_for(lambda: messages.llen("analysis") == 1, timeout=20, every=0.05)
            broker.kill()
            time.sleep(1)  # the server's dispatcher meets a dead broker, and carries on
            broker.start()
            assert redis.Redis(port=broker.port).llen("analysis") == 0, "the message is gone"
            worker = start_worker(settings, broker)
            done = wait_for(finished(client, job["id"]), timeout=240)
            assert done["state"] == "succeeded", done
            assert done["attempts"] == 1
    finally:
        if worker is not None:
            stop(worker)
        stop(server)


def test_an_analysis_split_over_two_workers_equals_one_run_and_interactive_work_goes_first(
    pg_settings: Settings, samples: dict[str, Path], broker: Redis
) -> None:
    """E7 on Celery and PostgreSQL: parts of one analysis taken by both worker processes,
    stitched into what one run gives; then, while both workers are busy with a long split
    analysis, an interactive analysis asked later finishes first."""
    settings, accounts = pg_settings, make_accounts(pg_settings)
    slide_id = ingest_slide(settings, samples["svs"], accounts.exam_a_id, accounts.expert_a_id)
    port = free_port()
    server = serve(settings.data_dir, port, **environment(broker, settings))
    workers = [start_worker(settings, broker, PATHODESK_ANALYSIS_PART_TILES="96") for _ in range(2)]
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            login(client, "expert-a")
            split = analyse(client, slide_id, {"tile_px": 64})
            assert split["result"]["parts"] >= 5
            assert len(split["result"]["part_workers"]) == 2, split["result"]["part_workers"]
            split_outcome = outcome(client, slide_id, split)

            batch = client.post(f"/api/v1/slides/{slide_id}/analyze", json={"tile_px": 32}).json()
            wait_for(lambda: client.get(f"/api/v1/jobs/{batch['id']}").json()["progress"] > 0.1, every=0.05)
            interactive = analyse(client, slide_id, {"interactive": True})
            batch_done = wait_for(finished(client, batch["id"]), timeout=300)
            assert batch_done["state"] == "succeeded"
            assert interactive["finished_at"] < batch_done["finished_at"]

            for worker in workers:
                stop(worker)
            workers = [start_worker(settings, broker, PATHODESK_ANALYSIS_PART_TILES="0")]
            whole = analyse(client, slide_id, {"tile_px": 64})
            assert whole["result"]["parts"] == 1
            assert outcome(client, slide_id, whole) == split_outcome
    finally:
        for worker in workers:
            stop(worker)
        stop(server)

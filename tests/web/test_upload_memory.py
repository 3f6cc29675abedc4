"""A 1 GiB upload streams through the real server with flat memory, and is cleaned up."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import httpx
import psutil
import pytest

from tests.support.accounts import Accounts
from tests.support.http import PASSWORD
from tests.support.server import LiveServer

GIB = 1024**3
CHUNK = 4 * 1024**2


def multipart_body(boundary: str, exam_id: int, size: int) -> Iterator[bytes]:
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="exam_id"\r\n\r\n{exam_id}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.svs"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    block = os.urandom(CHUNK)
    sent = 0
    while sent < size:
        yield block
        sent += CHUNK
    yield f"\r\n--{boundary}--\r\n".encode()


@pytest.mark.slow
def test_one_gib_upload_keeps_server_memory_flat(live_server: LiveServer, accounts: Accounts) -> None:
    server = psutil.Process(live_server.process.pid)
    samples: list[int] = []
    done = threading.Event()

    def sample() -> None:  # RSS four times a second while the upload runs
        while not done.wait(0.25):
            samples.append(server.memory_info().rss)

    sampler = threading.Thread(target=sample)
    with httpx.Client(base_url=live_server.url, timeout=120) as client:
        token = client.post("/api/v1/auth/login", json={"account": "expert-a", "password": PASSWORD}).json()[
            "csrf_token"
        ]
        client.get("/api/v1/slides")
        before = server.memory_info().rss
        boundary = "pathodesk-memory-test"
        sampler.start()
        response = client.post(
            "/api/v1/slides",
            content=multipart_body(boundary, accounts.exam_a_id, GIB),
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "X-CSRF-Token": token,
            },
        )
    done.set()
    sampler.join()
    peak = max(samples)
    # random bytes are no slide: rejected after the whole upload was received and hashed
    assert response.status_code == 422, response.text
    grown = peak - before
    print(
        f"server RSS before {before / 2**20:.0f} MiB, peak {peak / 2**20:.0f} MiB over {len(samples)} samples"
    )
    assert len(samples) >= 4
    assert grown < 32 * 2**20
    incoming = live_server.settings.incoming_dir
    assert list(incoming.iterdir()) == []
    assert not list(live_server.settings.slides_dir.rglob("*.*"))

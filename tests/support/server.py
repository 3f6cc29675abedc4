"""``pathodesk serve`` in its own process, as a user runs it, on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from pathodesk.config import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, seconds: float = 60) -> None:
    """Until ``url`` answers 200 (a starting server refuses connections first)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def serve(
    data_dir: Path, port: int, quiet: bool = False, workers: int = 1, **env: str
) -> subprocess.Popen[bytes]:
    """Start ``pathodesk serve`` on ``port`` over ``data_dir`` and wait until it answers."""
    output = subprocess.DEVNULL if quiet else None
    cli = [sys.executable, "-m", "pathodesk.cli", "--data-dir", str(data_dir)]
    process = subprocess.Popen(
        [*cli, "serve", "--port", str(port), "--workers", str(workers)],
        env={**os.environ, **env},
        stdout=output,
        stderr=output,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/login")
    except RuntimeError:
        process.kill()
        raise
    return process


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
    settings: Settings

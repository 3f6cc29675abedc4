"""Deep Zoom tile serving: PathoDesk's server against openslide-python's deepzoom way.

Baseline: ``openslide.deepzoom.DeepZoomGenerator`` behind a minimal Flask app on
Werkzeug's threaded server, as openslide-python's ``examples/deepzoom/deepzoom_server.py``
serves tiles. Both servers run as separate processes on this machine, on the same slide,
and N concurrent keep-alive clients (1, 8, 32) fetch the same random set of tiles: first
cold (fresh processes, empty caches; the descriptor fetched first, untimed, as a viewer
does), then warm (the same tiles again).

    .venv/bin/python bench/tiles.py [--slide PATH] [--clients 1 8 32]

Prints one JSON line per scenario and, last, the API.md result line (cold, 8 clients).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]
from tests.support.server import free_port, serve, wait_until_up

from _common import ROOT, percentile, result_line

PASSWORD = "bench-password-1"


# ---- the baseline server (runs in its own process) ----------------------------------


def serve_baseline(slide_path: str, port: int) -> None:
    """openslide-python's deepzoom example, reduced to the tile route."""
    from flask import Flask, abort, make_response
    from openslide import OpenSlide
    from openslide.deepzoom import DeepZoomGenerator
    from werkzeug.serving import WSGIRequestHandler

    # Keep-alive, as our server has: the example's default (HTTP/1.0) would make the
    # baseline pay a new connection per tile.
    WSGIRequestHandler.protocol_version = "HTTP/1.1"
    app = Flask(__name__)
    generator = DeepZoomGenerator(OpenSlide(slide_path), tile_size=254, overlap=1, limit_bounds=False)

    @app.route("/slide.dzi")
    def dzi():  # type: ignore[no-untyped-def]
        response = make_response(generator.get_dzi("jpeg"))
        response.mimetype = "application/xml"
        return response

    @app.route("/tile/<int:level>/<int:col>_<int:row>.jpeg")
    def tile(level: int, col: int, row: int):  # type: ignore[no-untyped-def]
        try:
            image = generator.get_tile(level, (col, row))
        except ValueError:
            abort(404)
        buffer = io.BytesIO()
        image.save(buffer, "jpeg", quality=75)
        response = make_response(buffer.getvalue())
        response.mimetype = "image/jpeg"
        return response

    app.run(host="127.0.0.1", port=port, threaded=True)


# ---- load generation ------------------------------------------------------------------


@dataclass
class Run:
    latencies: list[float]
    seconds: float
    errors: int

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds

    def summary(self) -> dict[str, float]:
        return {
            "tiles_per_s": round(self.throughput, 1),
            "p50_ms": round(1000 * percentile(self.latencies, 0.5), 2),
            "p99_ms": round(1000 * percentile(self.latencies, 0.99), 2),
            "errors": self.errors,
        }


async def _client(
    port: int, paths: asyncio.Queue[str], cookie: str, latencies: list[float], errors: list[int]
) -> None:
    """One keep-alive HTTP/1.1 connection fetching tiles one after another."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while True:
            try:
                path = paths.get_nowait()
            except asyncio.QueueEmpty:
                return
            request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{cookie}Connection: keep-alive\r\n\r\n"
            started = time.perf_counter()
            writer.write(request.encode())
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=60)
            status = int(head.split(b" ", 2)[1])
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(b":") for line in head.split(b"\r\n")[1:] if line)
            }
            await reader.readexactly(int(headers.get(b"content-length", b"0")))
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors.append(status)
            if headers.get(b"connection", b"").lower() == b"close":
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
    finally:
        writer.close()


async def _load(port: int, paths: list[str], clients: int, cookie: str) -> Run:
    queue: asyncio.Queue[str] = asyncio.Queue()
    for path in paths:
        queue.put_nowait(path)
    latencies: list[float] = []
    errors: list[int] = []
    started = time.perf_counter()
    await asyncio.gather(*(_client(port, queue, cookie, latencies, errors) for _ in range(clients)))
    return Run(latencies, time.perf_counter() - started, len(errors))


def load(port: int, paths: list[str], clients: int, cookie: str = "") -> Run:
    return asyncio.run(_load(port, paths, clients, cookie))


# ---- servers ----------------------------------------------------------------------------


class Servers:
    def __init__(self, slide: Path, data_dir: Path) -> None:
        self.slide = slide
        self.data_dir = data_dir
        self.env = {**os.environ, "PATHODESK_DATA_DIR": str(data_dir)}
        cli = [sys.executable, "-m", "pathodesk.cli"]
        subprocess.run(
            [*cli, "create-admin", "--account", "bench", "--password-stdin"],
            input=PASSWORD + "\n",
            text=True,
            env=self.env,
            check=True,
            capture_output=True,
        )
        ingest = subprocess.run(
            [*cli, "ingest", str(slide), "--owner", "bench", "--json"],
            text=True,
            env=self.env,
            check=True,
            capture_output=True,
        )
        self.slide_id = json.loads(ingest.stdout)["ingested"][0]["slide_id"]
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> tuple[int, int, str]:
        """Fresh processes (cold caches): returns (ours port, baseline port, our cookie)."""
        self.stop()
        ours, theirs = free_port(), free_port()
        self.processes.append(serve(self.data_dir, ours))
        self.processes.append(
            subprocess.Popen(
                [sys.executable, __file__, "--serve-baseline", str(self.slide), "--port", str(theirs)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        wait_until_up(f"http://127.0.0.1:{theirs}/tile/0/0_0.jpeg")
        login = httpx.post(
            f"http://127.0.0.1:{ours}/api/v1/auth/login", json={"account": "bench", "password": PASSWORD}
        )
        cookie = "; ".join(f"{k}={v}" for k, v in login.cookies.items())
        return ours, theirs, f"Cookie: {cookie}\r\n"

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
            process.wait(timeout=10)
        self.processes.clear()


def tile_set(slide: Path, count: int, seed: int) -> list[tuple[int, int, int]]:
    """Random tiles valid in both grids (ours may tile 256/0 where the baseline uses 254/1)."""
    from pathodesk.slides import open_slide
    from pathodesk.slides.deepzoom import DeepZoomGeometry

    info = open_slide(slide).info
    ours = DeepZoomGeometry(info.level_dimensions, info.level_downsamples, 256, 0)
    theirs = DeepZoomGeometry(info.level_dimensions, info.level_downsamples, 254, 1)
    candidates = []
    for level in range(theirs.level_count):
        columns = min(ours.tile_grid(level)[0], theirs.tile_grid(level)[0])
        rows = min(ours.tile_grid(level)[1], theirs.tile_grid(level)[1])
        candidates += [(level, c, r) for c in range(columns) for r in range(rows)]
    rng = random.Random(seed)
    rng.shuffle(candidates)
    return candidates[: min(count, len(candidates))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slide", type=Path, default=None)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--tiles", type=int, default=500)
    parser.add_argument("--warm-repeats", type=int, default=3)
    parser.add_argument("--serve-baseline", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(args.serve_baseline, args.port)
        return

    from pathodesk.sampledata import make_sample_pyramid

    slide = args.slide or make_sample_pyramid(
        Path(os.environ.get("PATHODESK_SAMPLE_DIR", ROOT / "sample-data"))
    )
    tiles = tile_set(slide, args.tiles, seed=7)
    print(f"slide {slide.name}: {len(tiles)} random tiles over all Deep Zoom levels", file=sys.stderr)
    with tempfile.TemporaryDirectory() as scratch:
        servers = Servers(slide, Path(scratch))
        ours_paths = [f"/dzi/{servers.slide_id}_files/{z}/{c}_{r}.jpeg" for z, c, r in tiles]
        theirs_paths = [f"/tile/{z}/{c}_{r}.jpeg" for z, c, r in tiles]
        results: dict[tuple[int, str], dict[str, dict[str, float]]] = {}
        try:
            for clients in args.clients:
                ours_port, theirs_port, cookie = servers.start()
                # A viewer opens the descriptor before any tile; not timed, for either server.
                httpx.get(
                    f"http://127.0.0.1:{ours_port}/dzi/{servers.slide_id}.dzi",
                    headers={"Cookie": cookie.removeprefix("Cookie: ").strip()},
                ).raise_for_status()
                httpx.get(f"http://127.0.0.1:{theirs_port}/slide.dzi").raise_for_status()
                for phase, repeats in (("cold", 1), ("warm", args.warm_repeats)):
                    ours = load(ours_port, ours_paths * repeats, clients, cookie)
                    theirs = load(theirs_port, theirs_paths * repeats, clients)
                    row = {"pathodesk": ours.summary(), "openslide_deepzoom": theirs.summary()}
                    results[(clients, phase)] = row
                    ratio = ours.throughput / theirs.throughput
                    print(
                        json.dumps(
                            {"clients": clients, "phase": phase, **row, "throughput_ratio": round(ratio, 2)}
                        )
                    )
        finally:
            servers.stop()
    key = 8 if 8 in args.clients else args.clients[0]
    cold, warm = results[(key, "cold")], results[(key, "warm")]
    print(
        result_line(
            "tiles",
            cold["pathodesk"]["tiles_per_s"],
            cold["openslide_deepzoom"]["tiles_per_s"],
            f"tiles/s, cold, {key} clients",
            "openslide-python DeepZoomGenerator + Flask (deepzoom_server example)",
            warm_ratio=round(warm["pathodesk"]["tiles_per_s"] / warm["openslide_deepzoom"]["tiles_per_s"], 2),
            ours_p99_ms_cold=cold["pathodesk"]["p99_ms"],
            ours_p99_ms_warm=warm["pathodesk"]["p99_ms"],
            slide=slide.name,
        )
    )


if __name__ == "__main__":
    main()

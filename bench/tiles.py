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
import math
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]
from tests.support.server import free_port, serve, wait_until_up

from _common import ROOT, percentile, result_line
from _iipsrv import PROCESSES, IipServer, drop_page_cache, iipsrv_version, missing_programs

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
    body_bytes: int = 0

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds

    def summary(self) -> dict[str, float]:
        return {
            "tiles_per_s": round(self.throughput, 1),
            "p50_ms": round(1000 * percentile(self.latencies, 0.5), 2),
            "p99_ms": round(1000 * percentile(self.latencies, 0.99), 2),
            "bytes_per_tile": round(self.body_bytes / max(1, len(self.latencies))),
            "errors": self.errors,
        }


async def _client(
    port: int,
    paths: asyncio.Queue[str],
    cookie: str,
    latencies: list[float],
    errors: list[int],
    sizes: list[int],
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
            length = int(headers.get(b"content-length", b"0"))
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            sizes.append(length)
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
    sizes: list[int] = []
    started = time.perf_counter()
    await asyncio.gather(*(_client(port, queue, cookie, latencies, errors, sizes) for _ in range(clients)))
    return Run(latencies, time.perf_counter() - started, len(errors), sum(sizes))


def load(port: int, paths: list[str], clients: int, cookie: str = "") -> Run:
    return asyncio.run(_load(port, paths, clients, cookie))


# ---- servers ----------------------------------------------------------------------------


class OurServer:
    """``pathodesk serve`` over a fresh data directory holding ``slides``, one bench account."""

    def __init__(self, data_dir: Path, slides: list[Path]) -> None:
        self.data_dir = data_dir
        env = {**os.environ, "PATHODESK_DATA_DIR": str(data_dir)}
        cli = [sys.executable, "-m", "pathodesk.cli"]
        subprocess.run(
            [*cli, "create-admin", "--account", "bench", "--password-stdin"],
            input=PASSWORD + "\n",
            text=True,
            env=env,
            check=True,
            capture_output=True,
        )
        self.slide_ids: dict[Path, int] = {}
        for slide in slides:
            ingest = subprocess.run(
                [*cli, "ingest", str(slide), "--owner", "bench", "--json"],
                text=True,
                env=env,
                check=True,
                capture_output=True,
            )
            self.slide_ids[slide] = json.loads(ingest.stdout)["ingested"][0]["slide_id"]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, workers: int = 1) -> tuple[int, str]:
        """Fresh processes (cold caches): (port, the cookie header of a logged-in session)."""
        self.stop()
        port = free_port()
        self.process = serve(self.data_dir, port, quiet=True, workers=workers)
        login = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/auth/login", json={"account": "bench", "password": PASSWORD}
        )
        cookie = "; ".join(f"{k}={v}" for k, v in login.cookies.items())
        return port, f"Cookie: {cookie}\r\n"

    def open_descriptors(self, port: int, cookie: str, workers: int) -> None:
        """A viewer opens the descriptor before any tile (untimed); with several processes
        sharing the port, each is asked until every one has seen it."""
        for slide_id in self.slide_ids.values():
            for _ in range(4 * workers):
                httpx.get(
                    f"http://127.0.0.1:{port}/dzi/{slide_id}.dzi",
                    headers={"Cookie": cookie.removeprefix("Cookie: ").strip()},
                ).raise_for_status()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None


class Servers:
    """Ours and openslide-python's deepzoom example on one slide."""

    def __init__(self, slide: Path, data_dir: Path) -> None:
        self.slide = slide
        self.ours = OurServer(data_dir, [slide])
        self.slide_id = self.ours.slide_ids[slide]
        self.baseline: subprocess.Popen[bytes] | None = None

    def start(self) -> tuple[int, int, str]:
        """Fresh processes (cold caches): returns (ours port, baseline port, our cookie)."""
        self.stop()
        ours, cookie = self.ours.start()
        theirs = free_port()
        self.baseline = subprocess.Popen(
            [sys.executable, __file__, "--serve-baseline", str(self.slide), "--port", str(theirs)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until_up(f"http://127.0.0.1:{theirs}/tile/0/0_0.jpeg")
        return ours, theirs, cookie

    def stop(self) -> None:
        self.ours.stop()
        if self.baseline is not None:
            self.baseline.terminate()
            self.baseline.wait(timeout=10)
            self.baseline = None


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


# ---- against IIPImage (issue 22) ---------------------------------------------------------

TOP_LEVELS = 4  # the most detailed Deep Zoom levels, where a pathologist reads


def iipsrv_images(sample_dir: Path) -> list[Path]:
    """The real SVS sample, a 4 × 4 mosaic of it as libvips writes pyramids, and the same
    mosaic as PathoDesk writes them (made once, kept beside the samples)."""
    from _iipsrv import pathodesk_pyramid, vips_mosaic_pyramid
    from pathodesk.sampledata import fetch_cmu_small_region

    svs = fetch_cmu_small_region(sample_dir)
    vips = vips_mosaic_pyramid(svs, sample_dir / "cmu-mosaic-4x4-vips.tif")
    return [vips, pathodesk_pyramid(vips, sample_dir / "cmu-mosaic-4x4-pathodesk.tif"), svs]


def descriptor_grid(xml: str) -> tuple[int, int]:
    found = re.search(r'TileSize="(\d+)"', xml), re.search(r'Overlap="(\d+)"', xml)
    if found[0] is None or found[1] is None:
        raise SystemExit(f"not a Deep Zoom descriptor: {xml[:200]}")
    return int(found[0].group(1)), int(found[1].group(1))


@dataclass
class Plan:
    """One image's tile set, as each server names it, and what was checked of it."""

    ours: list[str]
    theirs: list[str]
    facts: dict[str, object]


def plan_image(image: Path, slide_id: int, our_port: int, cookie: str, theirs: IipServer, count: int) -> Plan:
    """Random tiles of the top levels that both servers have: iipsrv serves stored levels
    only, so a single-level SVS is measured at its one level. Both grids must agree."""
    from pathodesk.slides import open_slide
    from pathodesk.slides.deepzoom import DeepZoomTiler

    header = {"Cookie": cookie.removeprefix("Cookie: ").strip()}
    ours_url, theirs_url = f"http://127.0.0.1:{our_port}", f"http://127.0.0.1:{theirs.port}"
    grid = descriptor_grid(httpx.get(f"{ours_url}/dzi/{slide_id}.dzi", headers=header).text)
    their_grid = descriptor_grid(httpx.get(theirs_url + theirs.url(image.name, ".dzi")).text)
    if grid != their_grid:
        raise SystemExit(f"{image.name}: tiles {grid} here, {their_grid} in iipsrv")
    reader = open_slide(image)
    tiler = DeepZoomTiler(reader.info, *grid)
    top = tiler.geometry.max_level
    levels = [
        z
        for z in range(top - TOP_LEVELS + 1, top + 1)
        if httpx.get(theirs_url + theirs.url(image.name, f"_files/{z}/0_0.jpg")).status_code == 200
    ]
    tiles = [
        (z, c, r)
        for z in levels
        for c in range(tiler.geometry.tile_grid(z)[0])
        for r in range(tiler.geometry.tile_grid(z)[1])
    ]
    random.Random(7).shuffle(tiles)
    tiles = tiles[:count]
    plan = Plan(
        [f"/dzi/{slide_id}_files/{z}/{c}_{r}.jpeg" for z, c, r in tiles],
        [theirs.url(image.name, f"_files/{z}/{c}_{r}.jpg") for z, c, r in tiles],
        {
            "image": image.name,
            "tile_size": grid[0],
            "overlap": grid[1],
            "levels": levels,
            "tiles": len(tiles),
        },
    )
    # pixels: each server's tile against the slide's own pixels at that tile, decoded
    for name, base, paths, headers in (
        ("pathodesk", ours_url, plan.ours, header),
        ("iipsrv", theirs_url, plan.theirs, {}),
    ):
        differences = [
            mean_difference(httpx.get(base + path, headers=headers).content, tiler.tile_pixels(reader, *tile))
            for path, tile in list(zip(paths, tiles, strict=True))[:20]
        ]
        plan.facts[f"{name}_mean_abs_difference_to_stored"] = round(statistics.mean(differences), 2)
    reader.close()
    print(json.dumps(plan.facts), file=sys.stderr)
    return plan


def mean_difference(jpeg: bytes, stored: np.ndarray) -> float:
    from PIL import Image

    served = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"), dtype=np.int16)
    return (
        float(np.abs(served - stored.astype(np.int16)).mean())
        if served.shape == stored.shape
        else float("inf")
    )


def measure(
    ours: OurServer, theirs: IipServer, plans: list[Plan], args: argparse.Namespace
) -> dict[tuple[str, int, str, str], list[dict[str, float]]]:
    """Rounds interleaved (ours first, then theirs first, ...); each server freshly started
    and the page cache dropped before each image's cold pass."""
    rows: dict[tuple[str, int, str, str], list[dict[str, float]]] = {}
    for round_ in range(args.rounds):
        for clients in args.clients:
            order = ("pathodesk", "iipsrv") if round_ % 2 == 0 else ("iipsrv", "pathodesk")
            for server in order:
                if server == "pathodesk":
                    port, cookie = ours.start(args.workers)
                    ours.open_descriptors(port, cookie, args.workers)
                else:
                    theirs.start()
                    port, cookie = theirs.port, ""
                for plan in plans:
                    paths = plan.ours if server == "pathodesk" else plan.theirs
                    drop_page_cache()
                    # warm: the same tiles again, at least as many requests as a full set's
                    warm = max(args.warm_repeats, math.ceil(args.warm_repeats * args.tiles / len(paths)))
                    for phase, repeats in (("cold", 1), ("warm", warm)):
                        run = load(port, paths * repeats, clients, cookie)
                        key = (str(plan.facts["image"]), clients, phase, server)
                        rows.setdefault(key, []).append(run.summary())
            print(f"round {round_ + 1}, {clients} clients done", file=sys.stderr)
    return rows


def versus_iipsrv(args: argparse.Namespace) -> None:
    if missing := missing_programs():
        raise SystemExit(f"the IIPImage baseline needs {', '.join(missing)}: run make setup")
    page_cache_dropped = drop_page_cache()  # else the files stay cached for both alike
    sample_dir = Path(os.environ.get("PATHODESK_SAMPLE_DIR", ROOT / "sample-data"))
    images = [args.slide] if args.slide else iipsrv_images(sample_dir)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        (folder / "images").mkdir()
        for image in images:
            (folder / "images" / image.name).symlink_to(image.resolve())
        ours = OurServer(folder / "data", images)
        theirs = IipServer(folder / "images", folder, free_port())
        try:
            port, cookie = ours.start(args.workers)
            theirs.start()
            plans = [
                plan_image(image, ours.slide_ids[image], port, cookie, theirs, args.tiles) for image in images
            ]
            rows = measure(ours, theirs, plans, args)
        finally:
            ours.stop()
            theirs.stop()
    ratios = {}
    for image in images:
        for clients in args.clients:
            for phase in ("cold", "warm"):
                row: dict[str, object] = {"image": image.name, "clients": clients, "phase": phase}
                for server in ("pathodesk", "iipsrv"):
                    runs = rows[(image.name, clients, phase, server)]
                    row[server] = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
                ratio = row["pathodesk"]["tiles_per_s"] / row["iipsrv"]["tiles_per_s"]  # type: ignore[index]
                ratios[f"{image.name} {clients} {phase}"] = row["throughput_ratio"] = round(ratio, 2)
                print(json.dumps(row))
    first, key = images[0].name, 8 if 8 in args.clients else args.clients[0]
    cold = [
        statistics.median(run["tiles_per_s"] for run in rows[(first, key, "cold", server)])
        for server in ("pathodesk", "iipsrv")
    ]
    print(
        result_line(
            "tiles_vs_iipsrv",
            cold[0],
            cold[1],
            f"tiles/s, cold, {key} clients, {first}",
            f"IIPImage iipsrv {iipsrv_version()} (FastCGI, lighttpd, {PROCESSES} processes, JPEG quality 80)",
            workers=args.workers,
            rounds=args.rounds,
            page_cache_dropped=page_cache_dropped,
            ratios=ratios,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slide", type=Path, default=None)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--tiles", type=int, default=500)
    parser.add_argument("--warm-repeats", type=int, default=3)
    parser.add_argument("--baseline", choices=("openslide", "iipsrv"), default="openslide")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="pathodesk serve --workers (iipsrv)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (iipsrv)")
    parser.add_argument("--serve-baseline", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(args.serve_baseline, args.port)
        return
    if args.baseline == "iipsrv":
        versus_iipsrv(args)
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

"""Annotation viewing at scale (issue 4, item 6): a slide with >= 10,000 real nucleus outlines.

The slide is a 5 x 5 mosaic of the MoNuSeg test tiles (real H&E, 1000 x 1000 px each) with
every tile's ImageScope nucleus outlines imported onto its place (~14,000 annotations). In a
real Chromium on the real viewer page, the same annotation editor loads them two ways:

- ours: what the viewer does, the viewport only through the spatial index, simplified and
  sub-pixel outlines dropped at low zoom;
- baseline: fetch everything (every outline at full detail), as a viewer without a spatial
  index has to.

Each timing is fetch + JSON + merge + paper.js drawing, awaited to the next animation frame.
First paint is at the home view (whole slide); each pan moves to a random place at 8x the
home zoom. Prints the first-paint line, then the per-pan line (last, the API.md result).

    .venv/bin/python bench/annotations.py [--grid 5] [--pans 12]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]
from tests.support.browser import submit_login
from tests.support.http import login, upload_slide
from tests.support.server import free_port, serve

from _common import ROOT, percentile, result_line
from pathodesk.accounts import create_user
from pathodesk.cases import get_or_create_exam
from pathodesk.config import Settings
from pathodesk.db.models import Role
from pathodesk.db.session import Database, migrate
from pathodesk.slides.pyramid import write_pyramid
from pathodesk.slides.raster_backend import RasterSlideReader

WORK = ROOT / "bench-results" / "annotations"
PASSWORD = "bench-password-1"
MONUSEG_MPP = 0.25
TILE = 1000

TIMED_LOAD = """async (mode) => {
    const { store, canvas, loadView } = window.pathodeskAnnotations;
    store.records.clear(); canvas.render();
    const t0 = performance.now();
    if (mode === "ours") await loadView(); else await store.load({});
    await new Promise((resolve) => requestAnimationFrame(() => resolve()));
    return { ms: performance.now() - t0, drawn: store.records.size };
}"""

ZOOM_IN = (
    "() => { const v = window.pathodeskViewer; v.viewport.zoomTo(v.viewport.getHomeZoom() * 8, null, true); }"
)
PAN_TO = """([x, y]) => {
    const v = window.pathodeskViewer, centre = v.viewport.getCenter();
    centre.x = x; centre.y = y;
    v.viewport.panTo(centre, true);
    v.forceRedraw();
}"""


def build_slide(data: Path, grid: int) -> tuple[Path, list[tuple[Path, int, int]]]:
    images = sorted((data / "images").glob("*.png"))
    mosaic = np.full((grid * TILE, grid * TILE, 3), 255, np.uint8)
    placed = []
    for index in range(grid * grid):
        image = images[index % len(images)]
        row, col = divmod(index, grid)
        mosaic[row * TILE : (row + 1) * TILE, col * TILE : (col + 1) * TILE] = np.asarray(
            Image.open(image).convert("RGB")
        )[:TILE, :TILE]
        placed.append((data / "annotations" / f"{image.stem}.xml", col * TILE, row * TILE))
    path = WORK / f"monuseg-mosaic-{grid}x{grid}.tiff"
    if not path.exists():
        write_pyramid(RasterSlideReader.from_array(mosaic, MONUSEG_MPP), path, mpp=MONUSEG_MPP)
    return path, placed


def populate(base: str, slide_path: Path, placed: list[tuple[Path, int, int]], exam_id: int) -> int:
    with httpx.Client(base_url=base, timeout=600) as client:
        login(client, "bench", PASSWORD)
        slide_id = int(upload_slide(client, slide_path, exam_id)["id"])  # type: ignore[call-overload]
        for xml, x, y in placed:
            response = client.post(
                f"/api/v1/slides/{slide_id}/annotations/import",
                params={"label": "lung_n", "offset_x": x, "offset_y": y},
                content=xml.read_bytes(),
            )
            response.raise_for_status()
        return slide_id


def measure(base: str, slide_id: int, pans: int) -> dict[str, dict[str, list[float]]]:
    from playwright.sync_api import sync_playwright

    times: dict[str, dict[str, list[float]]] = {
        m: {"first": [], "pan": [], "drawn": []} for m in ("ours", "all")
    }
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.goto(f"{base}/login")
        submit_login(page, "bench", PASSWORD)
        page.wait_for_url(f"{base}/")
        page.goto(f"{base}/slides/{slide_id}")
        page.wait_for_selector("html[data-annotations-loaded='true']", state="attached", timeout=120_000)
        for _ in range(3):  # alternate, so neither mode profits from a warmer server
            for mode in ("ours", "all"):
                result = page.evaluate(TIMED_LOAD, mode)
                times[mode]["first"].append(result["ms"])
                times[mode]["drawn"].append(result["drawn"])
        rng = random.Random(3)
        page.evaluate(ZOOM_IN)
        for _ in range(pans):
            x, y = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9)
            page.evaluate(PAN_TO, [x, y])
            page.wait_for_timeout(50)
            page.evaluate("() => window.pathodeskAnnotations.canvas.sync()")
            for mode in ("ours", "all"):
                times[mode]["pan"].append(page.evaluate(TIMED_LOAD, mode)["ms"])
        browser.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=int, default=5, help="mosaic of grid x grid MoNuSeg tiles")
    parser.add_argument("--pans", type=int, default=12)
    args = parser.parse_args()
    shared = Path(os.environ.get("PATHODESK_SHARED_DATA_DIR", ROOT.parent / "shared" / "data"))
    data = shared / "monuseg-nuclei-xml"
    if not data.is_dir():
        raise SystemExit(f"needs {data} (../shared/data)")
    WORK.mkdir(parents=True, exist_ok=True)
    slide_path, placed = build_slide(data, args.grid)
    settings = Settings(data_dir=WORK / "data")
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    settings.ensure_dirs()
    migrate(settings.resolved_database_url())
    db = Database(settings.resolved_database_url())
    with db.session() as session:
        user = create_user(session, account="bench", name="Bench", password=PASSWORD, role=Role.expert)
        exam_id = get_or_create_exam(
            session, patient_code="BENCH", pathology_id="BENCH-1", disease_type="lung", owner_id=user.id
        ).id
    db.dispose()
    port = free_port()
    server = serve(settings.data_dir, port, quiet=True, PATHODESK_MAX_UPLOAD_BYTES=str(2**31))
    try:
        base = f"http://127.0.0.1:{port}"
        started = time.perf_counter()
        slide_id = populate(base, slide_path, placed, exam_id)
        with httpx.Client(base_url=base, timeout=600) as client:
            login(client, "bench", PASSWORD)
            total = len(client.get(f"/api/v1/slides/{slide_id}/annotations").json()["annotations"])
        elapsed = time.perf_counter() - started
        print(f"{total} nucleus outlines on a {args.grid * TILE} px mosaic, imported in {elapsed:.1f} s")
        times = measure(base, slide_id, args.pans)
    finally:
        server.terminate()
        server.wait(timeout=30)
    first = {m: percentile(times[m]["first"], 0.5) for m in times}
    pan = {m: percentile(times[m]["pan"], 0.5) for m in times}
    print(
        json.dumps(
            {
                "annotations": total,
                "drawn_at_home_ours": times["ours"]["drawn"][0],
                "drawn_all": times["all"]["drawn"][0],
                "first_ms": times["ours"]["first"],
                "first_all_ms": times["all"]["first"],
                "pan_ms": times["ours"]["pan"],
                "pan_all_ms": times["all"]["pan"],
            }
        )
    )
    print(
        result_line(
            "annotations-first-paint",
            first["ours"],
            first["all"],
            "ms (median, home view)",
            "fetch and draw every annotation",
            ratio=round(first["all"] / first["ours"], 2),
            annotations=total,
        )
    )
    print(
        result_line(
            "annotations",
            pan["ours"],
            pan["all"],
            "ms per pan (median, 8x home zoom)",
            "fetch and draw every annotation",
            ratio=round(pan["all"] / pan["ours"], 2),
            annotations=total,
            first_paint_ratio=round(first["all"] / first["ours"], 2),
        )
    )


if __name__ == "__main__":
    main()

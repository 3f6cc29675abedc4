"""Capacity model (issue 19, item 7): what one worker core does, measured here, and what a
department of N slides a day at 40x then needs — worker cores and storage per tier.

Measured on the PyPI-fetched samples (the CMU-1 region as scanned at 20x and our pyramid of
it at twice the resolution, i.e. a 40x scan), one core each (one model thread, one reader):
- analysis: CPU ms per tile of the shipped lung model at 0.5 um/px (448 px read from the 40x
  scan, 224 px to the network), and tiles per mm2 of tissue;
- viewing: CPU ms per cold Deep Zoom tile (vendor JPEG decoded, re-encoded at quality 80;
  and from a pyramid PathoDesk wrote, whose stored tiles often go out as they are);
- storage: bytes per scanned pixel of the vendor file, and of the low-resolution pyramid
  (SPEC E1: 1/8 of the linear resolution) PathoDesk keeps instead when asked.

The model then assumes (arguments): a 40x scan of ``--scan-mm`` square with ``--tissue``
of it tissue, analyses done within ``--window-hours`` (overnight), and the tiers' dwell
times of the default policy (recent: 14 days, middle: a year, then long-term). The compute
per slide is the whole-slide tile analysis; cascade and super-resolution runs cost more and
are not in it. Real scanners' pyramids step by 4, so reading a 20x field from them decodes
the 40x level: more reading work per tile than this pyramid's 2x step.

    .venv/bin/python bench/capacity.py [--scan-mm 15] [--tissue 0.5] [--window-hours 8]
"""

from __future__ import annotations

import argparse
import math
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]
from tests.support.paths import SAMPLE_DIR

from _common import result_line
from pathodesk.analysis.inference import classify_tiles, inference_model, share_cores, tissue_tiles
from pathodesk.ml.model_file import load_model
from pathodesk.ml.registry import SHIPPED_DIR
from pathodesk.sampledata import ensure_samples
from pathodesk.slides import open_slide
from pathodesk.slides.deepzoom import DeepZoomTiler, viewer_grid
from pathodesk.slides.downsampled import DownsampledReader
from pathodesk.slides.overview import with_overview_levels
from pathodesk.slides.pyramid import write_pyramid

MODEL_MPP = 0.5  # the lung model sees 224 px at 0.5 um/px (a 20x field)
SLIDES_PER_DAY = (100, 500, 1_000, 2_000, 5_000, 10_000)
RECENT_DAYS, MIDDLE_DAYS = 14, 365


def cpu_seconds(work: Callable[[], object]) -> float:
    """CPU time of this process (all its threads) spent in ``work``."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    work()
    after = resource.getrusage(resource.RUSAGE_SELF)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def analysis_cost(scan_40x: Path) -> tuple[float, float]:
    """(CPU ms per analysis tile, tiles per mm2 of tissue) on the 40x scan."""
    share_cores(64)  # one model thread: the cost of one core's work
    loaded = load_model(SHIPPED_DIR / "lung" / "model.pt")
    inference_model(loaded)
    reader = open_slide(scan_40x)
    mpp = reader.info.mpp_x or 0.25
    edge = round(loaded.image_px * MODEL_MPP / mpp)
    tiles = tissue_tiles(reader, edge)
    classify_tiles(reader, tiles[:32], loaded, edge, readers=1)  # warm-up
    used = min(cpu_seconds(lambda: classify_tiles(reader, tiles, loaded, edge, readers=1)) for _ in range(3))
    tile_mm2 = (edge * mpp / 1000) ** 2
    return 1000 * used / len(tiles), 1 / tile_mm2


def viewing_cost(scan: Path, levels: int, tiles: int = 400) -> float:
    """CPU ms per cold Deep Zoom tile of the ``levels`` most detailed levels, one thread."""
    reader = with_overview_levels(open_slide(scan))  # as the server opens it
    tiler = DeepZoomTiler(reader.info, *viewer_grid(reader, 254, 1))  # on the server's grid
    geometry = tiler.geometry
    top = geometry.level_count - 1
    rng = random.Random(7)
    wanted = []
    for _ in range(tiles):
        level = top - rng.randrange(levels)
        columns, rows = geometry.tile_grid(level)
        wanted.append((level, rng.randrange(columns), rng.randrange(rows)))
    return 1000 * cpu_seconds(lambda: [tiler.tile_jpeg(reader, *tile) for tile in wanted]) / tiles


def stored_bytes_per_pixel(scan: Path, folder: Path) -> tuple[float, float]:
    """Bytes per scanned pixel: of the vendor file, and of PathoDesk's 1/8 pyramid of it."""
    reader = open_slide(scan)
    width, height = reader.info.dimensions
    low = write_pyramid(DownsampledReader(reader, 8), folder / "low.tiff", quality=90)
    return scan.stat().st_size / (width * height), low.stat().st_size / (width * height)


def size(value: float) -> str:
    for unit, scale in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9)):
        if value >= scale:
            return f"{value / scale:.{1 if value < 10 * scale else 0}f} {unit}"
    return f"{value / 1e6:.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scan-mm", type=float, default=15.0, help="side of the scanned area")
    parser.add_argument("--tissue", type=float, default=0.5, help="share of the scanned area that is tissue")
    parser.add_argument("--window-hours", type=float, default=8.0, help="a day's analyses finish within")
    args = parser.parse_args()
    scan_20x, scan_40x = ensure_samples(SAMPLE_DIR)
    started = time.perf_counter()
    ms_per_tile, tiles_per_mm2 = analysis_cost(scan_40x)
    # the vendor file's full-resolution tiles (decoded and encoded again: the common cold
    # path), and the four most detailed levels of a pyramid PathoDesk wrote (stored tiles
    # sent as they are where the grids line up)
    ms_per_view_tile = viewing_cost(scan_20x, levels=1)
    ms_per_own_tile = viewing_cost(scan_40x, levels=4)
    with tempfile.TemporaryDirectory() as tmp:
        full_bpp, low_bpp = stored_bytes_per_pixel(scan_20x, Path(tmp))
    pixels = (args.scan_mm * 1000 / 0.25) ** 2  # a 40x scan: 0.25 um/px
    full_bytes, low_bytes = pixels * full_bpp, pixels * low_bpp
    tiles_per_slide = args.scan_mm**2 * args.tissue * tiles_per_mm2
    core_seconds_per_slide = tiles_per_slide * ms_per_tile / 1000
    print(f"measured in {time.perf_counter() - started:.0f} s, one core each:")
    print(f"- analysis: {ms_per_tile:.2f} ms CPU per tile = {1000 / ms_per_tile:.0f} tiles/s per core;")
    print(f"  {tiles_per_mm2:.0f} tiles per mm2 of tissue")
    print(
        f"- viewing: {ms_per_view_tile:.2f} ms CPU per cold Deep Zoom tile of a vendor file"
        f" = {1000 / ms_per_view_tile:.0f} tiles/s per core; {ms_per_own_tile:.2f} ms"
        f" = {1000 / ms_per_own_tile:.0f}/s from a pyramid PathoDesk wrote"
    )
    print(
        f"- storage: {full_bpp:.3f} bytes per pixel (vendor JPEG),"
        f" {low_bpp:.4f} (1/8 pyramid, per scanned pixel)"
    )
    print(
        f"a 40x slide of {args.scan_mm:g} x {args.scan_mm:g} mm, {args.tissue:.0%} tissue:"
        f" {pixels / 1e9:.1f} Gpx,"
        f" {tiles_per_slide:,.0f} analysis tiles, {core_seconds_per_slide:.0f} core-seconds,"
        f" {size(full_bytes)} stored ({size(low_bytes)} at 1/8)"
    )
    print()
    print(
        f"| slides/day | analysis core-hours/day | worker cores ({args.window_hours:g} h window) |"
        f" new slides/day | recent tier ({RECENT_DAYS} days) |"
        " middle tier (a year's slides) = long-term added per year | the same kept at 1/8 (E1) |"
        f" network in ({args.window_hours:g} h) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for slides in SLIDES_PER_DAY:
        core_hours = slides * core_seconds_per_slide / 3600
        cores = math.ceil(core_hours / args.window_hours)
        day = slides * full_bytes
        year_low = slides * low_bytes * MIDDLE_DAYS
        gbit_s = day * 8 / (args.window_hours * 3600) / 1e9
        tiers = f"{size(day * RECENT_DAYS)} | {size(day * MIDDLE_DAYS)} | {size(year_low)}"
        print(f"| {slides:,} | {core_hours:,.1f} | {cores:,} | {size(day)} | {tiers} | {gbit_s:.2f} Gbit/s |")
    print(
        result_line(
            "capacity_analysis_tiles_per_core",
            1000 / ms_per_tile,
            1000 / ms_per_view_tile,
            "tiles/s per core",
            "cold Deep Zoom tiles/s per core (the same core serving viewers instead)",
            tiles_per_mm2=round(tiles_per_mm2, 1),
            slide_bytes=round(full_bytes),
            slide_bytes_low=round(low_bytes),
        )
    )


if __name__ == "__main__":
    main()

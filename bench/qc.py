"""Slide QC speed: PathoDesk's multi-resolution QC against the same checks at full resolution.

The slide is a 51,200 x 51,200 JPEG pyramid written from real pixels (the CMU H&E region,
mirrored into a mosaic), cached under bench-results/. Ours: `run_qc` (tissue at 1.25x, blur
on sampled tissue tiles at ~1 µm/px, colour/pen/folds/bubbles/exposure on the thumbnail). Baseline: the
same checks computed naively over every level-0 tile (tissue by saturation, Laplacian
sharpness, colour histogram, ink, folds, bubbles), as a tool without a pyramid-aware design would.

    .venv/bin/python bench/qc.py [--size 51200]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import result_line
from pathodesk.qc.blur import sharpness
from pathodesk.qc.bubbles import bubble_mask
from pathodesk.qc.colour import colour_histogram, mutual_information
from pathodesk.qc.colour_reference import image_histogram
from pathodesk.qc.folds import fold_mask
from pathodesk.qc.report import run_qc
from pathodesk.sampledata import ensure_samples, fetch_he_reference
from pathodesk.slides import open_slide
from pathodesk.slides.base import SlideInfo, downsamples_from_dimensions, white_canvas
from pathodesk.slides.pyramid import write_pyramid
from pathodesk.slides.raster_backend import build_pyramid
from pathodesk.stain.kind import STAINS
from pathodesk.tissue import pen_ink
from pathodesk.tissue.mask import hsv

ROOT = Path(__file__).resolve().parent.parent


class MirroredMosaic:
    """A huge virtual slide: the real region repeated with mirroring, at every level."""

    thread_safe = True

    def __init__(self, tile: np.ndarray, size: int, mpp: float) -> None:
        self._levels = build_pyramid(tile, smallest_px=64)
        dims = [(math.ceil(size / 2**k), math.ceil(size / 2**k)) for k in range(len(self._levels))]
        self.info = SlideInfo("mosaic", None, tuple(dims), downsamples_from_dimensions(tuple(dims)), mpp, mpp)

    def read_region(self, location: tuple[int, int], level: int, size: tuple[int, int]) -> np.ndarray:
        source = self._levels[level]
        scale = 2**level
        x0, y0 = location[0] // scale, location[1] // scale
        height, width = source.shape[:2]
        xs = np.arange(x0, x0 + size[0]) % (2 * width)
        ys = np.arange(y0, y0 + size[1]) % (2 * height)
        xs = np.where(xs < width, xs, 2 * width - 1 - xs)
        ys = np.where(ys < height, ys, 2 * height - 1 - ys)
        out = white_canvas(size)
        limit_w, limit_h = self.info.level_dimensions[level]
        valid_x = np.arange(x0, x0 + size[0]) < limit_w
        valid_y = np.arange(y0, y0 + size[1]) < limit_h
        out[np.ix_(valid_y, valid_x)] = source[np.ix_(ys[valid_y], xs[valid_x])]
        return out

    def associated_image(self, name: str) -> Image.Image:
        raise KeyError(name)

    def close(self) -> None:
        pass


def big_slide(size: int) -> Path:
    target = ROOT / "bench-results" / f"mosaic-{size}.tiff"
    if target.exists():
        return target
    target.parent.mkdir(exist_ok=True)
    svs, _ = ensure_samples(Path(os.environ.get("PATHODESK_SAMPLE_DIR", ROOT / "sample-data")))
    reader = open_slide(svs)
    tile = reader.read_region((0, 0), 0, reader.info.dimensions)
    source = MirroredMosaic(tile, size, mpp=0.499)
    with tqdm(desc=f"writing {size}x{size} pyramid", unit="tile", file=sys.stderr) as bar:
        write_pyramid(
            source,
            target,
            mpp=0.499,
            objective_power=20,
            progress=lambda done, total: (setattr(bar, "total", total), bar.update(done - bar.n)),
        )
    return target


def naive_full_resolution(path: Path, reference: np.ndarray) -> dict[str, float]:
    """Every level-0 tile decoded and checked."""
    reader = open_slide(path)
    width, height = reader.info.dimensions
    step = 1024
    ref_hist = colour_histogram(reference)
    mpp = reader.info.mpp_x or 0.5
    tissue = blurred = pen = folds = bubbles = 0
    hist = np.zeros_like(ref_hist)
    tiles = math.ceil(width / step) * math.ceil(height / step)
    for y in tqdm(range(0, height, step), desc="naive", file=sys.stderr):
        for x in range(0, width, step):
            region = reader.read_region((x, y), 0, (step, step))
            saturation = region.max(axis=2).astype(np.int16) - region.min(axis=2)
            tissue_mask = saturation > 20
            tissue += int(tissue_mask.sum())
            if tissue_mask.mean() > 0.5:
                blurred += sharpness(region) < 2.0
            pen += int(pen_ink(region).sum())
            folds += int(fold_mask(region, tissue_mask, mpp).sum())
            bubbles += int(bubble_mask(hsv(region), mpp).sum())
            hist += colour_histogram(region, tissue_mask) * tissue_mask.sum()
    total = float(width * height)
    return {
        "tissue": tissue / total,
        "blurred_tiles": blurred / tiles,
        "pen": pen / total,
        "folds": folds / max(tissue, 1),
        "bubbles": bubbles / max(tissue, 1),
        "colour_mi": mutual_information(hist / max(hist.sum(), 1), ref_hist),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=51_200)
    args = parser.parse_args()
    path = big_slide(args.size)
    reference = np.asarray(Image.open(fetch_he_reference(ROOT / "sample-data")).convert("RGB"))
    reader = open_slide(path)
    started = time.perf_counter()
    report = run_qc(reader, dict.fromkeys(STAINS, image_histogram(reference)))
    ours = time.perf_counter() - started
    print({"ours": report.as_json()}, file=sys.stderr)
    started = time.perf_counter()
    naive = naive_full_resolution(path, reference)
    baseline = time.perf_counter() - started
    print({"naive": naive}, file=sys.stderr)
    # seconds per slide: lower is better, so the ratio is baseline / ours
    print(
        result_line(
            "qc",
            ours,
            baseline,
            "s per slide",
            "same checks over every level-0 tile",
            ratio=round(baseline / ours, 2),
            slide=f"{args.size}x{args.size} JPEG pyramid of real H&E",
        )
    )


if __name__ == "__main__":
    main()

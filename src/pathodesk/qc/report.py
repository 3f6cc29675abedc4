"""Run every check on a slide and say pass/fail against thresholds (issue 5, items 2 and 4).

Output shape (API.md): {"passed": bool, "checks": {name: {"score": x, "passed": bool, ...}}}.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from pathodesk.qc.blur import blurred_fraction, sharpness
from pathodesk.qc.colour import colour_histogram, conditional_entropy, mutual_information
from pathodesk.qc.exposure import exposure_stats
from pathodesk.slides.base import SlideReader
from pathodesk.tissue import detect_tissue, pen_ink, tile_grid

Progress = Callable[[str], object]


@dataclass(frozen=True)
class QcThresholds:
    blur_sharpness: float = 2.0  # contrast-normalised Laplacian variance; in focus is 5-15 at 1 µm/px
    max_blurred_fraction: float = 0.25
    max_colour_mi: float = 0.4  # bits; H&E from other labs scores 0.1-0.3 against the reference
    max_pen_fraction: float = 0.02
    min_tissue_fraction: float = 0.01
    glass_brightness: tuple[float, float] = (180.0, 255.0)  # below: under-exposed
    tissue_brightness: tuple[float, float] = (60.0, 225.0)  # above: washed out (over-exposed)
    blur_tile_um: float = 256.0  # tiles of 256 µm read at about 1 µm per pixel (10x)
    blur_tiles: int = 48


@dataclass
class QcReport:
    checks: dict[str, dict[str, object]] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(bool(check["passed"]) for check in self.checks.values())

    def as_json(self) -> dict[str, object]:
        return {"passed": self.passed, "checks": self.checks}


def _blur_tiles(
    reader: SlideReader, tissue_mask: np.ndarray, downsample: float, t: QcThresholds
) -> list[float]:
    info = reader.info
    mpp = info.mpp_x or 0.5
    tile_px = max(64, round(t.blur_tile_um / mpp))  # level-0 pixels
    tiles = tile_grid(tissue_mask, downsample, info.dimensions, tile_px, min_fraction=0.8)
    random.Random(0).shuffle(tiles)  # noqa: S311 - a reproducible sample, not a secret
    read_downsample = max(1.0, 1.0 / mpp)  # about 1 µm per pixel
    level = info.best_level_for_downsample(read_downsample)
    level_downsample = info.level_downsamples[level]
    values = []
    for tile in tiles[: t.blur_tiles]:
        size = max(16, round(tile_px / level_downsample))
        region = reader.read_region((tile.x, tile.y), level, (size, size))
        target = max(16, round(tile_px / read_downsample))
        if target != size:
            region = np.asarray(Image.fromarray(region).resize((target, target), Image.Resampling.BOX))
        values.append(sharpness(region))
    return values


def run_qc(
    reader: SlideReader,
    reference_rgb: np.ndarray,
    thresholds: QcThresholds = QcThresholds(),
    progress: Progress | None = None,
) -> QcReport:
    def step(name: str) -> None:
        if progress:
            progress(name)

    report = QcReport()
    step("tissue")
    tissue = detect_tissue(reader)
    info = reader.info
    thumb_level = info.best_level_for_downsample(tissue.downsample)
    thumbnail = np.asarray(
        Image.fromarray(reader.read_region((0, 0), thumb_level, info.level_dimensions[thumb_level])).resize(
            tissue.mask.shape[::-1], Image.Resampling.BOX
        )
    )
    report.checks["tissue_coverage"] = {
        "score": round(tissue.fraction, 4),
        "passed": tissue.fraction >= thresholds.min_tissue_fraction,
    }

    step("blur")
    values = _blur_tiles(reader, tissue.mask, tissue.downsample, thresholds)
    fraction = blurred_fraction(values, thresholds.blur_sharpness)
    report.checks["blur"] = {
        "score": round(fraction, 4),
        "passed": fraction <= thresholds.max_blurred_fraction,
        "tiles": len(values),
        "median_sharpness": round(float(np.median(values)), 4) if values else None,
    }

    step("colour")
    hist = colour_histogram(thumbnail, tissue.mask)
    reference = colour_histogram(reference_rgb, _reference_tissue(reference_rgb))
    mi = mutual_information(hist, reference)
    report.checks["colour"] = {
        "score": round(mi, 4),
        "passed": mi <= thresholds.max_colour_mi,
        "conditional_entropy": round(conditional_entropy(hist, reference), 4),
    }

    step("pen")
    pen = float(pen_ink(thumbnail).mean())
    report.checks["pen"] = {"score": round(pen, 4), "passed": pen <= thresholds.max_pen_fraction}

    step("exposure")
    stats = exposure_stats(thumbnail, tissue.mask)
    low, high = thresholds.glass_brightness
    report.checks["exposure"] = {
        "score": round(stats["glass_brightness"], 2),
        "passed": low <= stats["glass_brightness"] <= high
        and thresholds.tissue_brightness[0] <= stats["tissue_brightness"] <= thresholds.tissue_brightness[1],
        **{k: round(v, 4) for k, v in stats.items()},
    }
    return report


def _reference_tissue(rgb: np.ndarray) -> np.ndarray:
    from pathodesk.tissue import tissue_mask

    mask = tissue_mask(rgb)
    return mask if mask.any() else np.ones(rgb.shape[:2], bool)

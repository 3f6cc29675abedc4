"""Run every check on a slide and say pass/fail against thresholds (issue 5, items 2 and 4).

Output shape (API.md): {"passed": bool, "checks": {name: {"score": x, "passed": bool, ...}}}.
Besides the scores, the report keeps the thumbnail and one mask per check (thumbnail pixels,
True where the check flags the slide) so that people can see *where* a slide failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from pathodesk.qc.blur import blur_map, blurred_fraction, sharpness
from pathodesk.qc.bubbles import bubble_mask
from pathodesk.qc.colour import colour_histogram, conditional_entropy, mutual_information, unusual_colours
from pathodesk.qc.exposure import exposure_mask, exposure_stats
from pathodesk.qc.folds import fold_mask
from pathodesk.slides.base import SlideReader
from pathodesk.tissue import Tile, detect_tissue, tile_grid
from pathodesk.tissue.mask import pen_ink_hsv, tissue_mask
from pathodesk.tissue.slide import ASSUMED_MPP

Progress = Callable[[str], object]
CHECKS = ("tissue_coverage", "blur", "colour", "pen", "folds", "bubbles", "exposure")


@dataclass(frozen=True)
class QcThresholds:
    blur_sharpness: float = 2.0  # contrast-normalised Laplacian variance; in focus is 5-15 at 1 µm/px
    max_blurred_fraction: float = 0.25
    max_colour_mi: float = 0.4  # bits; H&E from other labs scores 0.1-0.3 against the reference
    max_pen_fraction: float = 0.02
    max_fold_fraction: float = 0.05  # of the tissue area
    max_bubble_fraction: float = 0.05  # of the tissue area
    min_tissue_fraction: float = 0.01
    glass_brightness: tuple[float, float] = (180.0, 255.0)  # below: under-exposed
    tissue_brightness: tuple[float, float] = (60.0, 225.0)  # above: washed out (over-exposed)
    blur_tile_um: float = 256.0  # tiles of 256 µm read at about 1 µm per pixel (10x)
    blur_tiles: int = 64


@dataclass
class QcReport:
    checks: dict[str, dict[str, object]] = field(default_factory=dict)
    thumbnail: np.ndarray | None = None
    masks: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(bool(check["passed"]) for check in self.checks.values())

    def as_json(self) -> dict[str, object]:
        return {"passed": self.passed, "checks": self.checks}


def _sample_evenly(tiles: list[Tile], count: int) -> list[Tile]:
    """Tiles spread over the whole tissue (raster order, fixed stride): reproducible and
    without the clumps of a random draw, so the blur map has no large unsampled holes."""
    if len(tiles) <= count:
        return tiles
    return [tiles[round(i * (len(tiles) - 1) / (count - 1))] for i in range(count)]


def _blur_tiles(
    reader: SlideReader, tissue_mask: np.ndarray, downsample: float, t: QcThresholds
) -> tuple[list[Tile], list[float]]:
    info = reader.info
    mpp = info.mpp_x or ASSUMED_MPP
    tile_px = max(64, round(t.blur_tile_um / mpp))  # level-0 pixels
    tiles = tile_grid(tissue_mask, downsample, info.dimensions, tile_px, min_fraction=0.8)
    tiles = _sample_evenly(tiles, t.blur_tiles)
    read_downsample = max(1.0, 1.0 / mpp)  # about 1 µm per pixel
    level = info.best_level_for_downsample(read_downsample)
    level_downsample = info.level_downsamples[level]
    values = []
    for tile in tiles:
        size = max(16, round(tile_px / level_downsample))
        region = reader.read_region((tile.x, tile.y), level, (size, size))
        target = max(16, round(tile_px / read_downsample))
        if target != size:
            region = np.asarray(Image.fromarray(region).resize((target, target), Image.Resampling.BOX))
        values.append(sharpness(region))
    return tiles, values


def run_qc(
    reader: SlideReader,
    reference_rgb: np.ndarray,
    thresholds: QcThresholds = QcThresholds(),
    progress: Progress | None = None,
) -> QcReport:
    def step(name: str) -> None:
        if progress:
            progress(name)

    t = thresholds
    step("tissue")
    tissue = detect_tissue(reader)
    thumbnail, mask = tissue.thumbnail, tissue.mask
    thumb_mpp = tissue.downsample * (reader.info.mpp_x or ASSUMED_MPP)
    thumb_hsv = tissue.thumbnail_hsv
    tissue_px = max(int(mask.sum()), 1)
    report = QcReport(thumbnail=thumbnail, masks={"tissue_coverage": mask})
    report.checks["tissue_coverage"] = {
        "score": round(tissue.fraction, 4),
        "passed": tissue.fraction >= t.min_tissue_fraction,
    }

    step("blur")
    tiles, values = _blur_tiles(reader, mask, tissue.downsample, t)
    fraction = blurred_fraction(values, t.blur_sharpness)
    sharpness_map = blur_map(mask, tissue.downsample, tiles, values)
    report.masks["blur"] = mask & (sharpness_map < t.blur_sharpness)
    report.checks["blur"] = {
        "score": round(fraction, 4),
        "passed": fraction <= t.max_blurred_fraction,
        "tiles": len(values),
        "median_sharpness": round(float(np.median(values)), 4) if values else None,
    }

    step("colour")
    hist = colour_histogram(thumbnail, mask)
    reference = colour_histogram(reference_rgb, _reference_tissue(reference_rgb))
    mi = mutual_information(hist, reference)
    report.masks["colour"] = mask & unusual_colours(thumbnail, hist, reference)
    report.checks["colour"] = {
        "score": round(mi, 4),
        "passed": mi <= t.max_colour_mi,
        "conditional_entropy": round(conditional_entropy(hist, reference), 4),
    }

    step("pen")
    pen_mask = pen_ink_hsv(thumb_hsv)
    pen = float(pen_mask.mean())
    report.masks["pen"] = pen_mask
    report.checks["pen"] = {"score": round(pen, 4), "passed": pen <= t.max_pen_fraction}

    for name, limit, find in (
        ("folds", t.max_fold_fraction, lambda: fold_mask(thumbnail, mask, thumb_mpp)),
        ("bubbles", t.max_bubble_fraction, lambda: bubble_mask(thumb_hsv, thumb_mpp)),
    ):
        step(name)
        flagged = find()
        share = float((flagged & mask).sum()) / tissue_px  # of the tissue area
        report.masks[name] = flagged
        report.checks[name] = {"score": round(share, 4), "passed": share <= limit}

    step("exposure")
    stats = exposure_stats(thumbnail, mask)
    low, high = t.glass_brightness
    report.masks["exposure"] = exposure_mask(thumbnail, mask)
    report.checks["exposure"] = {
        "score": round(stats["glass_brightness"], 2),
        "passed": low <= stats["glass_brightness"] <= high
        and t.tissue_brightness[0] <= stats["tissue_brightness"] <= t.tissue_brightness[1],
        **{k: round(v, 4) for k, v in stats.items()},
    }
    return report


def _reference_tissue(rgb: np.ndarray) -> np.ndarray:
    mask = tissue_mask(rgb)
    return mask if mask.any() else np.ones(rgb.shape[:2], bool)

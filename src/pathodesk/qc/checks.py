"""The QC checks (SPEC E2), one entry each: name, overlay colour, threshold and the function
that scores a slide. ``run_qc``, the overlays, the API and the CLI all read this table, so a
new check is one function and one entry here (HistoQC keeps one module per check; the
pixel work lives in ``blur``, ``colour``, ``folds``, ``bubbles``, ``exposure``).

Each function gets the slide's tissue (mask and thumbnail at ≈8 µm/px) and returns a score,
pass/fail against its threshold, the thumbnail-sized mask of where it flags the slide, and
any extra figures for the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from pathodesk.qc.blur import blur_map, blurred_fraction, high_frequency_share, sharpness
from pathodesk.qc.bubbles import bubble_mask
from pathodesk.qc.colour import colour_histogram, conditional_entropy, mutual_information, unusual_colours
from pathodesk.qc.exposure import exposure_mask, exposure_stats
from pathodesk.qc.folds import fold_mask
from pathodesk.slides.base import SlideReader
from pathodesk.tissue import SlideTissue, Tile, tile_grid
from pathodesk.tissue.mask import pen_ink_hsv
from pathodesk.tissue.slide import ASSUMED_MPP


@dataclass(frozen=True)
class QcInput:
    reader: SlideReader
    tissue: SlideTissue
    # the standard image's colours for this slide's stain (qc.colour_reference); None: none set
    reference_histogram: np.ndarray | None

    @property
    def thumb_mpp(self) -> float:
        return self.tissue.downsample * (self.reader.info.mpp_x or ASSUMED_MPP)

    def share_of_tissue(self, flagged: np.ndarray) -> float:
        return float((flagged & self.tissue.mask).sum()) / max(int(self.tissue.mask.sum()), 1)


@dataclass(frozen=True)
class CheckResult:
    score: float | None  # None: not measurable on this slide (e.g. no glass in view)
    passed: bool
    mask: np.ndarray  # thumbnail pixels, True where the check flags the slide
    details: dict[str, Any] = field(default_factory=dict)
    applies: bool = True  # False: the check has nothing to measure against on this slide


@dataclass(frozen=True)
class QcCheck:
    name: str
    colour: tuple[int, int, int]  # of its overlay
    threshold: Any  # in the check's own unit (see each entry)
    run: Callable[[QcInput, Any], CheckResult]
    at_least: bool = False  # a plain number threshold is the score's lowest passing value
    bright_field_only: bool = False  # judges stain, ink or glass: meaningless on fluorescence

    @property
    def hex_colour(self) -> str:
        return "#{:02x}{:02x}{:02x}".format(*self.colour)

    @property
    def score_range(self) -> tuple[float | None, float | None]:
        """The scores that pass (None: unbounded), to show each score against its limit."""
        limit = self.threshold
        if isinstance(limit, BlurLimits):
            return (None, limit.max_blurred_fraction)
        if isinstance(limit, ExposureLimits):
            return limit.glass_brightness
        return (float(limit), None) if self.at_least else (None, float(limit))


def _tissue_coverage(qc: QcInput, min_fraction: float) -> CheckResult:
    fraction = qc.tissue.fraction
    return CheckResult(round(fraction, 4), fraction >= min_fraction, qc.tissue.mask)


@dataclass(frozen=True)
class BlurLimits:
    sharpness: float = 2.0  # contrast-normalised Laplacian variance; in focus is 5-15 at 1 µm/px
    max_blurred_fraction: float = 0.25
    tile_um: float = 256.0  # tiles of 256 µm read at about 1 µm per pixel (10x)
    tiles: int = 64


def _sample_evenly(tiles: list[Tile], count: int) -> list[Tile]:
    """Tiles spread over the whole tissue (raster order, fixed stride): reproducible and
    without the clumps of a random draw, so the blur map has no large unsampled holes."""
    if len(tiles) <= count:
        return tiles
    return [tiles[round(i * (len(tiles) - 1) / (count - 1))] for i in range(count)]


def _blur(qc: QcInput, limits: BlurLimits) -> CheckResult:
    reader, tissue = qc.reader, qc.tissue
    mpp = reader.info.mpp_x or ASSUMED_MPP
    # level-0 pixels; on a crop under 512 µm across, tiles of half its side
    tile_px = max(64, round(min(limits.tile_um / mpp, min(reader.info.dimensions) / 2)))
    tiles = tile_grid(tissue.mask, tissue.downsample, reader.info.dimensions, tile_px, min_fraction=0.8)
    tiles = _sample_evenly(tiles, limits.tiles)
    read_downsample = max(1.0, 1.0 / mpp)  # about 1 µm per pixel
    level = reader.info.best_level_for_downsample(read_downsample)
    level_downsample = reader.info.level_downsamples[level]
    values, frequencies = [], []
    for tile in tiles:
        size = max(16, round(tile_px / level_downsample))
        region = reader.read_region((tile.x, tile.y), level, (size, size))
        target = max(16, round(tile_px / read_downsample))
        if target != size:
            region = np.asarray(Image.fromarray(region).resize((target, target), Image.Resampling.BOX))
        values.append(sharpness(region))
        frequencies.append(high_frequency_share(region))
    if not values:  # no tile mostly tissue: focus not measured
        return CheckResult(None, True, np.zeros_like(tissue.mask), {"tiles": 0})
    fraction = blurred_fraction(values, limits.sharpness)
    sharpness_map = blur_map(tissue.mask, tissue.downsample, tiles, values)
    return CheckResult(
        round(fraction, 4),
        fraction <= limits.max_blurred_fraction,
        tissue.mask & (sharpness_map < limits.sharpness),
        {
            "tiles": len(values),
            "median_sharpness": round(float(np.median(values)), 4),
            "median_high_frequency_share": round(float(np.median(frequencies)), 5),
        },
    )


def _colour(qc: QcInput, max_mutual_information: float) -> CheckResult:
    thumbnail, mask = qc.tissue.thumbnail, qc.tissue.mask
    if not mask.any():  # no stain to compare: the coverage check reports the empty slide
        return CheckResult(None, True, mask)
    reference = qc.reference_histogram
    if reference is None:  # an IHC slide before the lab chose an IHC reference
        return CheckResult(None, True, np.zeros_like(mask), {"reason": "no_reference"}, applies=False)
    hist = colour_histogram(thumbnail, mask)
    mi = mutual_information(hist, reference)
    return CheckResult(
        round(mi, 4),
        mi <= max_mutual_information,
        mask & unusual_colours(thumbnail, hist, reference),
        {"conditional_entropy": round(conditional_entropy(hist, reference), 4)},
    )


def _pen(qc: QcInput, max_fraction: float) -> CheckResult:
    pen_mask = pen_ink_hsv(qc.tissue.thumbnail_hsv)
    share = float(pen_mask.mean())
    return CheckResult(round(share, 4), share <= max_fraction, pen_mask)


def _share_check(find: Callable[[QcInput], np.ndarray]) -> Callable[[QcInput, float], CheckResult]:
    """A check whose score is the share of the tissue area it flags."""

    def run(qc: QcInput, max_share: float) -> CheckResult:
        flagged = find(qc)
        share = qc.share_of_tissue(flagged)
        return CheckResult(round(share, 4), share <= max_share, flagged)

    return run


@dataclass(frozen=True)
class ExposureLimits:
    glass_brightness: tuple[float, float] = (180.0, 255.0)  # below: under-exposed
    tissue_brightness: tuple[float, float] = (60.0, 225.0)  # above: washed out (over-exposed)


def _exposure(qc: QcInput, limits: ExposureLimits) -> CheckResult:
    thumbnail, mask = qc.tissue.thumbnail, qc.tissue.mask
    stats = exposure_stats(thumbnail, mask)
    glass, tissue = stats.glass_brightness, stats.tissue_brightness
    glass_ok = glass is None or limits.glass_brightness[0] <= glass <= limits.glass_brightness[1]
    tissue_ok = tissue is None or limits.tissue_brightness[0] <= tissue <= limits.tissue_brightness[1]
    return CheckResult(
        None if glass is None else round(glass, 2),
        glass_ok and tissue_ok,
        exposure_mask(thumbnail, mask),
        {k: None if v is None else round(v, 4) for k, v in stats._asdict().items()},
    )


CHECKS: dict[str, QcCheck] = {
    check.name: check
    for check in (
        QcCheck("tissue_coverage", (0, 170, 80), 0.01, _tissue_coverage, at_least=True),  # of the slide
        QcCheck("blur", (230, 40, 30), BlurLimits(), _blur),
        # bits, against the lab's own standard slide (qc.colour_reference says why). Within
        # one lab (ThyHisTer, 6 slides, the only series here), slides of one staining batch
        # score 0.20-0.45 against each other, its paler batch 0.62-0.78 and 5-20 % channel
        # casts 0.64 and up; no second lab's series confirms the limit
        QcCheck("colour", (255, 150, 0), 0.5, _colour, bright_field_only=True),
        QcCheck("pen", (30, 90, 255), 0.02, _pen, bright_field_only=True),  # most share of the slide
        QcCheck(  # most share of the tissue area
            "folds",
            (150, 0, 200),
            0.05,
            _share_check(lambda qc: fold_mask(qc.tissue.thumbnail, qc.tissue.mask, qc.thumb_mpp)),
            bright_field_only=True,
        ),
        QcCheck(  # most share of the tissue area
            "bubbles",
            (0, 190, 220),
            0.05,
            _share_check(lambda qc: bubble_mask(qc.tissue.thumbnail_hsv, qc.thumb_mpp)),
            bright_field_only=True,
        ),
        QcCheck("exposure", (240, 220, 0), ExposureLimits(), _exposure, bright_field_only=True),
    )
}

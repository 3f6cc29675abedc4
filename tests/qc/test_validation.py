"""QC checks against known defects injected into real tissue (issue 5, item 5).

Clean tiles come from the CMU slide (fetched from PyPI) and, when ../shared/data is there,
the MoNuSeg H&E tiles; each defect is injected into copies, and the check's score must rank
defective above clean (AUC). Targets: AUC >= 0.95 for blur with sigma >= 2 and for casts.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import pytest
from PIL import Image

from pathodesk.qc.blur import sharpness
from pathodesk.qc.bubbles import bubble_mask
from pathodesk.qc.colour import colour_histogram, mutual_information
from pathodesk.qc.folds import fold_mask
from pathodesk.sampledata import fetch_he_reference
from pathodesk.slides import open_slide
from pathodesk.tissue import detect_tissue, pen_ink, tile_grid, tissue_mask
from pathodesk.tissue.mask import hsv
from tests.support.paths import SAMPLE_DIR, SHARED_DATA


def auc(positive: list[float], negative: list[float]) -> float:
    """Probability that a defective tile scores above a clean one (Mann-Whitney)."""
    pos, neg = np.asarray(positive)[:, None], np.asarray(negative)[None, :]
    return float(((pos > neg).sum() + 0.5 * (pos == neg).sum()) / (pos.size * neg.size))


@pytest.fixture(scope="module")
def clean_tiles(samples: dict[str, Path]) -> list[np.ndarray]:
    """Real H&E at about 1 µm per pixel."""
    reader = open_slide(samples["svs"])  # 0.499 µm/px
    found = detect_tissue(reader)
    tiles = tile_grid(found.mask, found.downsample, reader.info.dimensions, 384, min_fraction=0.3)
    images = [
        np.asarray(Image.fromarray(reader.read_region((t.x, t.y), 0, (384, 384))).reduce(2)) for t in tiles
    ]
    monuseg = SHARED_DATA / "monuseg-nuclei-xml" / "images"
    for path in sorted(monuseg.glob("*.png")) if monuseg.is_dir() else []:  # 0.25 µm/px
        pixels = np.asarray(Image.open(path).convert("RGB").reduce(4))
        images += [pixels[:192, :192], pixels[-192:, -192:]]
    assert len(images) >= 12
    return images


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigma)


def cast(image: np.ndarray, kind: str) -> np.ndarray:
    scale = {"yellow": (1.05, 1.0, 0.8), "blue": (0.85, 0.95, 1.15), "green": (0.9, 1.12, 0.9)}[kind]
    return np.clip(image.astype(np.float32) * np.array(scale), 0, 255).astype(np.uint8)


def pen_stroke(image: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    inked = image.copy()
    h, w = inked.shape[:2]
    cv2.line(inked, (0, h // 3), (w - 1, 2 * h // 3), colour, max(4, w // 12))
    return inked


def test_auc_table(clean_tiles: list[np.ndarray]) -> None:
    rows: dict[str, float] = {}
    clean_blur = [-sharpness(t) for t in clean_tiles]  # higher = blurrier
    for sigma in (1, 2, 4):
        rows[f"blur sigma={sigma}"] = auc([-sharpness(blur(t, sigma)) for t in clean_tiles], clean_blur)
    jpeg = []
    for tile in clean_tiles:
        _, data = cv2.imencode(".jpg", tile, [cv2.IMWRITE_JPEG_QUALITY, 5])
        jpeg.append(-sharpness(cv2.imdecode(data, cv2.IMREAD_UNCHANGED)))
    rows["JPEG q=5 (blur check)"] = auc(jpeg, clean_blur)

    reference_rgb = np.asarray(Image.open(fetch_he_reference(SAMPLE_DIR)).convert("RGB"))  # as `pathodesk qc`
    reference = colour_histogram(reference_rgb, tissue_mask(reference_rgb))
    others = clean_tiles

    def colour_score(image: np.ndarray, mask_from: np.ndarray) -> float:
        return mutual_information(colour_histogram(image, tissue_mask(mask_from)), reference)

    clean_colour = [colour_score(t, t) for t in others]
    for kind in ("yellow", "blue", "green"):
        rows[f"colour cast {kind}"] = auc([colour_score(cast(t, kind), t) for t in others], clean_colour)

    def pen_score(image: np.ndarray) -> float:
        """As the check runs: on the thumbnail (here 4 µm/px), where nuclei no longer resolve."""
        return float(pen_ink(np.asarray(Image.fromarray(image).reduce(4))).mean())

    clean_pen = [pen_score(t) for t in clean_tiles]
    for name, colour in (("green", (20, 150, 60)), ("blue", (30, 50, 210)), ("red", (220, 20, 30))):
        rows[f"pen {name}"] = auc([pen_score(pen_stroke(t, colour)) for t in clean_tiles], clean_pen)

    for delta in (-40, 40):  # brightness shifts change the colour histogram: the colour check
        shifted = [np.clip(t.astype(int) + delta, 0, 255).astype(np.uint8) for t in others]
        rows[f"brightness {delta:+d} (colour)"] = auc(
            [colour_score(s, t) for s, t in zip(shifted, others, strict=True)], clean_colour
        )

    print(f"\nQC detection AUC on {len(clean_tiles)} real tiles:")
    for name, value in rows.items():
        print(f"  {name:28s} {value:.3f}")
    assert rows["blur sigma=2"] >= 0.95 and rows["blur sigma=4"] >= 0.95
    assert all(rows[f"colour cast {k}"] >= 0.95 for k in ("yellow", "blue", "green"))
    assert all(rows[f"pen {k}"] >= 0.95 for k in ("green", "blue", "red"))


LOW_POWER_MPP = 4.0  # folds and bubbles are looked for on the thumbnail, not at cell level


CROP = 128  # px at 4 µm/px: 0.5 mm


class LowPowerCrop(NamedTuple):
    pixels: np.ndarray
    weight: float  # crops every ``step`` px overlap: (step / CROP)² of each is its own


@pytest.fixture(scope="module")
def low_power_crops(samples: dict[str, Path]) -> list[LowPowerCrop]:
    """Real tissue at about 4 µm per pixel, 128 px (0.5 mm) crops that are mostly tissue: the
    CMU slide always (crops every 32 px: it is small, about 1 mm² of tissue at this scale),
    and the TCGA frozen section and prostate slide from ../shared/data (every 64 px)."""
    sources = [(samples["svs"], 8, 32)]  # 0.5 µm/px slide
    wsi = SHARED_DATA / "wsi-samples"
    sources += [
        (wsi / name, reduce, 64)
        for name, reduce in (("TCGA-CR-7395-01A-01-TS1.svs", 2), ("TCGA-XK-AAJU-01A-01-TS1_small_wsi.dcm", 4))
        if (wsi / name).is_file()
    ]
    crops = []
    for path, reduce, step in sources:
        reader = open_slide(path)
        image = np.asarray(
            Image.fromarray(reader.read_region((0, 0), 0, reader.info.dimensions)).reduce(reduce)
        )
        for y in range(0, image.shape[0] - CROP + 1, step):
            for x in range(0, image.shape[1] - CROP + 1, step):
                crop = image[y : y + CROP, x : x + CROP]
                if tissue_mask(crop, LOW_POWER_MPP).mean() > 0.6:
                    crops.append(LowPowerCrop(crop, (step / CROP) ** 2))
    assert len(crops) >= 8
    return crops


def fold(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A band where the section lies over itself: by Beer-Lambert the transmitted light is the
    product of the two layers (the tissue next to the band, folded over)."""
    h, w = image.shape[:2]
    width, angle = rng.uniform(12, 20), rng.uniform(0, np.pi)
    yy, xx = np.mgrid[:h, :w]
    band = (
        np.abs((xx - w / 2) * np.cos(angle) + (yy - h / 2) * np.sin(angle) + rng.uniform(-20, 20)) < width / 2
    )
    other_layer = np.roll(image, (round(width * np.sin(angle)), round(width * np.cos(angle))), axis=(0, 1))
    out = image.astype(np.float32)
    out[band] = out[band] * other_layer[band] / 255.0
    return out.astype(np.uint8)


def bubble(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Air under the coverslip: a hazy disc (tissue out of the mounting medium's plane) inside
    a dark grey refraction rim."""
    h, w = image.shape[:2]
    radius = int(rng.uniform(15, 35))
    centre = (int(rng.uniform(radius, w - radius)), int(rng.uniform(radius, h - radius)))
    disc = np.zeros((h, w), np.uint8)
    cv2.circle(disc, centre, radius, 1, -1)
    hazy = cv2.GaussianBlur(image, (0, 0), 1.5).astype(np.float32) * 0.65 + 255 * 0.35
    out = np.where(disc[..., None] > 0, hazy, image.astype(np.float32))
    rim = np.zeros((h, w), np.uint8)
    cv2.circle(rim, centre, radius, 1, 2)
    out[rim > 0] = out[rim > 0] * 0.2 + 70 * 0.8
    return out.astype(np.uint8)


def test_fold_and_bubble_auc(low_power_crops: list[LowPowerCrop]) -> None:
    """Simulated defects (no labelled real folds or bubbles are available to us): AUC of the
    flagged share of a crop, defective against clean."""

    def fold_score(image: np.ndarray) -> float:
        return float(fold_mask(image, tissue_mask(image, LOW_POWER_MPP), LOW_POWER_MPP).mean())

    def bubble_score(image: np.ndarray) -> float:
        return float(bubble_mask(hsv(image), LOW_POWER_MPP).mean())

    rng = np.random.default_rng(0)
    images = [crop.pixels for crop in low_power_crops]
    rows = {
        "folds": auc([fold_score(fold(c, rng)) for c in images], [fold_score(c) for c in images]),
        "bubbles": auc([bubble_score(bubble(c, rng)) for c in images], [bubble_score(c) for c in images]),
    }
    # Overlapping crops share their tissue, so one flagged structure counts in several (CMU-1's
    # dark epithelial rim is in 4 of its 10 crops): the false-flag interval counts each crop by
    # its independent share. Without ../shared/data the CMU slide gives about one crop's worth
    # and the interval is wide; the bound is asserted on its low end, so that cannot fail or pass
    # by chance alone; with the shared slides (over 600 crops) the interval is tight.
    independent = sum(crop.weight for crop in low_power_crops)
    flags = {
        "folds": sum(crop.weight for crop in low_power_crops if fold_score(crop.pixels) > 0),
        "bubbles": sum(crop.weight for crop in low_power_crops if bubble_score(crop.pixels) > 0),
    }
    low = {name: wilson_interval(k, independent)[0] for name, k in flags.items()}
    print(f"\nfold / bubble detection AUC on {len(images)} real 0.5 mm crops at 4 µm/px")
    print(f"  ({independent:.1f} crops' worth of independent tissue)")
    for name, value in rows.items():
        lo, hi = wilson_interval(flags[name], independent)
        share = flags[name] / independent
        print(f"  {name:8s} AUC {value:.3f}; clean crops with any flag {share:.3f} (95% {lo:.3f}-{hi:.3f})")
    assert rows["bubbles"] >= 0.95 and low["bubbles"] <= 0.05
    assert rows["folds"] >= 0.9 and low["folds"] <= 0.1


def wilson_interval(successes: float, n: float, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion (sound for small n and for 0 or n; counts may
    be fractional: effective counts of overlapping samples)."""
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)

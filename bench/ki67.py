"""Ki-67 index of nuclear IHC images: ours (``pathodesk.stain.ihc``) against two baselines.

- Truth: DeepLIIF's six Ki-67 IHC images with every nucleus labelled positive or negative
  (``deepliif-ki67-ihc-mpif``; 6 images). The parameters were chosen by the two six-panel
  ones, Bladder1 and Lung1, and the scanner pair; the four ``ihc_tiles`` are reported apart,
  but the parameter sweeps printed them too, so they are not a clean held-out test.
- Scanners: the same Ki-67 region scanned by a Hamamatsu (.ndpi, 0.227 µm/px) and an Olympus
  (.vsi, 0.346 µm/px) slide scanner (``openslide-os-crops-ometiff``). A pathologist's index
  must not depend on the scanner; the difference between the two is the error measured.
- Baselines, in the same run on the same images: the textbook pipeline (scikit-image's
  ``rgb2hed``, one Otsu threshold on the stains' density, watershed, mean DAB ≥ 0.2), and
  QuPath's positive-cell detection as recorded by its author on the two scanner crops (four
  threshold settings; QuPath cannot run here).

The last line: mean absolute index error on the four tiles not used to choose, baseline / ours.

    .venv/bin/python bench/ki67.py
"""

from __future__ import annotations

import csv
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import result_line
from pathodesk.stain.ihc import score_nuclei

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("PATHODESK_SHARED_DATA_DIR", ROOT.parent / "shared" / "data"))
DEEPLIIF = SHARED_DATA / "deepliif-ki67-ihc-mpif"
SCANNERS = SHARED_DATA / "openslide-os-crops-ometiff"
DEEPLIIF_MPP = 0.25  # 40× (nuclei of 6–10 µm span 25–40 px)
TUNING = ("six_panel/Bladder1.png", "six_panel/Lung1.png")


def textbook_index(rgb: np.ndarray, mpp: float) -> float:
    """The index as a first script would compute it: one global threshold for every nucleus."""
    from scipy import ndimage
    from skimage.color import rgb2hed
    from skimage.filters import threshold_otsu
    from skimage.measure import regionprops
    from skimage.morphology import remove_small_objects
    from skimage.segmentation import watershed

    stains = rgb2hed(rgb)
    hematoxylin, dab = np.clip(stains[..., 0], 0, None), np.clip(stains[..., 2], 0, None)
    density = ndimage.gaussian_filter(hematoxylin + dab, 0.5 / mpp)
    mask = density > threshold_otsu(density)
    mask = remove_small_objects(ndimage.binary_fill_holes(mask), max_size=int(10 / mpp**2))
    distance = ndimage.distance_transform_edt(mask)
    peaks = (distance == ndimage.maximum_filter(distance, size=int(5 / mpp))) & mask
    labels = watershed(-distance, ndimage.label(peaks)[0], mask=mask)
    # rgb2hed divides ln(I) by ln(1e-6): back to base-10 optical density
    to_od = -np.log(1e-6) / np.log(10)
    nuclei = [region.intensity_mean * to_od for region in regionprops(labels, intensity_image=dab)]
    return 100.0 * float(np.mean(np.asarray(nuclei) >= 0.2)) if nuclei else 0.0


def deepliif_images() -> list[tuple[str, np.ndarray, float]]:
    rows = []
    with (DEEPLIIF / "ki67_counts.csv").open() as handle:
        for row in csv.DictReader(handle):
            with Image.open(DEEPLIIF / row["file"]) as image:
                rgb = np.asarray(image.convert("RGB"))[:, :512]  # six-panel: the IHC panel
            rows.append((row["file"], rgb, float(row["percent_pos"])))
    return rows


def qupath_indices(name: str) -> dict[tuple[str, str], float]:
    with (SCANNERS / f"{name}_ki67_qupath_results.tsv").open() as handle:
        return {
            (row["Detection threshold"], row["DAB threshold"]): float(row["Positive %"])
            for row in csv.DictReader(handle, delimiter="\t")
        }


def main() -> None:
    if not DEEPLIIF.is_dir() or not SCANNERS.is_dir():
        sys.exit(f"needs {DEEPLIIF} and {SCANNERS} (PATHODESK_SHARED_DATA_DIR)")
    import tifffile

    print(f"{'image':26s} {'truth %':>8s} {'ours %':>8s} {'textbook %':>11s}  nuclei  split")
    ours_errors, textbook_errors = [], []
    for name, rgb, truth in deepliif_images():
        score = score_nuclei(rgb, DEEPLIIF_MPP)
        ours, textbook = score.index or 0.0, textbook_index(rgb, DEEPLIIF_MPP)
        split = "tuning" if name in TUNING else "other"
        print(f"{name:26s} {truth:8.1f} {ours:8.1f} {textbook:11.1f}  {score.total:6d}  {split}")
        if name not in TUNING:
            ours_errors.append(abs(ours - truth))
            textbook_errors.append(abs(textbook - truth))
    print(
        f"mean absolute error on the others (index points, {len(ours_errors)} images): "
        f"ours {statistics.mean(ours_errors):.1f}, textbook {statistics.mean(textbook_errors):.1f}"
    )

    print("\nsame Ki-67 region, two scanners")
    indices: dict[str, dict[str, float]] = {}
    for name, mpp in (("OS-2-ndpi", 0.2271), ("OS-2-vsi", 0.3461)):
        rgb = tifffile.imread(SCANNERS / f"{name}.ome.tif")
        started = time.perf_counter()
        score = score_nuclei(rgb, mpp)
        seconds = time.perf_counter() - started
        indices[name] = {"ours": score.index or 0.0, "textbook": textbook_index(rgb, mpp)}
        for setting, value in qupath_indices(name).items():
            indices[name][f"QuPath nucleus {setting[0]} DAB {setting[1]}"] = value
        megapixels = rgb.shape[0] * rgb.shape[1] / 1e6
        print(f"{name}: {score.total} nuclei, ours {seconds:.1f} s ({megapixels / seconds:.2f} Mpx/s)")
    print(f"{'method':34s} {'ndpi %':>7s} {'vsi %':>7s} {'difference':>11s}")
    for method in indices["OS-2-ndpi"]:
        ndpi, vsi = indices["OS-2-ndpi"][method], indices["OS-2-vsi"][method]
        print(f"{method:34s} {ndpi:7.1f} {vsi:7.1f} {abs(ndpi - vsi):11.1f}")
    qupath_gaps = [
        abs(indices["OS-2-ndpi"][method] - indices["OS-2-vsi"][method])
        for method in indices["OS-2-ndpi"]
        if method.startswith("QuPath")
    ]
    print(
        result_line(
            "ki67",
            statistics.mean(ours_errors),
            statistics.mean(textbook_errors),
            "mean absolute Ki-67 index error on the images not used to choose (percentage points)",
            "scikit-image rgb2hed + Otsu + watershed",
            lower_is_better=True,
            reported_images=len(ours_errors),
            scanner_difference_ours=round(abs(indices["OS-2-ndpi"]["ours"] - indices["OS-2-vsi"]["ours"]), 2),
            scanner_difference_qupath_median=round(statistics.median(qupath_gaps), 2),
        )
    )


if __name__ == "__main__":
    main()

"""Registration of serial sections in different stains against elastix (SPEC D2; issue 15, item 3).

Every pair of ``anhir-cima-landmarks/pairs.csv`` (5 %-scale CIMA/ANHIR images with manual
landmarks), ANHIR's measure: rTRE = TRE / diagonal of the target image, over the first
min(n) landmarks; the moving (source) landmarks are carried into the target frame. In the
same run, per pair:

- ours: ``pathodesk.registration.register`` (three levels, defaults);
- elastix (itk-elastix, affine then B-spline, its default parameter maps) on the same
  stain-independent grey images, registered the other way round (fixed = source) so its
  transform carries source points straight into the target frame, as transformix needs;
- the landmark-affine floor: the least-squares affine from the landmarks themselves — the
  best any affine method could do.

Then robustness: each pair again with the moving image turned 90° and 180°, mirrored, and
with 20 % of its width cut away (a missing piece of tissue). The last line is the API.md
result line: ratio = elastix's median rTRE / ours (medians over the pairs).

    .venv/bin/python bench/register.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import result_line
from pathodesk.registration import RegistrationFailed, register, relative_tre
from pathodesk.registration.channels import registration_grey
from pathodesk.registration.landmarks import read_pairs

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("PATHODESK_SHARED_DATA_DIR", ROOT.parent / "shared" / "data"))
PAIRS = SHARED_DATA / "anhir-cima-landmarks"

Variant = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def turned_90(image: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    height = image.shape[0]
    return cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE), np.column_stack(
        [height - 1 - points[:, 1], points[:, 0]]
    )


def turned_180(image: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    height, width = image.shape[:2]
    return cv2.rotate(image, cv2.ROTATE_180), np.column_stack(
        [width - 1 - points[:, 0], height - 1 - points[:, 1]]
    )


def mirrored(image: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    width = image.shape[1]
    return np.ascontiguousarray(image[:, ::-1]), np.column_stack([width - 1 - points[:, 0], points[:, 1]])


def cropped(image: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """20 % of the width cut away on the left; landmarks there become NaN (not scored)."""
    cut = int(0.2 * image.shape[1])
    moved = points - (cut, 0)
    moved[moved[:, 0] < 0] = np.nan
    return np.ascontiguousarray(image[:, cut:]), moved


VARIANTS: dict[str, Variant] = {
    "turned 90°": turned_90,
    "turned 180°": turned_180,
    "mirrored": mirrored,
    "20 % cut away": cropped,
}


def scored(warped: np.ndarray, target: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    keep = ~np.isnan(warped).any(axis=1)
    return relative_tre(warped[keep], target[keep], shape)


def elastix_points(fixed: np.ndarray, moving: np.ndarray, moving_points: np.ndarray) -> np.ndarray:
    """Moving points carried into the fixed frame by elastix (affine + B-spline, defaults)."""
    import itk

    grey = [
        itk.image_view_from_array(np.ascontiguousarray(registration_grey(image)[0]))
        for image in (moving, fixed)
    ]
    maps = itk.ParameterObject.New()
    maps.AddParameterMap(maps.GetDefaultParameterMap("affine"))
    maps.AddParameterMap(maps.GetDefaultParameterMap("bspline"))
    # elastix's fixed image is our moving one: its transform maps moving px → fixed px
    _, parameters = itk.elastix_registration_method(
        grey[0], grey[1], parameter_object=maps, log_to_console=False
    )
    with tempfile.TemporaryDirectory() as folder:
        listing = Path(folder) / "points.txt"
        listing.write_text(f"point\n{len(moving_points)}\n" + "\n".join(f"{x} {y}" for x, y in moving_points))
        transformix = itk.TransformixFilter.New(Input=grey[0], TransformParameterObject=parameters)
        transformix.SetFixedPointSetFileName(str(listing))
        transformix.SetOutputDirectory(folder)
        transformix.Update()
        lines = (Path(folder) / "outputpoints.txt").read_text().splitlines()
    return np.array(
        [[float(v) for v in line.split("OutputPoint = [")[1].split("]")[0].split()] for line in lines]
    )


def landmark_floor(moving_points: np.ndarray, fixed_points: np.ndarray) -> np.ndarray:
    design = np.hstack([moving_points, np.ones((len(moving_points), 1))])
    solution, *_ = np.linalg.lstsq(design, fixed_points, rcond=None)
    return design @ solution


def main() -> None:
    if not PAIRS.is_dir():
        sys.exit(f"needs {PAIRS} (PATHODESK_SHARED_DATA_DIR)")
    rows = read_pairs(PAIRS)
    print(
        "| pair (target ← source) | landmarks | before | ours median | ours max | elastix median"
        " | elastix max | affine floor | ours s | elastix s | our error estimate px |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    ours_medians, elastix_medians, floors, ours_seconds = [], [], [], []
    robustness: list[str] = []
    for pair in rows:
        fixed, moving = rgb(pair.target_image), rgb(pair.source_image)
        fixed_points, moving_points = pair.target_points, pair.source_points
        count, name = len(fixed_points), pair.name
        shape = fixed.shape[:2]
        started = time.perf_counter()
        ours = register(fixed, moving)
        ours_time = time.perf_counter() - started
        ours_tre = scored(ours.transform.moving_to_fixed(moving_points), fixed_points, shape)
        started = time.perf_counter()
        elastix_tre = scored(elastix_points(fixed, moving, moving_points), fixed_points, shape)
        elastix_time = time.perf_counter() - started
        floor = float(np.median(scored(landmark_floor(moving_points, fixed_points), fixed_points, shape)))
        before = float(np.median(scored(moving_points, fixed_points, shape)))
        print(
            f"| {name} | {count} | {before:.4f} | {np.median(ours_tre):.4f} | {ours_tre.max():.4f}"
            f" | {np.median(elastix_tre):.4f} | {elastix_tre.max():.4f} | {floor:.4f} | {ours_time:.2f}"
            f" | {elastix_time:.2f} | {ours.error_px:.2f} |",
            flush=True,
        )
        ours_medians.append(float(np.median(ours_tre)))
        elastix_medians.append(float(np.median(elastix_tre)))
        floors.append(floor)
        ours_seconds.append(ours_time)
        cells = []
        for variant in VARIANTS.values():
            changed, changed_points = variant(moving, moving_points)
            try:
                transform = register(fixed, changed).transform
            except RegistrationFailed as refused:
                cells.append(f"refused ({refused.values.get('score', '')})")
                continue
            warped = transform.moving_to_fixed(np.nan_to_num(changed_points, nan=-1e6))
            warped[np.isnan(changed_points).any(axis=1)] = np.nan
            cells.append(f"{np.median(scored(warped, fixed_points, shape)):.4f}")
        robustness.append(f"| {name} | {ours_medians[-1]:.4f} | " + " | ".join(cells) + " |")
    print("\nRobustness (median rTRE, ours):\n")
    print("| pair | as scanned | " + " | ".join(VARIANTS) + " |")
    print("|---|---|" + "---|" * len(VARIANTS))
    print("\n".join(robustness))
    below_both = sum(o < e and o < f for o, e, f in zip(ours_medians, elastix_medians, floors, strict=True))
    ours_median, elastix_median = statistics.median(ours_medians), statistics.median(elastix_medians)
    print(
        result_line(
            "register",
            ours_median,
            elastix_median,
            "median rTRE",
            "itk-elastix affine + B-spline, default parameter maps",
            lower_is_better=True,
            pairs=len(rows),
            pairs_below_elastix_and_floor=below_both,
            seconds_per_pair_max=round(max(ours_seconds), 2),
        )
    )


if __name__ == "__main__":
    main()

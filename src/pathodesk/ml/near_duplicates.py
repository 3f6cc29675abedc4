"""Group images that are copies of one source (issue 6, item 1): byte-identical files, and
rotated/flipped/re-cropped copies such as LC25000's (750 lung images augmented to 15,000).

Two images are near-duplicates when many ORB keypoints of one match the other under one
rotation + scale + shift (RANSAC): a geometric test that colour alone cannot pass. Only the
``candidates`` images nearest in a rotation-invariant colour histogram are tested, so the
cost grows linearly with the set. Groups are the connected components of these pairs.

    python -m pathodesk.ml.near_duplicates DATA_DIR --out groups.csv [--known exact_duplicates.csv]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image
from tqdm import tqdm

from pathodesk.ml.data import IMAGE_SUFFIXES

MIN_INLIERS = 20  # pairs of different sources reach 5-12; copies reach 50-400
CANDIDATES = 15
DESCRIPTOR_PX = 224


class UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


def _colour_signature(rgb: np.ndarray) -> np.ndarray:
    """Square-rooted Lab histogram of the central disc: unchanged by rotations and flips."""
    height, width = rgb.shape[:2]
    yy, xx = np.mgrid[:height, :width]
    disc = np.hypot(yy - (height - 1) / 2, xx - (width - 1) / 2) < 0.36 * min(height, width)
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)[disc]
    histogram, _ = np.histogramdd(lab, bins=(8, 8, 8), range=((0, 256),) * 3)
    return np.sqrt(histogram.ravel() / max(histogram.sum(), 1))


Features = tuple[Any, Any]  # OpenCV keypoints and their ORB descriptors


def _geometric_inliers(first: Features, second: Features, matcher: cv2.BFMatcher) -> int:
    (points_a, descriptors_a), (points_b, descriptors_b) = first, second
    if descriptors_a is None or descriptors_b is None or len(points_a) < 5 or len(points_b) < 5:
        return 0
    matches = matcher.match(descriptors_a, descriptors_b)
    if len(matches) < 5:
        return 0
    source = np.array([points_a[m.queryIdx].pt for m in matches], dtype=np.float32)
    target = np.array([points_b[m.trainIdx].pt for m in matches], dtype=np.float32)
    _, inliers = cv2.estimateAffinePartial2D(source, target, method=cv2.RANSAC, ransacReprojThreshold=4)
    return int(inliers.sum()) if inliers is not None else 0


def near_duplicate_groups(
    paths: list[Path], candidates: int = CANDIDATES, min_inliers: int = MIN_INLIERS, progress: bool = True
) -> list[int]:
    """A group number per path; copies of one source share it."""
    union = UnionFind(len(paths))
    first_with_hash: dict[str, int] = {}
    orb = cv2.ORB_create(nfeatures=500)  # type: ignore[attr-defined]
    keypoints, signatures = [], []
    for i, path in enumerate(tqdm(paths, desc="describing", disable=not progress)):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest in first_with_hash:
            union.union(i, first_with_hash[digest])
        first_with_hash.setdefault(digest, i)
        with Image.open(path) as opened:
            rgb = np.asarray(opened.convert("RGB").resize((DESCRIPTOR_PX, DESCRIPTOR_PX)))
        signatures.append(_colour_signature(rgb))
        keypoints.append(orb.detectAndCompute(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), None))
    matrix = np.stack(signatures)
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True)
    for i in tqdm(range(len(paths)), desc="matching", disable=not progress):
        distance = 1.0 - matrix @ matrix[i]
        distance[i] = np.inf
        for j in np.argsort(distance)[:candidates]:
            if (
                union.find(i) != union.find(int(j))
                and _geometric_inliers(keypoints[i], keypoints[int(j)], matcher) >= min_inliers
            ):
                union.union(i, int(j))
    roots = [union.find(i) for i in range(len(paths))]
    numbering = {root: n for n, root in enumerate(dict.fromkeys(roots))}
    return [numbering[root] for root in roots]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="write path,group for the images of a class-folder set")
    parser.add_argument("data", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--known", type=Path, help="CSV group,path of known duplicates to merge")
    args = parser.parse_args(argv)
    rows = []
    for folder in sorted(p for p in args.data.iterdir() if p.is_dir()):
        paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        groups = near_duplicate_groups(paths)
        if args.known:  # merge the known groups (e.g. LC25000's exact_duplicates.csv)
            with args.known.open(newline="") as handle:
                known: dict[str, list[str]] = {}
                for row in csv.DictReader(handle):
                    known.setdefault(row["group"], []).append(row["path"])
            index = {p.relative_to(args.data).as_posix(): i for i, p in enumerate(paths)}
            for members in known.values():
                present = [index[m] for m in members if m in index]
                for other in present[1:]:
                    old, new = groups[other], groups[present[0]]
                    groups = [new if g == old else g for g in groups]
        rows += [
            (p.relative_to(args.data).as_posix(), f"{folder.name}-{g}")
            for p, g in zip(paths, groups, strict=True)
        ]
        print(f"{folder.name}: {len(paths)} images in {len(set(groups))} source groups", file=sys.stderr)
    with args.out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "group"])
        writer.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Landmarks in ImageJ's CSV (header `` ,X,Y``; index, column, row) and the ANHIR error:
rTRE = TRE / diagonal of the target image, over the first min(n) landmarks of a pair."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pathodesk.errors import ValidationFailedError


def parse_points(text: str) -> np.ndarray:
    """(n, 2) float array of X, Y; a readable error for anything that is not ImageJ's CSV."""
    rows = list(csv.reader(io.StringIO(text, newline="")))  # the csv module reads line ends itself
    if not rows or [cell.strip().upper() for cell in rows[0][-2:]] != ["X", "Y"]:
        raise ValidationFailedError("A points file needs the header ' ,X,Y' (index, column, row).")
    points: list[tuple[float, float]] = []
    for number, row in enumerate(rows[1:], start=2):
        if not row or not "".join(row).strip():
            continue
        try:
            points.append((float(row[-2]), float(row[-1])))
        except (ValueError, IndexError):
            raise ValidationFailedError(
                "Line %(line)s of the points file is not 'index,X,Y'.", line=number
            ) from None
    return np.asarray(points, dtype=np.float64).reshape(-1, 2)


def read_points(path: Path) -> np.ndarray:
    return parse_points(path.read_text(encoding="utf-8-sig"))


def format_points(points: np.ndarray) -> str:
    lines = [" ,X,Y"] + [f"{index},{x:.3f},{y:.3f}" for index, (x, y) in enumerate(points, start=1)]
    return "\n".join(lines) + "\n"


def write_points(path: Path, points: np.ndarray) -> None:
    path.write_text(format_points(points), encoding="utf-8")


def relative_tre(warped: np.ndarray, target: np.ndarray, target_shape: tuple[int, int]) -> np.ndarray:
    """TRE of each landmark divided by the target image's diagonal (``target_shape`` = H, W)."""
    count = min(len(warped), len(target))
    errors = np.linalg.norm(warped[:count] - target[:count], axis=1)
    return errors / float(np.hypot(*target_shape))


@dataclass(frozen=True)
class LandmarkPair:
    """One pair of an ANHIR ``pairs.csv``: the target (fixed) and source (moving) images and
    their first min(n) landmarks, as ANHIR scores them."""

    name: str
    target_image: Path
    source_image: Path
    target_points: np.ndarray
    source_points: np.ndarray


def read_pairs(root: Path) -> list[LandmarkPair]:
    pairs = []
    with (root / "pairs.csv").open(newline="") as listing:
        for row in csv.DictReader(listing):
            target, source = (
                read_points(root / row["target_landmarks"]),
                read_points(root / row["source_landmarks"]),
            )
            count = min(len(target), len(source))
            pairs.append(
                LandmarkPair(
                    f"{Path(row['target_image']).stem} ← {Path(row['source_image']).stem}",
                    root / row["target_image"],
                    root / row["source_image"],
                    target[:count],
                    source[:count],
                )
            )
    return pairs

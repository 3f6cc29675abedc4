"""Registration measured on the manual landmarks of every CIMA/ANHIR pair (SPEC D2; issue 15,
items 3 and 8): ANHIR's rTRE, each pair's median below the landmark-affine floor (the best
any affine could do) on at least five of the six pairs, and no pair much above it."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from pathodesk.registration import read_points, register, relative_tre

pytestmark = [pytest.mark.shared, pytest.mark.slow]


def rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def test_every_pair_is_registered_near_or_below_the_landmark_affine_floor(shared_data: Path) -> None:
    root = shared_data / "anhir-cima-landmarks"
    below = 0
    rows = list(csv.DictReader((root / "pairs.csv").open()))
    for row in rows:
        fixed, moving = rgb(root / row["target_image"]), rgb(root / row["source_image"])
        fixed_points, moving_points = (
            read_points(root / row["target_landmarks"]),
            read_points(root / row["source_landmarks"]),
        )
        count = min(len(fixed_points), len(moving_points))
        fixed_points, moving_points = fixed_points[:count], moving_points[:count]
        result = register(fixed, moving)
        ours = float(
            np.median(
                relative_tre(result.transform.moving_to_fixed(moving_points), fixed_points, fixed.shape[:2])
            )
        )
        design = np.hstack([moving_points, np.ones((count, 1))])
        solution, *_ = np.linalg.lstsq(design, fixed_points, rcond=None)
        floor = float(np.median(relative_tre(design @ solution, fixed_points, fixed.shape[:2])))
        before = float(np.median(relative_tre(moving_points, fixed_points, fixed.shape[:2])))
        assert ours < 1.2 * floor < before, (row["source_image"], ours, floor)
        below += ours < floor
    assert below >= 5, below

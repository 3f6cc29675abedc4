"""Which native 40× tiles train, validate and test the super-resolution models: split by
patient, 60/20/20 with seed 0 (D5's rule, no patient in two splits). The one place that
decides it: the training script scores its test split, and the demo shows those same held-out
patients at low resolution, so that what it enlarges was never seen in training.

Only the tiles' names and patients are read here (no pixels, no torch).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from pathodesk.ml.data import group_split

SPLIT = (0.6, 0.2, 0.2)


@dataclass(frozen=True)
class NativeTile:
    path: Path
    group: str  # the patient
    label: int = 0  # one class: the split is by patient only


def native_tiles(root: Path) -> list[NativeTile]:
    """The source's tiles in its ``labels.csv`` order (columns ``path`` and ``patient_id``)."""
    with (root / "labels.csv").open(newline="") as listing:
        return [NativeTile(root / row["path"], row["patient_id"]) for row in csv.DictReader(listing)]


def patient_splits(tiles: list[NativeTile]) -> dict[str, list[NativeTile]]:
    train, validation, test = group_split(tiles, SPLIT, seed=0)
    return {"train": train, "validation": validation, "test": test}

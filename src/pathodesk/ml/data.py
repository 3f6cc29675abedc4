"""Labelled tiles for training (SPEC B3, B4, D5; issue 6, item 1).

A data set is a list of ``Sample``s: an image file (or a region of a slide), its class and
its *group* — the patient, slide or source image it came from. Splits never put one group
in two places, because tiles of one source look alike and a model that saw one of them has
in effect seen the others (the leak that makes LC25000 accuracies look optimistic).
"""

from __future__ import annotations

import csv
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np
from PIL import Image

from pathodesk.errors import ValidationFailedError
from pathodesk.slides.base import SlideReader

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}
DIHEDRAL = 8  # the 4 rotations by 90°, each with and without a flip (B3's augmentations)


class DataError(ValidationFailedError):
    """The data folder cannot be used as asked (said in words a user can act on)."""


@dataclass(frozen=True)
class Region:
    """A square of a slide, in level-0 pixels."""

    slide: Path
    x: int
    y: int
    size: int


@dataclass(frozen=True)
class Sample:
    path: Path  # image file, or the slide file when ``region`` is set
    label: int
    group: str
    region: Region | None = None
    dihedral: int = 0  # 0: as stored; 1-7: a rotation/flip made to balance the classes (B3)


@dataclass
class LabelledSet:
    labels: list[str]
    samples: list[Sample]

    def counts(self) -> dict[str, int]:
        counts = Counter(sample.label for sample in self.samples)
        return {name: counts.get(index, 0) for index, name in enumerate(self.labels)}


def read_groups(path: Path) -> dict[str, str]:
    """``path,group`` CSV: which files share a patient, slide or source image."""
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"path", "group"} <= set(reader.fieldnames):
            raise DataError("%(name)s: a groups file needs the columns path,group", name=path.name)
        return {row["path"]: row["group"] for row in reader}


def scan_class_folders(root: Path, groups: dict[str, str] | None = None) -> LabelledSet:
    """One sub-folder per class (its name is the class name), images inside. Files without a
    group in ``groups`` are their own group."""
    if not root.is_dir():
        raise DataError("%(root)s is not a folder", root=root)
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    labels = [folder.name for folder in folders]
    samples = []
    for index, folder in enumerate(folders):
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
                relative = path.relative_to(root).as_posix()
                samples.append(Sample(path, index, (groups or {}).get(relative, relative)))
    found = LabelledSet(labels, samples)
    empty = [name for name, count in found.counts().items() if count == 0]
    if len(labels) < 2:
        raise DataError(
            "%(root)s needs at least two class sub-folders, found %(count_labels)s",
            root=root,
            count_labels=len(labels),
        )
    if empty:
        raise DataError("class folder(s) without images: %(value)s", value=", ".join(empty))
    return found


def require_known_classes(labels: Sequence[str], known: Sequence[str]) -> None:
    """A model can be scored only on images of the classes it was trained on."""
    unknown = [name for name in labels if name not in known]
    if unknown:
        raise DataError(
            "classes the model does not know: %(value)s (it knows %(labels)s)",
            value=", ".join(unknown),
            labels=list(known),
        )


class Grouped(Protocol):
    """Anything with a class and a group: tiles (``Sample``) or stacks of stains."""

    @property
    def label(self) -> int: ...

    @property
    def group(self) -> str: ...


GroupedItem = TypeVar("GroupedItem", bound=Grouped)


def group_split(
    samples: Sequence[GroupedItem], fractions: Sequence[float], seed: int = 0
) -> list[list[GroupedItem]]:
    """Split by group, per class, so each split has about ``fractions`` of every class and no
    group is in two splits (B3: 8:2; D5: 6:2:2). A group takes its majority class."""
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise DataError("split fractions must add up to 1, got %(value)s", value=list(fractions))
    by_group: dict[str, list[GroupedItem]] = defaultdict(list)
    for sample in samples:
        by_group[sample.group].append(sample)
    by_class: dict[int, list[str]] = defaultdict(list)
    for group, members in by_group.items():
        by_class[Counter(s.label for s in members).most_common(1)[0][0]].append(group)
    rng = random.Random(seed)  # noqa: S311 - reproducible splits, not secrets
    splits: list[list[GroupedItem]] = [[] for _ in fractions]
    for label in sorted(by_class):
        groups = sorted(by_class[label])
        rng.shuffle(groups)
        groups.sort(key=lambda g: -len(by_group[g]))  # big groups first, ties in shuffled order
        total = sum(len(by_group[g]) for g in groups)
        filled = [0] * len(fractions)
        for group in groups:
            # the split furthest below its share takes the group
            target = min(range(len(fractions)), key=lambda i: filled[i] / total - fractions[i])
            filled[target] += len(by_group[group])
            splits[target].extend(by_group[group])
    return splits


def rotated_group_splits(
    samples: Sequence[GroupedItem], folds: int = 5
) -> list[tuple[list[GroupedItem], list[GroupedItem], list[GroupedItem]]]:
    """``folds`` train/validation/test splits (6:2:2 with five folds, D5) in which every group
    is in the test part exactly once: each class's groups (by their majority class, in name
    order) are dealt round the folds; split k tests fold k, validates on fold k + 1, trains
    on the rest. For small data: a single split of a dozen patients tests two or three."""
    by_group: dict[str, list[GroupedItem]] = defaultdict(list)
    for sample in samples:
        by_group[sample.group].append(sample)
    fold_of: dict[str, int] = {}
    by_class: dict[int, list[str]] = defaultdict(list)
    for group, members in sorted(by_group.items()):
        by_class[Counter(s.label for s in members).most_common(1)[0][0]].append(group)
    dealt = 0
    for label in sorted(by_class):
        for group in by_class[label]:
            fold_of[group] = dealt % folds
            dealt += 1
    splits = []
    for k in range(folds):
        parts: tuple[list[GroupedItem], list[GroupedItem], list[GroupedItem]] = ([], [], [])
        for group, members in by_group.items():
            place = 2 if fold_of[group] == k else 1 if fold_of[group] == (k + 1) % folds else 0
            parts[place].extend(members)
        splits.append(parts)
    return splits


def groups_of(samples: Sequence[Sample]) -> set[str]:
    return {sample.group for sample in samples}


def balance_by_augmentation(samples: Sequence[Sample], seed: int = 0) -> list[Sample]:
    """Smaller classes are topped up to the largest with rotated/flipped copies (B3); each
    copy is a different dihedral transform of an image, picked in turn."""
    by_label: dict[int, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_label[sample.label].append(sample)
    largest = max(len(members) for members in by_label.values())
    rng = random.Random(seed)  # noqa: S311 - reproducible augmentation, not secrets
    balanced = list(samples)
    for members in by_label.values():
        order = members[:]
        rng.shuffle(order)
        for i in range(largest - len(members)):
            original = order[i % len(order)]
            balanced.append(replace(original, dihedral=1 + (i // len(order)) % (DIHEDRAL - 1)))
    return balanced


def apply_dihedral(image: np.ndarray, index: int) -> np.ndarray:
    rotated = np.rot90(image, index % 4)
    return np.ascontiguousarray(rotated[:, ::-1] if index >= 4 else rotated)


@lru_cache(maxsize=4)
def _slide_reader(path: Path) -> SlideReader:
    """Tiles of one slide come in runs: open it once, not once per tile."""
    from pathodesk.slides import open_slide

    return open_slide(path)


def load_rgb(sample: Sample, size: int) -> np.ndarray:
    """The sample's pixels as ``size`` x ``size`` RGB uint8 (whole tile resized: tiles are the
    unit the model sees, at the magnification they were cut at)."""
    if sample.region is None:
        with Image.open(sample.path) as opened:
            image = opened.convert("RGB")
    else:
        region = sample.region
        reader = _slide_reader(region.slide)
        image = Image.fromarray(reader.read_region((region.x, region.y), 0, (region.size, region.size)))
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BILINEAR)
    return apply_dihedral(np.asarray(image), sample.dihedral)

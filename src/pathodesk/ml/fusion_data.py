"""Patches of one lesion in every stain (SPEC D4): the same tissue cut from each registered
stain, the seed's augmentation, per-stain colour normalization (D3), tensors for the network.

A ``StainStack`` holds, for one patch, a window per stain *larger* than the patch (the patch's
diagonal plus the crop jitter), centred on the same tissue: turning a window by 60° and
cutting the patch from its middle leaves no empty corners, and every stain of a stack is
turned and cut alike. The stains' images must be registered already (one pixel grid): BCI's
pairs are, and a section group's are made so through its stored transforms
(``analysis.section_patches``).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from pathodesk.errors import ValidationFailedError
from pathodesk.stain import StainNormalizer, normalizer
from pathodesk.stain.normalizer import StainFit
from pathodesk.stain.optical import TISSUE_DENSITY, to_density

if TYPE_CHECKING:
    import torch

ROTATIONS = (60, 90, 180, 270)  # D4, the seed's set: with one random crop, five samples a patch
CROP_JITTER = 3  # px a random crop may move the patch from the window's centre
MIN_TISSUE = 0.5  # share of a patch that must be tissue (on the reference stain)


def window_px(patch_px: int) -> int:
    """The window a patch of ``patch_px`` can be turned in by any angle and still be cut whole
    after a crop jitter."""
    return math.ceil(patch_px * math.sqrt(2)) + 2 * CROP_JITTER + 2


@dataclass(frozen=True)
class StainStack:
    windows: np.ndarray  # (stains, W, W, 3) uint8, W = window_px(patch_px)
    label: int
    group: str  # the patient (pair, slide) it came from: never in two splits (D5)


def tissue_share(rgb: np.ndarray) -> float:
    return float((to_density(rgb) > TISSUE_DENSITY).any(axis=2).mean())


def padded(image: np.ndarray, margin: int) -> np.ndarray:
    """``image`` with a white (glass) border: windows near its edge stay whole."""
    return cv2.copyMakeBorder(
        image, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=(255, 255, 255)
    )


def stacks_at(
    images: Sequence[np.ndarray], centres: np.ndarray, labels: Sequence[int], group: str, patch_px: int
) -> list[StainStack]:
    """One stack per centre (x, y) of registered ``images`` (one per stain, same size)."""
    size = window_px(patch_px)
    half = size // 2
    borders = [padded(image, half + 1) for image in images]
    stacks = []
    for (x, y), label in zip(np.round(centres).astype(int), labels, strict=True):
        top, left = y + 1, x + 1  # the window's corner in the padded image
        windows = np.stack([border[top : top + size, left : left + size] for border in borders])
        stacks.append(StainStack(windows, int(label), group))
    return stacks


def grid_stacks(
    images: Sequence[np.ndarray], label: int, group: str, patch_px: int, min_tissue: float = MIN_TISSUE
) -> list[StainStack]:
    """Patches of a whole lesion with one label (BCI's pairs, an outlined lesion): centres
    every ``patch_px`` over the image, kept where the reference (first) stain is tissue."""
    height, width = images[0].shape[:2]
    half = patch_px // 2
    centres = np.array(
        [
            (x, y)
            for y in range(half, height - half + 1, patch_px)
            for x in range(half, width - half + 1, patch_px)
            if tissue_share(images[0][y - half : y + half, x - half : x + half]) >= min_tissue
        ],
        dtype=np.float64,
    ).reshape(-1, 2)
    return stacks_at(images, centres, [label] * len(centres), group, patch_px)


def cut(windows: np.ndarray, angle: float, offset: tuple[int, int], patch_px: int) -> np.ndarray:
    """Each stain's window turned by ``angle`` about its centre, the patch cut from the centre
    moved by ``offset``: (stains, patch, patch, 3)."""
    size = windows.shape[1]
    centre = (size - 1) / 2
    turn = cv2.getRotationMatrix2D((centre, centre), angle, 1.0)
    left = round(centre - patch_px / 2 + 0.5) + offset[0]
    top = round(centre - patch_px / 2 + 0.5) + offset[1]
    out = []
    for window in windows:
        turned = window if angle == 0 else cv2.warpAffine(window, turn, (size, size), flags=cv2.INTER_LINEAR)
        out.append(turned[top : top + patch_px, left : left + patch_px])
    return np.stack(out)


def augmented(stack: StainStack, patch_px: int, rng: np.random.Generator) -> np.ndarray:
    """D4: the patch turned by each of ``ROTATIONS`` and one random crop of it as it lies:
    (5, stains, patch, patch, 3)."""
    jitter = tuple(int(v) for v in rng.integers(-CROP_JITTER, CROP_JITTER + 1, 2))
    versions = [cut(stack.windows, angle, (0, 0), patch_px) for angle in ROTATIONS]
    versions.append(cut(stack.windows, 0, (jitter[0], jitter[1]), patch_px))
    return np.stack(versions)


def centre_patches(stacks: Sequence[StainStack], patch_px: int) -> np.ndarray:
    """Each stack's patch as it lies, unaugmented (validation, test, inference)."""
    return np.stack([cut(stack.windows, 0, (0, 0), patch_px) for stack in stacks])


VECTORS_ONLY = "-vectors"  # "macenko-vectors": the reference's stain colours, the slide's own amounts


def colour_method(method: str | None) -> tuple[str | None, bool]:
    """(normalizer method, keep the slide's stain amounts) of a per-stain colour setting.

    An IHC stain's amount is the finding itself (HER2 0 has little DAB, 3+ much), so it is
    recoloured with the reference's stain vectors but keeps its own amounts; H&E is also
    rescaled so each stain's 99th percentile matches the reference (D3)."""
    if method is None:
        return None, False
    return method.removesuffix(VECTORS_ONLY), method.endswith(VECTORS_ONLY)


@dataclass
class StainNormalization:
    """Per stain (D3): the reference colours every slide of that stain is brought to (a
    fitted ``StainNormalizer``), or none (fluorescence, where stain separation means
    nothing); then each channel's mean and spread for the network."""

    normalizers: list[StainNormalizer | None]
    mean: np.ndarray  # (stains, 3) of [0, 1] values, after colour normalization
    std: np.ndarray
    keep_amounts: list[bool] | None = None  # per stain: recolour only, amounts as scanned

    @classmethod
    def fit(
        cls, stacks: Sequence[StainStack], methods: Sequence[str | None], patch_px: int
    ) -> StainNormalization:
        """Fitted on training stacks only: each stain's reference is a mosaic of its windows
        from every training patient."""
        if not stacks:
            raise ValidationFailedError("No training patches to fit the stain normalization on.")
        settings = [colour_method(method) for method in methods]
        fitted = [
            None if base is None else normalizer(base).fit(mosaic_of([s.windows[index] for s in stacks]))
            for index, (base, _) in enumerate(settings)
        ]
        keep = [kept for _, kept in settings]
        partial = cls(fitted, np.zeros((len(methods), 3)), np.ones((len(methods), 3)), keep)
        sample = centre_patches(partial.recoloured(stacks[:: max(1, len(stacks) // 2000)]), patch_px)
        values = sample.astype(np.float64) / 255.0
        return cls(fitted, values.mean(axis=(0, 2, 3)), values.std(axis=(0, 2, 3)) + 1e-6, keep)

    def recoloured(self, stacks: Sequence[StainStack]) -> list[StainStack]:
        """Every stack in its stains' reference colours, each patient's stain fitted once
        on all of that patient's windows (a slide's stain is the same in every patch); a
        stain too faint to separate on a patient is left as scanned."""
        by_group: dict[str, list[int]] = {}
        for index, stack in enumerate(stacks):
            by_group.setdefault(stack.group, []).append(index)
        windows = np.stack([stack.windows for stack in stacks]) if stacks else np.empty((0,))
        for members in by_group.values():
            for stain, fitted in enumerate(self.normalizers):
                if fitted is None:
                    continue
                column = windows[members, stain]
                count, size = column.shape[:2]
                strip = column.reshape(count * size, size, 3)
                source = normalizer(fitted.method)
                source.reference = fitted.reference
                try:
                    source.fit_source(strip)
                except ValidationFailedError:  # too little stain to separate (a pale IHC): as scanned
                    continue
                if self.keep_amounts and self.keep_amounts[stain]:
                    assert isinstance(source.source, StainFit) and isinstance(fitted.reference, StainFit)
                    source.source = replace(source.source, max_amounts=fitted.reference.max_amounts)
                windows[members, stain] = source.transform(strip).reshape(column.shape)
        return [StainStack(windows[i], stack.label, stack.group) for i, stack in enumerate(stacks)]

    def tensor(self, patches: np.ndarray) -> torch.Tensor:
        """(n, stains, 3, p, p) float32 from (n, stains, p, p, 3) uint8 already recoloured."""
        import torch  # here, not above: the routes read stain stacks without the model stack

        values = patches.astype(np.float32) / 255.0
        values = (values - self.mean[None, :, None, None, :]) / self.std[None, :, None, None, :]
        return torch.from_numpy(np.ascontiguousarray(values.transpose(0, 1, 4, 2, 3), dtype=np.float32))


def mosaic_of(windows: Sequence[np.ndarray], limit: int = 400) -> np.ndarray:
    """Up to ``limit`` windows, evenly drawn, laid in a square: one image to fit a stain on."""
    chosen = list(windows)[:: max(1, len(windows) // limit)][:limit]
    side = math.ceil(math.sqrt(len(chosen)))
    size = chosen[0].shape[0]
    mosaic = np.full((side * size, side * size, 3), 255, np.uint8)
    for index, window in enumerate(chosen):
        row, column = divmod(index, side)
        mosaic[row * size : (row + 1) * size, column * size : (column + 1) * size] = window
    return mosaic


@dataclass
class LesionSet:
    """Registered images of lesions in several stains, one label per lesion (``lesions.csv``)."""

    stains: list[str]
    labels: list[str]
    stacks: list[StainStack]


def read_lesions(listing: Path, patch_px: int, downsample: float = 1.0) -> LesionSet:
    """``lesions.csv``: columns ``group,label`` then one per stain (its name as header, an image
    path relative to the file as value); each row one lesion, its stains registered to one
    pixel grid. Images are shrunk by ``downsample`` and cut into patches over the tissue."""
    with listing.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [cell.strip() for cell in header[:2]] != ["group", "label"] or len(header) < 3:
            raise ValidationFailedError("lesions.csv needs the columns group,label and one per stain.")
        rows = [row for row in reader if any(cell.strip() for cell in row)]
    stains = [cell.strip() for cell in header[2:]]
    labels = sorted({row[1].strip() for row in rows})
    stacks: list[StainStack] = []
    for number, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise ValidationFailedError(
                "Line %(line)s of lesions.csv has the wrong number of columns.", line=number
            )
        images = []
        for cell in row[2:]:
            image = cv2.imread(str(listing.parent / cell.strip()), cv2.IMREAD_COLOR)
            if image is None:
                raise ValidationFailedError(
                    "Line %(line)s: %(path)s is not a readable image.", line=number, path=cell
                )
            size = (max(1, round(image.shape[1] / downsample)), max(1, round(image.shape[0] / downsample)))
            images.append(
                cv2.cvtColor(cv2.resize(image, size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
            )
        if len({image.shape for image in images}) != 1:
            raise ValidationFailedError(
                "Line %(line)s: the stains' images differ in size (register them first).", line=number
            )
        stacks += grid_stacks(images, labels.index(row[1].strip()), row[0].strip(), patch_px)
    return LesionSet(stains, labels, stacks)

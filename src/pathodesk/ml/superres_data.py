"""Training pairs for super-resolution (SPEC E6): real high-resolution tissue and the low-
resolution image a stored 1/scale pyramid would hold of it.

The degradation is the one low-resolution storage applies (area downsampling, then JPEG).
PathoDesk makes its stored pyramids itself, so that path is known exactly; training draws
around it (JPEG 85–95, and a slight optical blur on some crops, so images from elsewhere
are not over-sharpened) rather than far from it: a generator trained blind to a wide
blur range gave up PSNR on the storage path it serves. Evaluation uses the fixed storage
path (no extra blur, JPEG 90, the quality the pyramid writer stores).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from pathodesk.ml.data import DataError

STORED_JPEG_QUALITY = 90  # slides/pyramid.py writes its JPEG levels at this quality


@dataclass(frozen=True)
class Degradation:
    blur_sigma: float = 0.0  # Gaussian sigma in high-resolution pixels, before downsampling
    jpeg_quality: int | None = STORED_JPEG_QUALITY

    @staticmethod
    def random(rng: np.random.Generator) -> Degradation:
        """Near the storage path: JPEG 85–95; a blur of sigma ≤ 0.5 px on 30 % of crops."""
        blur = float(rng.uniform(0.0, 0.5)) if rng.random() < 0.3 else 0.0
        return Degradation(blur, int(rng.integers(85, 96)))


def jpeg_round_trip(image: np.ndarray, quality: int) -> np.ndarray:
    ok, encoded = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR) if ok else None
    if decoded is None:
        raise ValueError("JPEG round trip failed")
    return np.ascontiguousarray(decoded[..., ::-1])


def degrade(high: np.ndarray, scale: int, degradation: Degradation = Degradation()) -> np.ndarray:
    """RGB uint8 (H, W, 3) with H, W multiples of ``scale`` → (H/scale, W/scale, 3)."""
    image = high
    if degradation.blur_sigma > 0:
        image = cv2.GaussianBlur(image, (0, 0), degradation.blur_sigma)
    height, width = high.shape[0] // scale, high.shape[1] // scale
    low = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    if degradation.jpeg_quality is not None:
        low = jpeg_round_trip(low, degradation.jpeg_quality)
    return low


def bicubic(low: np.ndarray, scale: int) -> np.ndarray:
    """The baseline every generator is compared with."""
    return cv2.resize(low, (low.shape[1] * scale, low.shape[0] * scale), interpolation=cv2.INTER_CUBIC)


def cropped_to_multiple(image: np.ndarray, scale: int) -> np.ndarray:
    return image[: image.shape[0] // scale * scale, : image.shape[1] // scale * scale]


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(n, H, W, 3) uint8 → (n, 3, H, W) float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div(255.0)


def to_image(tensor: torch.Tensor) -> np.ndarray:
    """(3, H, W) float → (H, W, 3) uint8, clipped."""
    return (tensor.clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy()).copy()


@dataclass(frozen=True)
class HighResImage:
    """A real high-resolution tile and the patient it came from (the split's unit)."""

    pixels: np.ndarray
    group: str
    label: int = 0  # what a group split stratifies by (an organ, say); one class by default


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")


def read_images(folder: Path, groups: dict[str, str] | None = None) -> list[HighResImage]:
    """Every RGB image of ``folder``, each its own patient unless ``groups`` (file name →
    patient) says otherwise."""
    images = []
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        pixels = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if pixels is None:
            raise DataError("%(name)s is not a readable image", name=path.name)
        group = (groups or {}).get(path.name, path.stem)
        images.append(HighResImage(np.ascontiguousarray(pixels[..., ::-1]), group))
    if not images:
        raise DataError("%(name)s holds no images", name=folder.name)
    return images


class PairBatches:
    """Random (low, high) crop pairs from the training images, degraded anew every time,
    flipped and rotated by multiples of 90° (tissue has no up); seeded."""

    def __init__(
        self,
        images: Sequence[HighResImage],
        scale: int,
        crop_px: int,
        batch_size: int,
        steps: int,
        seed: int = 0,
    ) -> None:
        if crop_px % scale:
            raise ValueError("the crop must be a multiple of the scale")
        self.images, self.scale, self.crop_px = images, scale, crop_px
        self.batch_size, self.steps = batch_size, steps
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.steps

    def pair(self) -> tuple[np.ndarray, np.ndarray]:
        image = self.images[int(self.rng.integers(len(self.images)))].pixels
        top = int(self.rng.integers(image.shape[0] - self.crop_px + 1))
        left = int(self.rng.integers(image.shape[1] - self.crop_px + 1))
        high = np.rot90(
            image[top : top + self.crop_px, left : left + self.crop_px], int(self.rng.integers(4))
        )
        if self.rng.random() < 0.5:
            high = high[:, ::-1]
        high = np.ascontiguousarray(high)
        return degrade(high, self.scale, Degradation.random(self.rng)), high

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for _ in range(self.steps):
            pairs = [self.pair() for _ in range(self.batch_size)]
            yield to_tensor(np.stack([p[0] for p in pairs])), to_tensor(np.stack([p[1] for p in pairs]))

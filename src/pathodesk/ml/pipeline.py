"""The input pipeline (SPEC B4): every image decoded once into one uint8 tensor, then batches
are cut, cropped and normalised in torch, so two CPU cores spend their time in the model
rather than in PIL. ``bench/train.py`` measures it against a per-image PIL loop.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from skimage.color import hed_from_rgb, rgb_from_hed
from torchvision.transforms.v2 import functional as tvf

from pathodesk.ml.data import Sample, load_rgb
from pathodesk.progress import Progress
from pathodesk.stain.kind import HE, detect_stain
from pathodesk.tissue.mask import hsv, tissue_mask_hsv

CROP_SCALE = (0.3, 1.0)  # B4: random crop of 30-100 % of the area
CROP_RATIO = (3 / 4, 4 / 3)  # ... with aspect ratio between 3/4 and 4/3

_HED_FROM_RGB = torch.tensor(hed_from_rgb, dtype=torch.float32)
_RGB_FROM_HED = torch.tensor(rgb_from_hed, dtype=torch.float32)


@dataclass(frozen=True)
class Normalization:
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


class ImageBank:
    """Decoded pixels of every distinct image (rotated/flipped copies share theirs)."""

    def __init__(self, samples: Sequence[Sample], image_px: int, progress: Progress | None = None) -> None:
        keys = list(dict.fromkeys(_key(s) for s in samples))
        self.index = {key: i for i, key in enumerate(keys)}
        self.pixels = torch.empty((len(keys), 3, image_px, image_px), dtype=torch.uint8)
        first_of = {_key(s): s for s in reversed(samples)}
        for i, key in enumerate(keys):
            original = first_of[key]
            plain = Sample(original.path, original.label, original.group, original.region)
            self.pixels[i] = torch.from_numpy(np.array(load_rgb(plain, image_px))).permute(2, 0, 1)
            if progress:
                progress(i + 1, len(keys))

    def normalization(self, samples: Sequence[Sample]) -> Normalization:
        """Per-channel mean and std of ``samples`` (the training split: B4), in [0, 1] units."""
        rows = torch.tensor(sorted({self.index[_key(s)] for s in samples}))
        total = torch.zeros(3, dtype=torch.float64)
        squares = torch.zeros(3, dtype=torch.float64)
        count = 0
        for chunk in rows.split(256):
            values = self.pixels[chunk].to(torch.float64) / 255.0
            total += values.sum(dim=(0, 2, 3))
            squares += (values**2).sum(dim=(0, 2, 3))
            count += values.numel() // 3
        mean = total / count
        std = (squares / count - mean**2).clamp_min(1e-12).sqrt()
        return Normalization(tuple(mean.tolist()), tuple(std.tolist()))

    def dominant_stain(self, samples: Sequence[Sample]) -> str:
        rows = sorted({self.index[_key(s)] for s in samples})
        return dominant_stain([self.pixels[row].permute(1, 2, 0).numpy() for row in rows])


def dominant_stain(pictures: Sequence[np.ndarray], at_most: int = 64) -> str:
    """The stain most of ``pictures`` (RGB) show (``stain.kind``), told on up to ``at_most``
    of them spread over the list: a model's card says which stain it learned from."""
    count = len(pictures)
    chosen = pictures if count <= at_most else [pictures[i * count // at_most] for i in range(at_most)]
    votes = Counter(picture_stain(picture) for picture in chosen)
    return votes.most_common(1)[0][0] if votes else HE


def picture_stain(rgb: np.ndarray) -> str:
    """The stain of one picture's tissue (all of it if none is found)."""
    image_hsv = hsv(rgb)
    mask = tissue_mask_hsv(image_hsv)
    return detect_stain(image_hsv, mask if mask.any() else np.ones(mask.shape, bool))


def _key(sample: Sample) -> tuple[object, ...]:
    return (sample.path, sample.region)


def _dihedral(image: torch.Tensor, index: int) -> torch.Tensor:
    rotated = torch.rot90(image, index % 4, dims=(-2, -1))
    return rotated.flip(-1) if index >= 4 else rotated


def _random_crop_box(height: int, width: int, generator: torch.Generator) -> tuple[int, int, int, int]:
    """torchvision's RandomResizedCrop sampling (10 tries, then the centre), seeded."""
    area = height * width
    log_ratio = (math.log(CROP_RATIO[0]), math.log(CROP_RATIO[1]))
    for _ in range(10):
        target = area * float(torch.empty(1).uniform_(*CROP_SCALE, generator=generator))
        ratio = math.exp(float(torch.empty(1).uniform_(*log_ratio, generator=generator)))
        w = round(math.sqrt(target * ratio))
        h = round(math.sqrt(target / ratio))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(0, height - h + 1, (1,), generator=generator))
            left = int(torch.randint(0, width - w + 1, (1,), generator=generator))
            return top, left, h, w
    return 0, 0, height, width


class Batches:
    """Mini-batches of (images float32 NCHW channels-last, labels) from an ``ImageBank``."""

    def __init__(
        self,
        bank: ImageBank,
        samples: Sequence[Sample],
        normalization: Normalization,
        batch_size: int,
        train: bool,
        seed: int = 0,
        random_orientation: bool = True,
        stain_jitter: float = 0.0,
    ) -> None:
        self.bank, self.batch_size, self.train = bank, batch_size, train
        self.random_orientation, self.stain_jitter = random_orientation, stain_jitter
        self.rows = torch.tensor([bank.index[_key(s)] for s in samples], dtype=torch.long)
        self.dihedral = [s.dihedral for s in samples]
        self.labels = torch.tensor([s.label for s in samples], dtype=torch.long)
        self.mean = torch.tensor(normalization.mean).view(1, 3, 1, 1)
        self.std = torch.tensor(normalization.std).view(1, 3, 1, 1)
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return math.ceil(len(self.rows) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = (
            torch.randperm(len(self.rows), generator=self.generator)
            if self.train
            else torch.arange(len(self.rows))
        )
        for start in range(0, len(order), self.batch_size):
            chosen = order[start : start + self.batch_size]
            yield self.images(chosen), self.labels[chosen]

    def images(self, chosen: torch.Tensor) -> torch.Tensor:
        pixels = self.bank.pixels[self.rows[chosen]]
        size = pixels.shape[-1]
        out = []
        for image, index in zip(pixels, chosen.tolist(), strict=True):
            image = _dihedral(image, self.dihedral[index])
            if self.train and self.random_orientation:
                # tissue has no "up": a random rotation/flip per sample and epoch
                image = _dihedral(image, int(torch.randint(0, 8, (1,), generator=self.generator)))
            if self.train:
                top, left, h, w = _random_crop_box(size, size, self.generator)
                image = tvf.resized_crop(image, top, left, h, w, [size, size], antialias=True)
            out.append(image)
        batch = torch.stack(out).to(torch.float32).div_(255.0)
        if self.train and self.stain_jitter:
            batch = jitter_stains(batch, self.stain_jitter, self.generator)
        return ((batch - self.mean) / self.std).contiguous(memory_format=torch.channels_last)


def jitter_stains(batch: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Scale and shift each image's hematoxylin, eosin and residual densities a little (HED
    jitter, Tellez et al. 2018): slides from other labs differ in stain strength more than in
    anything a model should learn. ``batch`` is N x 3 x H x W RGB in [0, 1]."""
    count = batch.shape[0]
    density = -torch.log(batch.clamp_min(1.0 / 255.0))
    stains = torch.einsum("nchw,cd->ndhw", density, _HED_FROM_RGB)
    scale = 1.0 + (torch.rand(count, 3, 1, 1, generator=generator) * 2 - 1) * strength
    shift = (torch.rand(count, 3, 1, 1, generator=generator) * 2 - 1) * strength * 0.1
    density = torch.einsum("ndhw,dc->nchw", stains * scale + shift, _RGB_FROM_HED)
    return torch.exp(-density).clamp_(0.0, 1.0)


def to_model_input(rgb: np.ndarray, normalization: Normalization, image_px: int) -> torch.Tensor:
    """One RGB uint8 tile (H, W, 3) as the model expects it (used by evaluation and analysis)."""
    tensor = torch.from_numpy(np.array(rgb[..., :3])).permute(2, 0, 1)  # a writable copy
    if tensor.shape[-1] != image_px or tensor.shape[-2] != image_px:
        tensor = tvf.resize(tensor, [image_px, image_px], antialias=True)
    batch = tensor.unsqueeze(0).to(torch.float32).div_(255.0)
    mean = torch.tensor(normalization.mean).view(1, 3, 1, 1)
    std = torch.tensor(normalization.std).view(1, 3, 1, 1)
    return (batch - mean) / std

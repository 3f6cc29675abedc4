"""Slides for tests: files made from the samples, and ingest straight into the database."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from skimage.color import combine_stains, rgb2hed

from pathodesk.config import Settings
from pathodesk.db.session import Database
from pathodesk.ingest import ingest_staged, stage_copy
from pathodesk.slides import open_slide
from pathodesk.slides.pyramid import write_pyramid
from pathodesk.slides.raster_backend import RasterSlideReader
from pathodesk.tissue import detect_tissue


def blurred_copy(svs: Path, destination: Path) -> Path:
    """The CMU slide blurred with sigma 6 at 0.5 µm/px: sigma 3 at the 1 µm/px blur check."""
    reader = open_slide(svs)
    pixels = cv2.GaussianBlur(reader.read_region((0, 0), 0, reader.info.dimensions), (0, 0), 6)
    return write_pyramid(RasterSlideReader.from_array(pixels), destination, mpp=0.499)


def cast_copy(svs: Path, destination: Path, gains: tuple[float, float, float]) -> Path:
    """The CMU slide with a colour cast: each RGB channel scaled (a scanner's white balance)."""
    reader = open_slide(svs)
    pixels = reader.read_region((0, 0), 0, reader.info.dimensions).astype(np.float32) * np.asarray(gains)
    return write_pyramid(
        RasterSlideReader.from_array(np.clip(pixels, 0, 255).astype(np.uint8)), destination, mpp=0.499
    )


def tissue_crop(svs: Path) -> np.ndarray:
    """Level-0 pixels of the largest square well inside the slide's tissue: no glass in view."""
    reader = open_slide(svs)
    found = detect_tissue(reader)
    depth = cv2.distanceTransform(found.mask.astype(np.uint8), cv2.DIST_L2, 3)
    y, x = np.unravel_index(int(depth.argmax()), depth.shape)
    half = int(depth.max() / 1.5 * found.downsample)
    centre = (int(x * found.downsample), int(y * found.downsample))
    return reader.read_region((centre[0] - half, centre[1] - half), 0, (2 * half, 2 * half))


def fluorescent(pixels: np.ndarray) -> np.ndarray:
    """A bright-field image made dark field: the tissue glows green where it absorbed light,
    on black with a little camera noise."""
    density = -np.log10(np.clip(pixels[..., :3].mean(axis=2), 1, 255) / 255)
    glow = np.zeros((*density.shape, 3), np.float32)
    glow[..., 1], glow[..., 2] = density * 200, density * 80
    noisy = glow + np.random.default_rng(0).normal(6, 2, glow.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def fluorescent_copy(svs: Path, destination: Path) -> Path:
    """The CMU slide as a fluorescence scan (``fluorescent``)."""
    reader = open_slide(svs)
    glowing = fluorescent(reader.read_region((0, 0), 0, reader.info.dimensions))
    return write_pyramid(RasterSlideReader.from_array(glowing), destination, mpp=0.499)


# optical density per unit of stain, rows haematoxylin, (none), DAB: the counterstain of IHC
# is bluer than H&E's haematoxylin (Ruifrok's [0.65, 0.70, 0.29]); DAB is Ruifrok's
IHC_STAINS = np.array([[0.80, 0.55, 0.25], [0.0, 0.0, 0.0], [0.27, 0.57, 0.78]])


def immunostained(pixels: np.ndarray, dab: float = 1.5) -> np.ndarray:
    """An H&E image restained as immunohistochemistry: its haematoxylin kept as a blue
    counterstain, its eosin turned into brown DAB (colour deconvolution)."""
    hed = rgb2hed(pixels[..., :3])
    restained = np.stack([hed[..., 0], np.zeros_like(hed[..., 0]), hed[..., 1] * dab], axis=-1)
    rows = IHC_STAINS / np.maximum(np.linalg.norm(IHC_STAINS, axis=1, keepdims=True), 1e-9)
    return (np.clip(combine_stains(restained, rows), 0, 1) * 255).astype(np.uint8)


def immunostained_copy(svs: Path, destination: Path) -> Path:
    reader = open_slide(svs)
    pixels = reader.read_region((0, 0), 0, reader.info.dimensions)
    return write_pyramid(RasterSlideReader.from_array(immunostained(pixels)), destination, mpp=0.499)


def ingest_slide(
    settings: Settings, path: Path, exam_id: int, user_id: int, store_downsample: int | None = None
) -> int:
    db = Database(settings.resolved_database_url())
    try:
        with db.session() as session:
            staged = stage_copy(settings, path)
            return ingest_staged(
                session, settings, staged, exam_id=exam_id, user_id=user_id, store_downsample=store_downsample
            ).slide.id
    finally:
        db.dispose()

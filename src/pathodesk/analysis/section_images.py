"""Pictures of a section group (SPEC D1–D3): whole-slide thumbnails read for registration,
a section resampled into the reference's frame (overlay), the transform as the browser
follows it, and each section's stain normalizer to the reference (fitted once, cached).
"""

from __future__ import annotations

import io
import threading

import numpy as np
from PIL import Image

from pathodesk.config import Settings
from pathodesk.db.models import Slide
from pathodesk.registration import Transform
from pathodesk.registration.region import Window, aligned_window, mapped_box
from pathodesk.slides.base import thumbnail
from pathodesk.slides.superresolved import open_scan
from pathodesk.stain import StainNormalizer, normalizer
from pathodesk.storage import slide_file


def transform_grid(transform: Transform, width: int, height: int, cells: int = 24) -> dict[str, object]:
    """The transform as a browser follows it (linked viewers): the affine and the
    displacement sampled on a ``cells`` × ``cells`` grid over the reference's level-0 px."""
    xs = np.linspace(0, width, cells + 1)
    ys = np.linspace(0, height, cells + 1)
    grid_x, grid_y = np.meshgrid(xs, ys)
    points = np.column_stack([grid_x.ravel(), grid_y.ravel()])
    shift = transform.displacement(points)
    return {
        "affine": [[float(v) for v in row] for row in transform.affine],
        "grid": {
            "columns": cells + 1,
            "rows": cells + 1,
            "step": [width / cells, height / cells],
            "dx": [round(float(v), 2) for v in shift[:, 0]],
            "dy": [round(float(v), 2) for v in shift[:, 1]],
        },
    }


OVERLAY_SIDE = 1536


def read_thumbnail(settings: Settings, slide: Slide, side: int) -> tuple[np.ndarray, float]:
    """RGB of the whole slide, at most ``side`` px on its long side, and its px per level-0 px."""
    reader = open_scan(slide_file(settings, slide))  # a low-resolution one enlarged as stored
    try:
        image = np.asarray(thumbnail(reader, side).convert("RGB"))
        return image, image.shape[1] / reader.info.dimensions[0]
    finally:
        reader.close()


def read_window(
    settings: Settings, slide: Slide, box: tuple[float, float, float, float], downsample: float
) -> np.ndarray:
    """RGB of the level-0 box (x0, y0, x1, y1) at ``downsample`` level-0 px per px (glass
    outside the slide), read from the nearest finer pyramid level."""
    x0, y0, x1, y1 = box
    size = (max(1, round((x1 - x0) / downsample)), max(1, round((y1 - y0) / downsample)))
    reader = open_scan(slide_file(settings, slide))  # a low-resolution one enlarged as stored
    try:
        level = reader.info.best_level_for_downsample(downsample)
        level_downsample = reader.info.level_downsamples[level]
        read_size = (
            max(1, round((x1 - x0) / level_downsample)),
            max(1, round((y1 - y0) / level_downsample)),
        )
        region = reader.read_region((round(x0), round(y0)), level, read_size)
    finally:
        reader.close()
    return np.asarray(Image.fromarray(region).resize(size, Image.Resampling.LANCZOS))


def aligned_to_reference(
    settings: Settings,
    slide: Slide,
    transform: Transform,
    box: tuple[float, float, float, float],
    downsample: float,
    shape: tuple[int, int],
) -> np.ndarray | None:
    """``slide``'s tissue under a box of the reference (level-0 px, ``transform`` reference →
    slide), read at ``downsample`` of the slide's level 0 and resampled into the (H, W) pixels
    of the reference's window; None when the box falls outside the slide."""
    moving_box = mapped_box(transform, box, 0.1, (slide.width, slide.height))
    if moving_box[2] <= moving_box[0] or moving_box[3] <= moving_box[1]:
        return None
    moving = read_window(settings, slide, moving_box, downsample)
    moving_window = Window((moving_box[0], moving_box[1]), moving.shape[1] / (moving_box[2] - moving_box[0]))
    fixed_window = Window((box[0], box[1]), shape[1] / (box[2] - box[0]))
    return aligned_window(transform, moving, fixed_window, moving_window, shape)


def overlay_png(settings: Settings, reference: Slide, slide: Slide, transform: Transform) -> bytes:
    """``slide`` resampled into the reference's frame, ``OVERLAY_SIDE`` px on its long side."""
    moving, moving_scale = read_thumbnail(settings, slide, OVERLAY_SIDE)
    fixed_scale = OVERLAY_SIDE / max(reference.width, reference.height)
    at = transform.scaled(fixed_scale, moving_scale)
    shape = (round(reference.height * fixed_scale), round(reference.width * fixed_scale))
    buffer = io.BytesIO()
    Image.fromarray(at.warp(moving, shape)).save(buffer, format="PNG")
    return buffer.getvalue()


NORMALIZE_FIT_SIDE = 1024  # the thumbnail each slide's stains are estimated on
_normalizers: dict[tuple[str, str], StainNormalizer] = {}
_normalizers_lock = threading.Lock()


def fitted_normalizer(settings: Settings, reference: Slide, slide: Slide) -> StainNormalizer:
    """Macenko fitted once on the reference's and once on the slide's whole thumbnail (D3:
    fit per slide, apply per tile); kept for the files' lifetime (keyed by checksum)."""
    key = (reference.sha256, slide.sha256)
    with (
        _normalizers_lock
    ):  # held while fitting: the viewer's first tiles wait for one fit, not each make one
        cached = _normalizers.get(key)
        if cached is None:
            cached = normalizer("macenko").fit(read_thumbnail(settings, reference, NORMALIZE_FIT_SIDE)[0])
            cached.fit_source(read_thumbnail(settings, slide, NORMALIZE_FIT_SIDE)[0])
            if len(_normalizers) > 64:
                _normalizers.clear()
            _normalizers[key] = cached
        return cached

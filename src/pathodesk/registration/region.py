"""The lesion again, at higher resolution (SPEC D2, high level: intensity-based refinement
inside the lesion region).

The whole-section registration runs on thumbnails; the lesion is what the pathologist reads
across stains, so its window is read once more from both slides at a finer pixel size, the
other section's window resampled through the whole-section transform into the lesion's
pixels, and the remaining misfit found there by the same matched-patch passes as the high
level. The result becomes a ``RegionDetail`` of the transform: finer inside the window,
faded out at its edges, unchanged elsewhere.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np

from pathodesk.registration.pipeline import (
    Registration,
    RegistrationParams,
    high_level,
    level_pair,
    residual_error,
)
from pathodesk.registration.transform import RegionDetail, Transform

TAPER = 0.15  # share of each side over which the detail fades to zero at the window's edges
DETAIL_SIDE = 256  # grid px of the stored detail on its long side (the field is smooth)


@dataclass(frozen=True)
class Window:
    """A window of an image: ``origin`` (its top-left corner, image px) and ``scale``
    (window px per image px)."""

    origin: tuple[float, float]
    scale: float

    def to_image(self, points: np.ndarray) -> np.ndarray:
        return np.asarray(self.origin) + np.asarray(points, np.float64) / self.scale

    def from_image(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, np.float64) - np.asarray(self.origin)) * self.scale


def pixel_grid(shape: tuple[int, int], step: float = 1.0) -> np.ndarray:
    """(n, 2) x, y of every ``step``-th pixel of an (H, W) image, row by row."""
    height, width = shape
    ys, xs = np.mgrid[0:height:step, 0:width:step]
    return np.column_stack([xs.ravel(), ys.ravel()]).astype(np.float64)


def mapped_box(
    transform: Transform, box: tuple[float, float, float, float], grow: float, bounds: tuple[int, int]
) -> tuple[float, float, float, float]:
    """Bounds of a fixed-image box carried into the moving image (its edges sampled, since
    the field bends them), grown by ``grow`` of their size each side, clipped to ``bounds``."""
    x0, y0, x1, y1 = box
    corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    edges = np.concatenate(
        [np.linspace(a, b, 16) for a, b in zip(corners, np.roll(corners, -1, axis=0), strict=True)]
    )
    moved = transform.fixed_to_moving(edges)
    (left, top), (right, bottom) = moved.min(axis=0), moved.max(axis=0)
    margin_x, margin_y = grow * (right - left), grow * (bottom - top)
    return (
        max(0.0, float(left - margin_x)),
        max(0.0, float(top - margin_y)),
        min(float(bounds[0]), float(right + margin_x)),
        min(float(bounds[1]), float(bottom + margin_y)),
    )


def aligned_window(
    transform: Transform,
    moving_rgb: np.ndarray,
    fixed_window: Window,
    moving_window: Window,
    shape: tuple[int, int],
) -> np.ndarray:
    """The moving window resampled into the fixed window's (H, W) pixels through ``transform``
    (fixed image px → moving image px); outside the moving window is glass."""
    moving_px = moving_window.from_image(
        transform.fixed_to_moving(fixed_window.to_image(pixel_grid(shape)))
    ).astype(np.float32)
    map_x, map_y = (moving_px[:, axis].reshape(shape) for axis in (0, 1))
    return cv2.remap(
        moving_rgb,
        map_x,
        map_y,
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(255, 255, 255),
    )


def refine_region(
    fixed_rgb: np.ndarray, aligned_rgb: np.ndarray, params: RegistrationParams = RegistrationParams()
) -> Registration:
    """The misfit left between the lesion window and the other section resampled into it:
    a transform of window px (fixed → aligned), from identity, by the high level's passes."""
    started = time.perf_counter()
    notes: list[str] = []
    fixed, moving = level_pair(fixed_rgb, aligned_rgb, params.high_side)
    identity = Transform(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    before, _ = residual_error(fixed, moving, identity, params)
    refined = high_level(fixed, moving, identity, params, notes)
    error, count = residual_error(fixed, moving, refined, params)
    notes.append(f"region: misfit {before:.2f} → {error:.2f} window px")
    return Registration(
        refined, error, count, {"region": refined}, {"region": time.perf_counter() - started}, notes
    )


def taper(shape: tuple[int, int]) -> np.ndarray:
    """(H, W) weights: 1 inside, falling to 0 over ``TAPER`` of each side (raised cosine)."""
    ramps = []
    for size in shape:
        position = np.minimum(np.arange(size) + 0.5, size - np.arange(size) - 0.5) / max(TAPER * size, 1e-9)
        ramps.append(0.5 - 0.5 * np.cos(np.pi * np.clip(position, 0.0, 1.0)))
    return np.outer(ramps[0], ramps[1])


def with_region(
    transform: Transform, fixed_window: Window, shape: tuple[int, int], refined: Transform
) -> Transform:
    """``transform`` with the refinement of one window added as its ``RegionDetail``:
    inside the window T'(X) = T(X + f(X)), f = how far ``refined`` moves each window px
    (in image px); the added displacement T' − T is faded out towards the window's edges."""
    step = max(1.0, max(shape) / DETAIL_SIDE)
    grid = pixel_grid(shape, step)
    rows, columns = len(np.arange(0, shape[0], step)), len(np.arange(0, shape[1], step))
    flow = (refined.fixed_to_moving(grid) - grid) / fixed_window.scale
    image_px = fixed_window.to_image(grid)
    added = transform.fixed_to_moving(image_px + flow) - transform.fixed_to_moving(image_px)
    weights = taper((rows, columns)).reshape(-1, 1)
    field = (added * weights).reshape(rows, columns, 2).astype(np.float32)
    return transform.with_detail(
        RegionDetail(np.asarray(fixed_window.origin, np.float64), field, fixed_window.scale / step)
    )

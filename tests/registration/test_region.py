"""The lesion registered again at higher resolution (SPEC D2 high level, inside the lesion;
issue 15, item 2): a fine local bend inside one window of a real H&E, too fine for the
whole-section pass at thumbnail size, is found by the region pass and kept inside it."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pathodesk.registration import RegistrationParams, register
from pathodesk.registration.region import Window, aligned_window, refine_region, with_region
from pathodesk.registration.transform import Transform
from pathodesk.slides import open_slide
from tests.registration.test_register import known_warp, moving_image, restained

SIDE = 1200
LESION = (400, 400, 800, 800)  # x0, y0, x1, y1 in the crop's px
MARGIN = 50


@pytest.fixture(scope="module")
def full_resolution(samples: dict[str, Path]) -> np.ndarray:
    """The middle 1200 × 1200 px of the CMU H&E at its scanned resolution."""
    slide = open_slide(samples["svs"])
    try:
        width, height = slide.info.dimensions
        return slide.read_region((width // 2 - SIDE // 2, height // 2 - SIDE // 2), 0, (SIDE, SIDE))
    finally:
        slide.close()


def lesion_bend(shape: tuple[int, int]) -> Transform:
    """``known_warp`` plus a bend of 3 px with a 160 px wavelength inside the lesion only."""
    base = known_warp(shape)
    assert base.field is not None
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    x0, y0, x1, y1 = LESION
    inside = cv2.GaussianBlur(((xs > x0) & (xs < x1) & (ys > y0) & (ys < y1)).astype(np.float32), (0, 0), 40)
    local = (
        np.dstack([3 * np.sin(2 * np.pi * ys / 160), 3 * np.cos(2 * np.pi * xs / 160)]) * inside[..., None]
    )
    return Transform(base.affine, (base.field + local).astype(np.float32), 1.0)


def test_a_fine_bend_inside_the_lesion_is_found_by_the_region_pass(full_resolution: np.ndarray) -> None:
    truth = lesion_bend(full_resolution.shape[:2])
    moving = restained(moving_image(full_resolution, truth))
    # the whole section at the size the section-group job registers it: about 0.6 of its px
    whole = register(full_resolution, moving, RegistrationParams(high_side=768))

    x0, y0, x1, y1 = LESION
    ys, xs = np.mgrid[y0 + 40 : y1 - 40 : 10, x0 + 40 : x1 - 40 : 10]
    points = np.column_stack([xs.ravel(), ys.ravel()]).astype(np.float64)

    def error(found: Transform) -> float:
        return float(
            np.linalg.norm(found.fixed_to_moving(points) - truth.fixed_to_moving(points), axis=1).mean()
        )

    window = Window((float(x0 - MARGIN), float(y0 - MARGIN)), 1.0)
    shape = (y1 - y0 + 2 * MARGIN, x1 - x0 + 2 * MARGIN)
    aligned = aligned_window(whole.transform, moving, window, Window((0.0, 0.0), 1.0), shape)
    region = refine_region(full_resolution[y0 - MARGIN : y1 + MARGIN, x0 - MARGIN : x1 + MARGIN], aligned)
    refined = with_region(whole.transform, window, shape, region.transform)

    assert error(whole.transform) > 1.2  # the fine bend is lost at thumbnail size
    assert error(refined) < 0.6 and error(refined) < error(whole.transform) / 3
    assert region.error_px < 1.0 and region.patches > 50
    outside = np.array([[100.0, 100.0], [1100.0, 150.0], [150.0, 1100.0]])
    assert np.allclose(refined.fixed_to_moving(outside), whole.transform.fixed_to_moving(outside))

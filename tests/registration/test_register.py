"""Three-level registration (SPEC D2; issue 15, items 2 and 8) on a real H&E image: a known
affine and smooth warp are recovered, whatever the stain, turn or mirroring, and sections
that do not match are refused with a reason rather than aligned wrongly."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pathodesk.registration import RegistrationFailed, register
from pathodesk.registration.transform import Transform
from pathodesk.slides import open_slide
from pathodesk.slides.base import thumbnail


@pytest.fixture(scope="module")
def he_image(samples: dict[str, Path]) -> np.ndarray:
    """The CMU H&E sample read whole at a quarter of its size (about 550 × 740 px)."""
    slide = open_slide(samples["svs"])
    try:
        width, height = slide.info.dimensions
        return np.asarray(thumbnail(slide, max(width, height) // 4).convert("RGB"))
    finally:
        slide.close()


def known_warp(shape: tuple[int, int]) -> Transform:
    """Fixed px → moving px: 7° turn, 3 % larger, shifted, plus a smooth bend of up to 6 px."""
    height, width = shape
    affine = cv2.getRotationMatrix2D((width / 2, height / 2), 7.0, 1.03).astype(np.float64)
    affine[:, 2] += (12.0, -9.0)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    bend = np.dstack([6 * np.sin(2 * np.pi * ys / height), 4 * np.cos(2 * np.pi * xs / width)]).astype(
        np.float32
    )
    return Transform(affine, bend, 1.0)


def restained(rgb: np.ndarray) -> np.ndarray:
    """A different-looking stain: channels mixed so pink turns brown-blue, contrast changed."""
    mix = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.2, 0.9]], np.float32)
    return np.clip(rgb.astype(np.float32) @ mix.T * 1.1 - 10, 0, 255).astype(np.uint8)


def moving_image(fixed: np.ndarray, truth: Transform) -> np.ndarray:
    """The image a transform ``truth`` (fixed → moving) would register: fixed pushed forward."""
    height, width = fixed.shape[:2]
    inverse_x, inverse_y = np.zeros((height, width), np.float32), np.zeros((height, width), np.float32)
    ys, xs = np.mgrid[0:height, 0:width]
    back = truth.moving_to_fixed(np.column_stack([xs.ravel(), ys.ravel()]).astype(np.float64))
    inverse_x[:] = back[:, 0].reshape(height, width)
    inverse_y[:] = back[:, 1].reshape(height, width)
    return cv2.remap(
        fixed,
        inverse_x,
        inverse_y,
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(255, 255, 255),
    )


def grid_error(found: Transform, truth: Transform, fixed: np.ndarray) -> float:
    """Mean distance, in px, between where both put tissue points of the fixed image."""
    height, width = fixed.shape[:2]
    ys, xs = np.mgrid[height // 8 : height * 7 // 8 : 16, width // 8 : width * 7 // 8 : 16]
    points = np.column_stack([xs.ravel(), ys.ravel()]).astype(np.float64)
    tissue = fixed[points[:, 1].astype(int), points[:, 0].astype(int)].mean(axis=1) < 220
    return float(
        np.linalg.norm(
            found.fixed_to_moving(points[tissue]) - truth.fixed_to_moving(points[tissue]), axis=1
        ).mean()
    )


def test_a_known_affine_and_bend_are_recovered_across_stains(he_image: np.ndarray) -> None:
    truth = known_warp(he_image.shape[:2])
    moving = restained(moving_image(he_image, truth))
    result = register(he_image, moving)
    assert grid_error(result.transform, truth, he_image) < 2.0
    assert grid_error(result.stages["middle"], truth, he_image) > grid_error(
        result.transform, truth, he_image
    )
    assert result.error_px < 3.0 and result.patches > 20


def relabelled(truth: Transform, relabel: np.ndarray) -> Transform:
    """``truth`` followed by ``relabel`` (the moving image turned, mirrored or cut)."""
    linear = relabel[:, :2]
    assert truth.field is not None
    affine = np.column_stack([linear @ truth.affine[:, :2], linear @ truth.affine[:, 2] + relabel[:, 2]])
    return Transform(affine, (truth.field @ linear.T).astype(np.float32), 1.0)


@pytest.mark.parametrize("change", ["half turn", "mirrored", "a fifth cut away"])
def test_a_section_turned_face_down_or_cut_short_is_found(he_image: np.ndarray, change: str) -> None:
    truth = known_warp(he_image.shape[:2])
    moving = moving_image(he_image, truth)
    height, width = moving.shape[:2]
    cut = height // 5  # along the longer side, so the section's size changes too
    if change == "half turn":
        moving = cv2.rotate(moving, cv2.ROTATE_180)
        relabel = np.array([[-1.0, 0, width - 1], [0, -1.0, height - 1]])
    elif change == "mirrored":
        moving = np.ascontiguousarray(moving[:, ::-1])
        relabel = np.array([[-1.0, 0, width - 1], [0, 1.0, 0]])
    else:  # the top fifth of the section is missing
        moving = np.ascontiguousarray(moving[cut:])
        relabel = np.array([[1.0, 0, 0], [0, 1.0, -cut]])
    result = register(he_image, moving)
    assert grid_error(result.transform, relabelled(truth, relabel), he_image) < 2.0
    assert result.transform.summary()["flipped"] == (change == "mirrored")


def test_sections_of_different_tissue_are_refused_with_a_reason(he_image: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    unrelated = np.full_like(he_image, 245)
    for _ in range(40):  # blobs of 'tissue' that share nothing with the H&E
        centre = (int(rng.integers(0, he_image.shape[1])), int(rng.integers(0, he_image.shape[0])))
        cv2.circle(
            unrelated, centre, int(rng.integers(5, 40)), tuple(int(v) for v in rng.integers(60, 200, 3)), -1
        )
    with pytest.raises(RegistrationFailed) as refused:
        register(he_image, unrelated)
    assert "same tissue" in str(refused.value)


def test_a_blank_slide_is_refused(he_image: np.ndarray) -> None:
    with pytest.raises(RegistrationFailed, match="No tissue"):
        register(he_image, np.full_like(he_image, 250))

"""Binary morphology on whole-slide thumbnails with OpenCV (uint8 kernels), which runs
5-10x faster than scipy.ndimage on the 10-megapixel masks of a large slide."""

from __future__ import annotations

import cv2
import numpy as np


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def opening(mask: np.ndarray, radius: int) -> np.ndarray:
    return cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, _disk(radius)).astype(bool)


def closing(mask: np.ndarray, radius: int) -> np.ndarray:
    """Closing that treats everything outside the image as background, so objects are not
    glued to the border."""
    padded = cv2.copyMakeBorder(
        mask.astype(np.uint8), radius, radius, radius, radius, cv2.BORDER_CONSTANT, value=0
    )
    closed = cv2.morphologyEx(padded, cv2.MORPH_CLOSE, _disk(radius))
    return closed[radius:-radius, radius:-radius].astype(bool) if radius else closed.astype(bool)


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Background not reachable from the image border becomes foreground."""
    padded = cv2.copyMakeBorder(mask.astype(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    flood_mask = np.zeros((padded.shape[0] + 2, padded.shape[1] + 2), np.uint8)
    cv2.floodFill(padded, flood_mask, (0, 0), 2)
    return (padded != 2)[1:-1, 1:-1]


def components(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Label image (8-connected, 0 = background) and the pixel area of each label."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    return labels, stats[:, cv2.CC_STAT_AREA].copy()


def remove_small(mask: np.ndarray, min_px: int) -> np.ndarray:
    """Drop 8-connected objects smaller than ``min_px`` pixels."""
    if min_px <= 1 or not mask.any():
        return mask.astype(bool)
    labels, areas = components(mask)
    keep = areas >= min_px
    keep[0] = False
    return np.asarray(keep[labels])

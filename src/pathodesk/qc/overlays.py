"""QC pictures (issue 5, item 3): the thumbnail and one transparent overlay per check,
written once when QC runs and served to the report page and the viewer.

Overlays are two-colour palette PNGs (transparent / the check's colour at partial opacity):
a few kilobytes even for a 50k-pixel slide. A slide's pictures live in one folder named by
its checksum, written under a temporary name and renamed, so a reader never sees half.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from pathodesk.qc.checks import CHECKS
from pathodesk.qc.report import QcReport

MAX_SIDE_PX = 2048  # overlays cover the whole slide; more detail is the slide's own job
THUMBNAIL_NAME = "thumbnail.jpg"
OVERLAY_OPACITY = 150  # of 255
IMAGE_NAMES = frozenset({THUMBNAIL_NAME, *(f"{check}.png" for check in CHECKS)})


def _fit(image: Image.Image) -> Image.Image:
    scale = MAX_SIDE_PX / max(image.size)
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.NEAREST if image.mode == "P" else Image.Resampling.BOX)


def overlay_image(mask: np.ndarray, colour: tuple[int, int, int]) -> Image.Image:
    image = Image.fromarray(mask.astype(np.uint8), "P")
    image.putpalette([0, 0, 0, *colour])
    image.info["transparency"] = bytes([0, OVERLAY_OPACITY])
    return image


def write_images(report: QcReport, directory: Path, *, replace: bool = False) -> None:
    """Write the thumbnail and every check's overlay into ``directory`` (created whole);
    ``replace``: over the pictures of an earlier run, else those stay (same checksum, same
    pictures)."""
    if report.thumbnail is None or (directory.exists() and not replace):
        return
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=directory.parent))
    try:
        _fit(Image.fromarray(report.thumbnail)).save(staging / THUMBNAIL_NAME, quality=85)
        for check, mask in report.masks.items():
            image = _fit(overlay_image(mask, CHECKS[check].colour))
            image.save(staging / f"{check}.png", optimize=True, transparency=bytes([0, OVERLAY_OPACITY]))
        if replace and directory.exists():  # file by file: each is always there, old or new
            for written in staging.iterdir():
                os.replace(written, directory / written.name)
            staging.rmdir()
        else:
            os.replace(staging, directory)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not directory.exists():
            raise


def image_names(directory: Path) -> list[str]:
    """Overlay names present for a slide, in check order."""
    return [check for check in CHECKS if (directory / f"{check}.png").is_file()]

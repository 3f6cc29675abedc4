"""Cheap checks of what a file declares before anything reads its pixels (issue 20, F): a
1 MB TIFF may declare 100,000 x 100,000 px of empty tiles, and reading it for QC and
thumbnails would cost minutes of CPU and gigabytes of memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from pathodesk.errors import UnsupportedSlideError
from pathodesk.slides.base import SlideInfo

# an honest scan stores its background tiles too (white glass); a file whose level 0 is
# mostly holes is not a slide
MAX_MISSING_TILE_SHARE = 0.5


def check_declared_size(info: SlideInfo, max_pixels: int, name: str) -> None:
    width, height = info.dimensions
    if width * height > max_pixels:
        raise UnsupportedSlideError(
            "%(name)s declares %(width)s x %(height)s pixels, more than this server accepts (%(max_pixels)s)",
            name=name,
            width=width,
            height=height,
            max_pixels=format(max_pixels, ","),
        )


def check_tiles_present(path: Path, name: str) -> None:
    """For TIFF-based files: most level-0 tiles (or strips) must hold bytes."""
    try:
        with tifffile.TiffFile(path, _multifile=False) as tif:
            page = tif.pages[0]
            if not isinstance(page, tifffile.TiffPage):
                return
            counts = np.asarray(page.databytecounts)
    except (tifffile.TiffFileError, ValueError, IndexError, OSError):
        return  # not a TIFF: other formats are checked by their readers
    if counts.size and float((counts == 0).mean()) > MAX_MISSING_TILE_SHARE:
        raise UnsupportedSlideError(
            "%(name)s: most of its tiles are empty; the file holds no image", name=name
        )

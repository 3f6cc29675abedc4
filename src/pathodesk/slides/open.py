"""``open_slide``: pick the backend for a file by its content, not its name."""

from __future__ import annotations

from pathlib import Path

import openslide
import tifffile

from pathodesk.errors import UnsupportedSlideError
from pathodesk.slides.base import SlideReader
from pathodesk.slides.dicom_backend import DicomSlideReader
from pathodesk.slides.openslide_backend import OpenSlideReader
from pathodesk.slides.raster_backend import RasterSlideReader
from pathodesk.slides.tiff_backend import PYRAMID_SOFTWARE, TiffSlideReader

TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def _is_dicom(head: bytes) -> bool:
    return len(head) >= 132 and head[128:132] == b"DICM"


def _prefers_tifffile(path: Path) -> bool:
    """Our own pyramids, OME-TIFF and QPTIFF read better (and faster) through tifffile."""
    try:
        with tifffile.TiffFile(path) as tif:
            first = tif.pages[0]
            software = getattr(first, "software", "")
            return bool(tif.is_ome or tif.is_qpi or software == PYRAMID_SOFTWARE)
    except (tifffile.TiffFileError, ValueError, IndexError):
        return False


def open_slide(path: Path) -> SlideReader:
    """Open any supported slide, or raise ``UnsupportedSlideError`` saying why not."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(132)
    except OSError as exc:
        raise UnsupportedSlideError(f"cannot open {path.name}: {exc.strerror}") from exc
    if not head:
        raise UnsupportedSlideError(f"{path.name} is empty")
    if _is_dicom(head):
        return DicomSlideReader(path)
    is_tiff = head[:4] in TIFF_MAGICS
    if is_tiff and _prefers_tifffile(path):
        return TiffSlideReader(path)
    try:
        vendor = openslide.OpenSlide.detect_format(str(path))
    except openslide.OpenSlideError:
        vendor = None
    if vendor is not None:
        return OpenSlideReader(path)
    if is_tiff:
        return TiffSlideReader(path)
    return RasterSlideReader(path)

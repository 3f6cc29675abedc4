"""The slide formats PathoDesk reads: one entry per backend holds its reader, its content
sniffer, the file suffixes it answers to and its priority (as large_image's tile sources
declare theirs). ``open_slide`` asks the entries in priority order; ingest keeps an
upload's suffix only if some entry lists it (OpenSlide tells some formats by their name).

A new format: write its reader (``SlideReader``) in its own module and add one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import openslide
import tifffile

from pathodesk.slides.base import SlideReader
from pathodesk.slides.dicom_backend import DicomSlideReader
from pathodesk.slides.openslide_backend import OpenSlideReader
from pathodesk.slides.raster_backend import RasterSlideReader
from pathodesk.slides.tiff_backend import PYRAMID_SOFTWARE, TiffSlideReader

HEAD_BYTES = 132  # enough for every sniffer: DICOM's "DICM" sits at byte 128
TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


@dataclass(frozen=True)
class SlideBackend:
    name: str
    open: Callable[[Path], SlideReader]
    accepts: Callable[[Path, bytes], bool]  # (path, first HEAD_BYTES bytes) -> can read it
    suffixes: tuple[str, ...]
    priority: int  # lower is asked first


def _is_dicom(_path: Path, head: bytes) -> bool:
    return len(head) >= HEAD_BYTES and head[128:132] == b"DICM"


def _is_tiff(_path: Path, head: bytes) -> bool:
    return head[:4] in TIFF_MAGICS


def _prefers_tifffile(path: Path, head: bytes) -> bool:
    """Our own pyramids, OME-TIFF and QPTIFF read better (and faster) through tifffile."""
    if not _is_tiff(path, head):
        return False
    try:
        with tifffile.TiffFile(path, _multifile=False) as tif:
            software = getattr(tif.pages[0], "software", "")
            return bool(tif.is_ome or tif.is_qpi or software == PYRAMID_SOFTWARE)
    except (tifffile.TiffFileError, ValueError, IndexError):
        return False


def _openslide_knows(path: Path, _head: bytes) -> bool:
    try:
        return openslide.OpenSlide.detect_format(str(path)) is not None
    except openslide.OpenSlideError:
        return False


BACKENDS: tuple[SlideBackend, ...] = tuple(
    sorted(
        (
            SlideBackend("dicom", DicomSlideReader, _is_dicom, (".dcm",), 10),
            SlideBackend(
                "tifffile-pyramid",
                TiffSlideReader,
                _prefers_tifffile,
                (".ome.tif", ".ome.tiff", ".qptiff", ".tif", ".tiff"),
                20,
            ),
            SlideBackend(
                "openslide",
                OpenSlideReader,
                _openslide_knows,
                (".svs", ".tif", ".tiff", ".ndpi", ".vms", ".vmu", ".scn", ".mrxs", ".svslide", ".bif"),
                30,
            ),
            SlideBackend("tifffile", TiffSlideReader, _is_tiff, (".tif", ".tiff"), 40),
            # last: anything Pillow decodes (it says why when it cannot)
            SlideBackend(
                "raster", RasterSlideReader, lambda _path, _head: True, (".png", ".jpg", ".jpeg", ".bmp"), 90
            ),
        ),
        key=lambda backend: backend.priority,
    )
)


def supported_suffixes() -> frozenset[str]:
    return frozenset(suffix for backend in BACKENDS for suffix in backend.suffixes)


def backend_for(path: Path, head: bytes) -> SlideBackend:
    return next(backend for backend in BACKENDS if backend.accepts(path, head))

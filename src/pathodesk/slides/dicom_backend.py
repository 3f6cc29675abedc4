"""DICOM VL Whole Slide Microscopy images (one instance = one level, tiled frames).

Reads frames straight from the encapsulated pixel data and decodes them with Pillow, so
files that lack the optional WSI modules (like the shared TCGA sample: no PixelSpacing, no
DimensionOrganizationType) still open when their frame grid is unambiguous.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image
from pydicom.encaps import generate_frames

from pathodesk.errors import NotFoundError, UnsupportedSlideError
from pathodesk.slides.base import Size, SlideInfo, clip_to, white_canvas

WSI_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.77.1.6"
DECODABLE_SYNTAXES = {
    "1.2.840.10008.1.2.4.50": "JPEG baseline",
    "1.2.840.10008.1.2.4.90": "JPEG 2000 lossless",
    "1.2.840.10008.1.2.4.91": "JPEG 2000",
}


def _pixel_spacing_mm(ds: pydicom.Dataset) -> float | None:
    for group_name in ("SharedFunctionalGroupsSequence",):
        groups = ds.get(group_name)
        if not groups:
            continue
        measures = groups[0].get("PixelMeasuresSequence")
        if measures and "PixelSpacing" in measures[0]:
            return float(measures[0].PixelSpacing[0])
    return None


class DicomSlideReader:
    """One DICOM WSI instance; frames are cached decoded per call, not across calls."""

    thread_safe = True

    def __init__(self, path: Path) -> None:
        try:
            self._open(path, pydicom.dcmread(path))
        except UnsupportedSlideError:
            raise
        except Exception as exc:  # a damaged header fails in pydicom in many ways
            raise UnsupportedSlideError(
                "%(name)s is not a readable DICOM file: %(exc)s", name=path.name, exc=exc
            ) from exc

    def _open(self, path: Path, ds: pydicom.Dataset) -> None:
        if ds.get("SOPClassUID") != WSI_SOP_CLASS:
            raise UnsupportedSlideError("%(name)s is DICOM but not a whole-slide image", name=path.name)
        syntax = str(ds.file_meta.TransferSyntaxUID)
        if syntax not in DECODABLE_SYNTAXES:
            raise UnsupportedSlideError(
                "%(name)s: DICOM transfer syntax %(syntax)s is not supported", name=path.name, syntax=syntax
            )
        organisation = ds.get("DimensionOrganizationType")
        if organisation not in (None, "TILED_FULL"):
            raise UnsupportedSlideError(
                "%(name)s: DICOM frame organisation %(organisation)s is not supported (TILED_FULL only)",
                name=path.name,
                organisation=organisation,
            )
        self._tile_w, self._tile_h = int(ds.Columns), int(ds.Rows)
        width = int(ds.get("TotalPixelMatrixColumns") or ds.Columns)
        height = int(ds.get("TotalPixelMatrixRows") or ds.Rows)
        if min(self._tile_w, self._tile_h, width, height) < 1:
            raise UnsupportedSlideError("%(name)s holds no image", name=path.name)
        self._columns = math.ceil(width / self._tile_w)
        rows = math.ceil(height / self._tile_h)
        frame_count = int(ds.get("NumberOfFrames", 1))
        if frame_count != self._columns * rows:
            raise UnsupportedSlideError(
                "%(name)s: %(frame_count)s frames do not tile a %(width)sx%(height)s matrix",
                name=path.name,
                frame_count=frame_count,
                width=width,
                height=height,
            )
        try:
            self._frames = list(generate_frames(ds.PixelData, number_of_frames=frame_count))
        except Exception as exc:  # pydicom raises several types for broken fragments
            raise UnsupportedSlideError(
                "%(name)s: pixel data is damaged: %(exc)s", name=path.name, exc=exc
            ) from exc
        if len(self._frames) != frame_count:
            found = f"{len(self._frames)} of {frame_count} frames"
            raise UnsupportedSlideError("%(name)s: pixel data is damaged: %(exc)s", name=path.name, exc=found)
        self._size = (width, height)
        self._rows = rows
        self._column_major = False
        conformance = "TILED_FULL" if organisation else "DimensionOrganizationType missing"
        if self._padding_score(column_major=True) < self._padding_score(column_major=False):
            # TILED_FULL means row-major frames; some converters write them column by
            # column (the shared TCGA sample does). The flat padding of the edge frames
            # shows which order the file really uses.
            self._column_major = True
            conformance += "; frames stored column-major, read as such"
        spacing_mm = _pixel_spacing_mm(ds)
        mpp = spacing_mm * 1000 if spacing_mm else None
        self.info = SlideInfo(
            format="dicom",
            vendor=str(ds.get("Manufacturer")) if ds.get("Manufacturer") else None,
            level_dimensions=((width, height),),
            level_downsamples=(1.0,),
            mpp_x=mpp,
            mpp_y=mpp,
            objective_power=None,
            properties={
                "dicom.transfer_syntax": DECODABLE_SYNTAXES[syntax],
                "dicom.frames": str(frame_count),
                "dicom.conformance": conformance,
            },
        )
        self._decode_frame(len(self._frames) - 1)

    def _frame_index(self, col: int, row: int, column_major: bool | None = None) -> int:
        if self._column_major if column_major is None else column_major:
            return col * self._rows + row
        return row * self._columns + col

    def _padding_score(self, *, column_major: bool) -> float:
        """How far from flat the padding of the right and bottom frames is under one frame
        order; encoders pad with a single colour, so the true order scores lower."""
        width, height = self._size
        used_x = width - (self._columns - 1) * self._tile_w
        used_y = height - (self._rows - 1) * self._tile_h
        spread = []
        if used_x < self._tile_w:
            for row in range(self._rows - 1):
                frame = self._decode_frame(self._frame_index(self._columns - 1, row, column_major))
                spread.append(float(frame[:, used_x:].std()))
        if used_y < self._tile_h:
            for col in range(self._columns - 1):
                frame = self._decode_frame(self._frame_index(col, self._rows - 1, column_major))
                spread.append(float(frame[used_y:, :].std()))
        return float(np.mean(spread)) if spread else 0.0

    def _decode_frame(self, index: int) -> np.ndarray:
        try:
            with Image.open(io.BytesIO(self._frames[index])) as frame:
                pixels = np.asarray(frame.convert("RGB"))
        except OSError as exc:
            raise UnsupportedSlideError(
                "DICOM frame %(index)s cannot be decoded: %(exc)s", index=index, exc=exc
            ) from exc
        if pixels.shape[:2] != (self._tile_h, self._tile_w):
            wrong_size = f"{pixels.shape[1]}x{pixels.shape[0]} px, not {self._tile_w}x{self._tile_h}"
            raise UnsupportedSlideError(
                "DICOM frame %(index)s cannot be decoded: %(exc)s", index=index, exc=wrong_size
            )
        return pixels

    def read_region(self, location: Size, level: int, size: Size) -> np.ndarray:
        if level != 0:
            raise NotFoundError("level %(level)s does not exist", level=level)
        x, y = location
        out = white_canvas(size)
        x0, y0, x1, y1 = clip_to(x, y, size, self._size)
        if x1 <= x0 or y1 <= y0:
            return out
        tw, th = self._tile_w, self._tile_h
        for row in range(y0 // th, (y1 - 1) // th + 1):
            for col in range(x0 // tw, (x1 - 1) // tw + 1):
                tile = self._decode_frame(self._frame_index(col, row))
                tx0, ty0 = col * tw, row * th
                sx0, sy0 = max(x0, tx0), max(y0, ty0)
                sx1, sy1 = min(x1, tx0 + tw), min(y1, ty0 + th)
                out[sy0 - y : sy1 - y, sx0 - x : sx1 - x] = tile[sy0 - ty0 : sy1 - ty0, sx0 - tx0 : sx1 - tx0]
        return out

    def associated_image(self, name: str) -> Image.Image:
        raise NotFoundError("no associated image %(name)r", name=name)

    def close(self) -> None:
        self._frames = []

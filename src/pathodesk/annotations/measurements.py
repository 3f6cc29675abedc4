"""A slide's outlines as a table of measurements (CSV), as QuPath's "Export measurements" gives
them: one row per outline or counted cell, sizes in µm from the scanner's pixel size, ready for
a spreadsheet or a statistics package."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from shapely.geometry import shape

from pathodesk.annotations.geometry import longest_dimension
from pathodesk.annotations.identity import annotation_uid

COLUMNS = (
    "annotation_id",
    "uid",  # the same as the QuPath GeoJSON export's feature id
    "class",
    "shape",
    "source",
    "name",
    "comment",
    "author",
    "edited_by",
    "probability",
    "centroid_x_px",
    "centroid_y_px",
    "area_px",
    "perimeter_px",
    "max_diameter_px",
    "area_um2",
    "perimeter_um",
    "max_diameter_um",
)
# A spreadsheet runs a cell that starts like a formula (OWASP "CSV injection"): text typed by
# users (names, comments, classes) that starts so is written after an apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _number(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _row(found: dict[str, Any], mpp: float | None) -> list[str]:
    outline = shape(found["geometry"])
    centre = outline.centroid
    cell = found["shape"] == "point"  # a counted cell: its place, not the size of its marker
    area, perimeter = (None, None) if cell else (float(found["area_px"]), float(found["perimeter_px"]))
    diameter = None if cell else longest_dimension(outline)

    def microns(value: float | None, power: int, digits: int) -> str:
        return _number(value * mpp**power if value is not None and mpp else None, digits)

    return [
        str(found.get("id") or ""),
        annotation_uid(found.get("id")) or "",
        _text(found["label"]),
        found["shape"],
        found.get("source") or "",
        _text(found.get("name")),
        _text(found.get("comment")),
        _text(found.get("author")),
        _text(found.get("edited_by")),
        _number(found.get("probability"), 4),
        _number(centre.x, 1),
        _number(centre.y, 1),
        _number(area, 1),
        _number(perimeter, 1),
        _number(diameter, 1),
        microns(area, 2, 1),
        microns(perimeter, 1, 2),
        microns(diameter, 1, 2),
    ]


def measurements_csv(features: Iterable[dict[str, Any]], mpp: float | None) -> bytes:
    """UTF-8 with a byte-order mark, so that Excel shows Chinese names and comments right."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(_row(found, mpp) for found in features)
    return ("\ufeff" + out.getvalue()).encode("utf-8")

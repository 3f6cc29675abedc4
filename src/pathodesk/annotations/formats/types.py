"""The neutral form of an annotation as files carry it (A7, A13), shared by every format."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shapely.geometry import shape

from pathodesk.errors import ValidationFailedError

MAX_FILE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class FileRegion:
    """One outline as a file carries it: coordinates in level-0 pixels, a class name."""

    label: str | None
    geometry: dict[str, Any]  # GeoJSON Polygon / MultiPolygon
    shape: str = "polygon"
    color: str | None = None  # "#rrggbb"
    source: str | None = None
    probability: float | None = None
    uid: str | None = None  # a stable identity for formats that carry one (QuPath's feature id)
    extra: dict[str, Any] | None = None  # the format's own fields PathoDesk keeps, not uses
    name: str | None = None  # the pathologist's name for it (QuPath "name", ASAP's Name)
    comment: str | None = None


@dataclass(frozen=True)
class ParsedFile:
    format: str  # asap | geojson | imagescope
    regions: list[FileRegion]
    skipped: int  # shapes that are no outline and no counted cell (rulers, arrows)


def hex_colour(value: Any) -> str | None:
    """QuPath writes [r, g, b] or a packed int, ASAP '#rrggbb', ImageScope a BGR int."""
    if isinstance(value, str) and len(value) == 7 and value.startswith("#"):
        return value.lower()
    if isinstance(value, list | tuple) and len(value) >= 3:
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value[:3]):
            return None  # ["x", 0, 0] or [1.5, ...]: no colour rather than a guess
        r, g, b = (v & 0xFF for v in value[:3])
        return f"#{r:02x}{g:02x}{b:02x}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"#{(value >> 16) & 0xFF:02x}{(value >> 8) & 0xFF:02x}{value & 0xFF:02x}"
    return None


def ring_polygon(points: list[tuple[float, float]]) -> dict[str, Any]:
    if len(points) < 3:
        raise ValidationFailedError("an outline needs at least three vertices")
    ring = [[float(x), float(y)] for x, y in points]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def point_geometry(x: float, y: float) -> dict[str, Any]:
    """A counted cell as files carry it: its centre only. The import draws the stored disc."""
    return {"type": "Point", "coordinates": [float(x), float(y)]}


def point_centre(region: FileRegion) -> tuple[float, float] | None:
    """Where a counted cell is, for the formats that write dots; None for other shapes."""
    if region.shape != "point":
        return None
    centre = shape(region.geometry).centroid
    return None if centre.is_empty else (centre.x, centre.y)

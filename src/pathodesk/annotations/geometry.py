"""Annotation geometry in level-0 pixels: validated, clipped to the slide, measured.

Everything that leaves or enters the database passes through here, so that every stored
outline is a valid shapely (multi)polygon lying on the slide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, TypeAlias

import shapely
from shapely.geometry import MultiPolygon, Polygon, box, mapping, shape
from shapely.validation import explain_validity

from pathodesk.errors import ValidationFailedError

SHAPES = ("polygon", "rectangle", "ellipse", "freehand", "point")  # point: a counted cell, a small disc
MAX_VERTICES = 100_000
LOD_TOLERANCES = (2.0, 8.0)  # level-0 px; the viewer asks for half a screen pixel
# Repairing a self-crossing outline (make_valid) splits off slivers where the line crossed
# itself: MoNuSeg's hand-traced nuclei leave parts of 0.1-1 px² beside nuclei of 100-700 px².
# After a repair, parts smaller than both of these are dropped, so one outline stays one.
SLIVER_MAX_PX2 = 4.0
SLIVER_SHARE = 0.02  # of the largest part
Outline: TypeAlias = Polygon | MultiPolygon
# A counted cell (the point tool, a file's dot) is stored as a disc of this radius, 64 vertices,
# as the viewer draws it; files carry only its centre (ASAP Dot, GeoJSON Point).
POINT_RADIUS_UM = 3.0
POINT_RADIUS_PX = 6.0  # slides without a pixel size
POINT_VERTICES = 64


@dataclass(frozen=True)
class Measures:
    bounds: tuple[float, float, float, float]
    area_px: float
    perimeter_px: float
    vertex_count: int


def polygonal_part(geometry: shapely.Geometry) -> Outline | None:
    """The polygons in a geometry (make_valid and clipping may add lines or points)."""
    if isinstance(geometry, Polygon | MultiPolygon):
        return geometry if not geometry.is_empty else None
    polygons: list[Polygon] = []
    for part in getattr(geometry, "geoms", ()):  # collections; lines and points have none
        found = polygonal_part(part)
        if isinstance(found, Polygon) and not found.is_empty:
            polygons.append(found)
        elif isinstance(found, MultiPolygon):
            polygons.extend(found.geoms)
    if not polygons:
        return None
    return polygons[0] if len(polygons) == 1 else MultiPolygon(polygons)


def without_slivers(outline: Outline) -> Outline:
    """The parts of a repaired outline that are not slivers (see ``SLIVER_MAX_PX2``)."""
    if isinstance(outline, Polygon):
        return outline
    largest = max(part.area for part in outline.geoms)
    kept = [p for p in outline.geoms if p.area >= min(SLIVER_MAX_PX2, SLIVER_SHARE * largest)]
    return kept[0] if len(kept) == 1 else MultiPolygon(kept)


def parse_outline(data: Any, width: int, height: int, *, repair: bool = False) -> Outline:
    """A GeoJSON Polygon/MultiPolygon as a valid outline on a ``width`` x ``height`` slide.

    Self-intersections are an error (the editor must not save a broken shape) unless
    ``repair`` (freehand strokes and imported files), where shapely's make_valid fixes them.
    Parts outside the slide are clipped away, as a pathologist drawing past the edge expects.
    """
    if not isinstance(data, dict) or data.get("type") not in ("Polygon", "MultiPolygon"):
        raise ValidationFailedError("geometry must be a GeoJSON Polygon or MultiPolygon")
    try:
        geometry = shape(data)
    except (ValueError, TypeError, AttributeError, IndexError, shapely.errors.GEOSException) as exc:
        raise ValidationFailedError("geometry is not well-formed GeoJSON (%(exc)s)", exc=exc) from None
    count = shapely.get_num_coordinates(geometry)
    if count > MAX_VERTICES:
        raise ValidationFailedError(
            "geometry has %(count)s vertices; at most %(max_vertices)s",
            count=count,
            max_vertices=MAX_VERTICES,
        )
    if geometry.is_empty or not all(math.isfinite(v) for v in geometry.bounds):
        raise ValidationFailedError("geometry is empty or has coordinates that are not finite numbers")
    if not geometry.is_valid:
        if not repair:
            raise ValidationFailedError(
                "geometry is not a valid polygon: %(value)s", value=explain_validity(geometry)
            )
        repaired = polygonal_part(shapely.make_valid(geometry))
        if repaired is None:
            raise ValidationFailedError("geometry has no area once repaired")
        geometry = without_slivers(repaired)
    slide = box(0, 0, width, height)
    if not slide.contains(geometry):
        geometry = geometry.intersection(slide)
    outline = polygonal_part(geometry)
    if outline is None or outline.area <= 0:
        raise ValidationFailedError("geometry has no area on the slide")
    return outline


def measure(outline: Outline) -> Measures:
    x0, y0, x1, y1 = outline.bounds
    return Measures(
        (float(x0), float(y0), float(x1), float(y1)),
        float(outline.area),
        float(outline.length),
        int(shapely.get_num_coordinates(outline)),
    )


def to_geojson(outline: shapely.Geometry, digits: int | None = None) -> dict[str, Any]:
    """GeoJSON with lists (JSON columns and exports), not shapely's tuples."""

    def lists(value: Any) -> Any:
        if isinstance(value, list | tuple):
            return [lists(v) for v in value]
        return round(value, digits) if digits is not None else value

    geometry = mapping(outline)
    return {"type": geometry["type"], "coordinates": lists(geometry["coordinates"])}


def level_of_detail(outline: Outline, tolerance: float) -> dict[str, Any] | None:
    """The outline for views where ``tolerance`` level-0 px is below a screen pixel: computed
    once at save time, so that panning over thousands of outlines costs no geometry work.
    None when simplifying would not make it lighter."""
    lighter = outline.simplify(tolerance, preserve_topology=True)
    if shapely.get_num_coordinates(lighter) >= 0.8 * shapely.get_num_coordinates(outline):
        return None
    return to_geojson(lighter, digits=2)


def point_disc(x: float, y: float, mpp: float | None) -> Polygon:
    """The stored form of a counted cell centred at (x, y) level-0 px."""
    radius = POINT_RADIUS_UM / mpp if mpp else POINT_RADIUS_PX
    angles = [2 * math.pi * i / POINT_VERTICES for i in range(POINT_VERTICES)]
    return Polygon([(x + radius * math.cos(a), y + radius * math.sin(a)) for a in angles])


def longest_dimension(outline: shapely.Geometry) -> float:
    """The largest distance across an outline (its maximum Feret diameter), in its units: the
    tumour size a pathology report gives. The farthest pair of points lies on the convex hull."""
    hull = shapely.get_coordinates(outline.convex_hull)
    if len(hull) < 2:
        return 0.0
    gaps = hull[:, None, :] - hull[None, :, :]
    return float(math.sqrt((gaps**2).sum(axis=-1).max()))


def svg_path(outline: shapely.Geometry) -> str:
    """An outline's rings as an SVG path (``M x y L … Z``, holes included, drawn even-odd)."""
    rings: list[str] = []
    for polygon in getattr(outline, "geoms", [outline]):
        if not isinstance(polygon, Polygon):
            continue
        for ring in (polygon.exterior, *polygon.interiors):
            points = [f"{x:.0f} {y:.0f}" for x, y in ring.coords[:-1]]
            rings.append("M" + " L".join(points) + " Z")
    return " ".join(rings)

"""ASAP XML (A7), the CAMELYON format, written the way ASAP itself writes it.

<ASAP_Annotations><Annotations><Annotation Name Type PartOfGroup Color><Coordinates>
<Coordinate Order X Y/>... plus <AnnotationGroups><Group Name PartOfGroup Color><Attributes/>.
Circles and freehand strokes are written as polygons, counted cells as dots; each part of a
multi-part outline becomes one annotation of the same group. ASAP has no holes: as CAMELYON16 does, a hole is
written as an annotation of the exclusion group and read back as a hole in the region around
it (CAMELYON's "_2" group counts as exclusion too). Splines are read as the curve ASAP draws;
dots and point sets as counted cells.
"""

from __future__ import annotations

import re
from contextlib import suppress
from dataclasses import replace
from xml.etree.ElementTree import Element, SubElement, indent, tostring

from shapely.errors import GEOSException
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.ops import unary_union

from pathodesk.annotations.formats.catmull_rom import closed_catmull_rom
from pathodesk.annotations.formats.types import (
    FileRegion,
    ParsedFile,
    hex_colour,
    point_centre,
    point_geometry,
    ring_polygon,
)
from pathodesk.annotations.formats.xml_safety import number, parse_xml
from pathodesk.annotations.geometry import Outline, to_geojson
from pathodesk.annotations.labels import DEFAULT_COLOUR
from pathodesk.errors import ValidationFailedError

AREA_TYPES = {"polygon": "polygon", "spline": "polygon", "rectangle": "rectangle"}
POINT_TYPES = ("dot", "pointset")
DEFAULT_NAME = re.compile(r"Annotation \d+")
EXCLUSION = "Exclusion"
EXCLUSION_GROUPS = (EXCLUSION, "_2")
EXCLUSION_COLOUR = "#64fe2e"  # ASAP's colour for its exclusion group


def _coordinate(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".")


def _rings(outline: Outline) -> list[tuple[list[tuple[float, float]], bool]]:
    """(ring without its closing point, is a hole) for every part of ``outline``."""
    rings = []
    for part in outline.geoms if isinstance(outline, MultiPolygon) else [outline]:
        rings.append((list(part.exterior.coords)[:-1], False))
        rings += [(list(hole.coords)[:-1], True) for hole in part.interiors]
    return rings


def write(regions: list[FileRegion], group_colours: dict[str, str]) -> bytes:
    root = Element("ASAP_Annotations")
    annotations = SubElement(root, "Annotations")
    index = 0
    holes = False
    for region in regions:
        label = region.label or "None"
        centre = point_centre(region)
        for ring, is_hole in [([centre], False)] if centre else _rings(shape(region.geometry)):
            rectangle = region.shape == "rectangle" and len(ring) == 4 and not is_hole
            annotation = SubElement(
                annotations,
                "Annotation",
                Name=region.name or f"Annotation {index}",
                Type="Dot" if centre else "Rectangle" if rectangle else "Polygon",
                PartOfGroup=EXCLUSION if is_hole else label,
                Color=EXCLUSION_COLOUR
                if is_hole
                else region.color or group_colours.get(label, DEFAULT_COLOUR),
            )
            coordinates = SubElement(annotation, "Coordinates")
            for order, (x, y) in enumerate(ring):
                SubElement(coordinates, "Coordinate", Order=str(order), X=_coordinate(x), Y=_coordinate(y))
            index += 1
            holes = holes or is_hole
    groups = SubElement(root, "AnnotationGroups")
    colours = {
        name: group_colours.get(name, DEFAULT_COLOUR) for name in sorted({r.label or "None" for r in regions})
    }
    if holes:
        colours[EXCLUSION] = EXCLUSION_COLOUR
    for name, colour in colours.items():
        group = SubElement(groups, "Group", Name=name, PartOfGroup="None", Color=colour)
        SubElement(group, "Attributes")
    indent(root, space="\t")
    return b'<?xml version="1.0"?>\n' + tostring(root, encoding="utf-8") + b"\n"


def read(data: bytes) -> ParsedFile:
    root = parse_xml(data, "ASAP XML")
    if root.tag != "ASAP_Annotations":
        raise ValidationFailedError("ASAP XML must start with <ASAP_Annotations>")
    regions, exclusions, skipped = [], [], 0
    for annotation in root.iter("Annotation"):
        declared = (annotation.get("Type") or "Polygon").lower()
        kind = AREA_TYPES.get(declared)
        coordinates = sorted(
            annotation.iter("Coordinate"), key=lambda c: number(c.get("Order", "0"), "Coordinate Order")
        )
        group = annotation.get("PartOfGroup")
        label = None if group in (None, "", "None") else group
        colour, name = hex_colour(annotation.get("Color")), _name(annotation.get("Name"))
        if declared in POINT_TYPES and group not in EXCLUSION_GROUPS:
            regions += [
                FileRegion(label, point_geometry(x, y), "point", colour, name=name)
                for x, y in _points(coordinates)
            ]
            continue
        if kind is None or len(coordinates) < 3:
            skipped += 1  # rulers and arrows enclose no area
            continue
        points = _points(coordinates)
        if declared == "spline":
            points = closed_catmull_rom(points)
        if group in EXCLUSION_GROUPS:
            with suppress(GEOSException, ValueError):  # a hole that is no ring cuts nothing
                exclusions.append(Polygon(points))
            continue
        regions.append(
            FileRegion(
                label=label,
                geometry=ring_polygon(points),
                shape=kind,
                color=colour,
                name=name,
            )
        )
    return ParsedFile("asap", [_cut(region, exclusions) for region in regions], skipped)


def _name(value: str | None) -> str | None:
    """The pathologist's name for an annotation; ASAP's own numbering ("Annotation 3") is none."""
    text = "".join(ch for ch in value or "" if ch.isprintable())[:128].strip()
    return None if not text or DEFAULT_NAME.fullmatch(text) else text


def _points(coordinates: list[Element]) -> list[tuple[float, float]]:
    return [(number(c.get("X"), "Coordinate X"), number(c.get("Y"), "Coordinate Y")) for c in coordinates]


def _cut(region: FileRegion, exclusions: list[Polygon]) -> FileRegion:
    """The region with every exclusion that lies inside it taken out, as a hole."""
    if region.shape == "point":
        return region
    try:
        outline = Polygon(region.geometry["coordinates"][0])
    except (GEOSException, ValueError):
        return region  # the geometry checks downstream say what is wrong with it
    inside = [hole for hole in exclusions if hole.is_valid and outline.contains(hole)]
    if not inside:
        return region
    cut = Polygon(outline.exterior.coords, [hole.exterior.coords for hole in inside])
    return replace(
        region, geometry=to_geojson(cut if cut.is_valid else outline.difference(unary_union(inside)))
    )

"""Aperio ImageScope XML (import only): <Annotations><Annotation><Regions><Region Type>
<Vertices><Vertex X Y/>. The class is the annotation layer's Name when it has one."""

from __future__ import annotations

from pathodesk.annotations.formats.types import FileRegion, ParsedFile, hex_colour, ring_polygon
from pathodesk.annotations.formats.xml_safety import number, parse_xml
from pathodesk.errors import ValidationFailedError

# ImageScope region types: 0 free-hand/polygon, 1 rectangle, 2 ellipse, 3 arrow, 4 ruler, 5 point.
REGION_SHAPES = {"0": "polygon", "1": "rectangle", "2": "ellipse"}


def _bgr_to_hex(value: str | None) -> str | None:
    if not value or not (value.isascii() and value.isdigit()):  # "²" is a digit to Python
        return None
    bgr = int(value)
    return hex_colour(((bgr & 0xFF) << 16) | (bgr & 0xFF00) | ((bgr >> 16) & 0xFF))


def read(data: bytes) -> ParsedFile:
    root = parse_xml(data, "ImageScope XML")
    if root.tag != "Annotations":
        raise ValidationFailedError("ImageScope XML must start with <Annotations>")
    regions, skipped = [], 0
    for layer in root.iter("Annotation"):
        label = (layer.get("Name") or "").strip() or None
        colour = _bgr_to_hex(layer.get("LineColor"))
        for region in layer.iter("Region"):
            kind = REGION_SHAPES.get(region.get("Type", "0"))
            vertices = region.iter("Vertex")
            points = [(number(v.get("X"), "Vertex X"), number(v.get("Y"), "Vertex Y")) for v in vertices]
            if kind is None or len(points) < 3:
                skipped += 1
                continue
            regions.append(FileRegion(label=label, geometry=ring_polygon(points), shape=kind, color=colour))
    return ParsedFile("imagescope", regions, skipped)

"""ASAP XML (A7), the CAMELYON format, written the way ASAP itself writes it.

<ASAP_Annotations><Annotations><Annotation Name Type PartOfGroup Color><Coordinates>
<Coordinate Order X Y/>... plus <AnnotationGroups><Group Name PartOfGroup Color><Attributes/>.
Circles and freehand strokes are written as polygons; ASAP has no holes, so each part of a
multi-part outline becomes one annotation of the same group.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element, SubElement, indent, tostring

from shapely.geometry import shape

from pathodesk.annotations.formats.types import FileRegion, ParsedFile, hex_colour, ring_polygon
from pathodesk.annotations.formats.xml_safety import number, parse_xml
from pathodesk.annotations.geometry import exterior_rings
from pathodesk.annotations.labels import DEFAULT_COLOUR
from pathodesk.errors import ValidationFailedError

AREA_TYPES = {"polygon": "polygon", "spline": "polygon", "rectangle": "rectangle"}


def _coordinate(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".")


def write(regions: list[FileRegion], group_colours: dict[str, str]) -> bytes:
    root = Element("ASAP_Annotations")
    annotations = SubElement(root, "Annotations")
    index = 0
    for region in regions:
        label = region.label or "None"
        for ring in exterior_rings(shape(region.geometry)):
            annotation = SubElement(
                annotations,
                "Annotation",
                Name=f"Annotation {index}",
                Type="Rectangle" if region.shape == "rectangle" and len(ring) == 4 else "Polygon",
                PartOfGroup=label,
                Color=region.color or group_colours.get(label, DEFAULT_COLOUR),
            )
            coordinates = SubElement(annotation, "Coordinates")
            for order, (x, y) in enumerate(ring):
                SubElement(coordinates, "Coordinate", Order=str(order), X=_coordinate(x), Y=_coordinate(y))
            index += 1
    groups = SubElement(root, "AnnotationGroups")
    for name in sorted({r.label or "None" for r in regions}):
        group = SubElement(
            groups, "Group", Name=name, PartOfGroup="None", Color=group_colours.get(name, DEFAULT_COLOUR)
        )
        SubElement(group, "Attributes")
    indent(root, space="\t")
    return b'<?xml version="1.0"?>\n' + tostring(root, encoding="utf-8") + b"\n"


def read(data: bytes) -> ParsedFile:
    root = parse_xml(data, "ASAP XML")
    if root.tag != "ASAP_Annotations":
        raise ValidationFailedError("ASAP XML must start with <ASAP_Annotations>")
    regions, skipped = [], 0
    for annotation in root.iter("Annotation"):
        kind = AREA_TYPES.get((annotation.get("Type") or "Polygon").lower())
        coordinates = sorted(
            annotation.iter("Coordinate"), key=lambda c: number(c.get("Order", "0"), "Coordinate Order")
        )
        if kind is None or len(coordinates) < 3:
            skipped += 1  # dots, point sets and rulers enclose no area
            continue
        points = [
            (number(c.get("X"), "Coordinate X"), number(c.get("Y"), "Coordinate Y")) for c in coordinates
        ]
        group = annotation.get("PartOfGroup")
        regions.append(
            FileRegion(
                label=None if group in (None, "", "None") else group,
                geometry=ring_polygon(points),
                shape=kind,
                color=hex_colour(annotation.get("Color")),
            )
        )
    return ParsedFile("asap", regions, skipped)

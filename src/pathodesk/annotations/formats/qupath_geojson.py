"""QuPath GeoJSON (A13): a FeatureCollection whose features carry properties.objectType and
properties.classification {name, color}. PathoDesk's own fields ride along under
properties.pathodesk, which QuPath keeps and ignores; QuPath's own fields that PathoDesk does
not use (``KEPT``: name, isLocked, measurements, metadata, the object colour, objectType) are
kept on import and written back on export. Detections and cells (objectType) are machine
output, not an expert's outline: they come in as source "ai" and go out as what they were.
Counted cells go out as a Point, as QuPath's points tool writes them; a Point or MultiPoint
comes in as one counted cell per point."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from typing import Any

from pathodesk.annotations.formats.types import (
    FileRegion,
    ParsedFile,
    hex_colour,
    point_centre,
    point_geometry,
)
from pathodesk.annotations.labels import DEFAULT_COLOUR, hex_to_rgb
from pathodesk.errors import ValidationFailedError

KEPT = ("objectType", "name", "isLocked", "measurements", "metadata", "color")
MACHINE_OBJECTS = ("detection", "cell", "tile")
POINTS = ("Point", "MultiPoint")
READ_GEOMETRIES = ("Polygon", "MultiPolygon", *POINTS)  # lines (QuPath's rulers) are skipped
MAX_KEPT_BYTES = 16_384  # per feature: measurements of a cell are a few hundred bytes


def _text(value: object, limit: int, lines: bool = False) -> str | None:
    """A printable string (line breaks only where ``lines``), cut to ``limit``."""
    if not isinstance(value, str):
        return None
    cleaned = "".join(ch for ch in value if ch.isprintable() or (lines and ch == "\n"))[:limit].strip()
    return cleaned or None


def write(regions: list[FileRegion], group_colours: dict[str, str]) -> bytes:
    features = []
    for region in regions:
        properties: dict[str, Any] = {"objectType": "annotation", **(region.extra or {})}
        if region.name:
            properties["name"] = region.name
        if region.comment:
            properties["description"] = region.comment  # QuPath's annotation description
        if region.label:
            colour = region.color or group_colours.get(region.label, DEFAULT_COLOUR)
            properties["classification"] = {"name": region.label, "color": list(hex_to_rgb(colour))}
        properties["pathodesk"] = {
            "shape": region.shape,
            "source": region.source,
            "probability": region.probability,
        }
        centre = point_centre(region)
        features.append(
            {
                "type": "Feature",
                "id": region.uid or str(uuid.uuid4()),
                "geometry": point_geometry(*centre) if centre else region.geometry,
                "properties": properties,
            }
        )
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def _features(document: Any) -> list[Any]:
    if isinstance(document, list):  # QuPath also writes a bare list of features
        return document
    if isinstance(document, dict) and document.get("type") == "FeatureCollection":
        features = document.get("features") or []
        if not isinstance(features, list):
            raise ValidationFailedError("GeoJSON features must be a list")
        return features
    if isinstance(document, dict) and document.get("type") == "Feature":
        return [document]
    raise ValidationFailedError("GeoJSON must be a FeatureCollection, a Feature or a list of features")


def _not_a_number(name: str) -> float:
    raise ValidationFailedError("GeoJSON numbers must be finite; found %(name)s", name=name)


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationFailedError("%(what)s must be a JSON object", what=what)
    return value


def _class_name(classification: Any) -> str | None:
    """QuPath writes {"name": ..., "color": ...}, older files a plain string; a derived class
    ({"names": ["lung_scc", "Positive"]}) keeps its first part."""
    if isinstance(classification, str):
        return classification or None
    names = classification.get("names")
    name = classification.get("name") or (names[0] if isinstance(names, list) and names else None)
    return str(name) if name not in (None, "") else None


def read(data: bytes) -> ParsedFile:
    try:
        document = json.loads(data, parse_constant=_not_a_number)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailedError("not a readable GeoJSON file (%(exc)s)", exc=exc) from None
    except RecursionError:
        raise ValidationFailedError("GeoJSON nested too deeply") from None
    regions, skipped = [], 0
    for feature in _features(document):
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        if not isinstance(geometry, dict) or geometry.get("type") not in READ_GEOMETRIES:
            skipped += 1
            continue
        properties = _mapping(feature.get("properties"), "a feature's properties")
        classification = properties.get("classification")
        if not isinstance(classification, str):
            classification = _mapping(classification, "classification")
        ours = _mapping(properties.get("pathodesk"), "properties.pathodesk")
        probability = ours.get("probability")
        shape = ours.get("shape")
        source = ours.get("source")
        kept = {key: properties[key] for key in KEPT if key in properties}
        if len(json.dumps(kept)) > MAX_KEPT_BYTES:
            raise ValidationFailedError(
                "a feature's QuPath properties exceed %(value)s KiB", value=MAX_KEPT_BYTES // 1024
            )
        if properties.get("objectType") in MACHINE_OBJECTS:
            source = "ai"
        region = FileRegion(
            label=_class_name(classification),
            geometry=geometry,
            shape=shape if isinstance(shape, str) else "polygon",
            color=None if isinstance(classification, str) else hex_colour(classification.get("color")),
            source=source if isinstance(source, str) else None,
            probability=float(probability) if isinstance(probability, int | float) else None,
            name=_text(properties.get("name"), 128),
            comment=_text(properties.get("description"), 20_000, lines=True),
            extra=kept or None,
        )
        regions += _counted_cells(region) if geometry["type"] in POINTS else [region]
    return ParsedFile("geojson", regions, skipped)


def _counted_cells(region: FileRegion) -> list[FileRegion]:
    """One counted cell per point of a Point or MultiPoint feature."""
    coordinates = region.geometry.get("coordinates")
    points = [coordinates] if region.geometry["type"] == "Point" else coordinates
    if not isinstance(points, list) or not all(_is_xy(p) for p in points):
        raise ValidationFailedError("a GeoJSON point must be [x, y] numbers")
    return [replace(region, geometry=point_geometry(x, y), shape="point") for x, y, *_ in points]


def _is_xy(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) >= 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value[:2])
    )

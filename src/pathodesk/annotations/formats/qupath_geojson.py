"""QuPath GeoJSON (A13): a FeatureCollection whose features carry properties.objectType and
properties.classification {name, color}. PathoDesk's own fields ride along under
properties.pathodesk, which QuPath keeps and ignores."""

from __future__ import annotations

import json
import uuid
from typing import Any

from pathodesk.annotations.formats.types import FileRegion, ParsedFile, hex_colour
from pathodesk.annotations.labels import DEFAULT_COLOUR, hex_to_rgb
from pathodesk.errors import ValidationFailedError


def write(regions: list[FileRegion], group_colours: dict[str, str]) -> bytes:
    features = []
    for region in regions:
        properties: dict[str, Any] = {"objectType": "annotation"}
        if region.label:
            colour = region.color or group_colours.get(region.label, DEFAULT_COLOUR)
            properties["classification"] = {"name": region.label, "color": list(hex_to_rgb(colour))}
        properties["pathodesk"] = {
            "shape": region.shape,
            "source": region.source,
            "probability": region.probability,
        }
        features.append(
            {
                "type": "Feature",
                "id": str(uuid.uuid4()),
                "geometry": region.geometry,
                "properties": properties,
            }
        )
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def _features(document: Any) -> list[Any]:
    if isinstance(document, list):  # QuPath also writes a bare list of features
        return document
    if isinstance(document, dict) and document.get("type") == "FeatureCollection":
        return list(document.get("features") or [])
    if isinstance(document, dict) and document.get("type") == "Feature":
        return [document]
    raise ValidationFailedError("GeoJSON must be a FeatureCollection, a Feature or a list of features")


def read(data: bytes) -> ParsedFile:
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailedError(f"not a readable GeoJSON file ({exc})") from None
    regions, skipped = [], 0
    for feature in _features(document):
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
            skipped += 1
            continue
        properties = feature.get("properties") or {}
        classification = properties.get("classification") or {}
        ours = properties.get("pathodesk") or {}
        probability = ours.get("probability")
        regions.append(
            FileRegion(
                label=str(classification["name"]) if classification.get("name") else None,
                geometry=geometry,
                shape=ours.get("shape") or "polygon",
                color=hex_colour(classification.get("color")),
                source=ours.get("source"),
                probability=float(probability) if isinstance(probability, int | float) else None,
            )
        )
    return ParsedFile("geojson", regions, skipped)

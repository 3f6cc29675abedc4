"""GeoJSON outlines in level-0 pixels, as the editor and the importers produce them."""

from __future__ import annotations

import math
from typing import Any


def polygon(points: list[tuple[float, float]]) -> dict[str, Any]:
    ring = [[float(x), float(y)] for x, y in points]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def rectangle(x: float, y: float, w: float, h: float) -> dict[str, Any]:
    return polygon([(x, y), (x + w, y), (x + w, y + h), (x, y + h)])


def ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 64) -> dict[str, Any]:
    return polygon(
        [(cx + rx * math.cos(2 * math.pi * i / n), cy + ry * math.sin(2 * math.pi * i / n)) for i in range(n)]
    )

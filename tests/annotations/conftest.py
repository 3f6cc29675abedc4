"""A real slide (the CMU SVS) in expert A's lung case, and helpers to draw on it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from pathodesk.config import Settings
from pathodesk.db.session import Database
from pathodesk.ingest import ingest_staged, stage_copy
from tests.conftest import Accounts


def ingest_slide(settings: Settings, path: Path, exam_id: int, user_id: int) -> int:
    db = Database(settings.resolved_database_url())
    try:
        with db.session() as session:
            staged = stage_copy(settings, path)
            return ingest_staged(session, settings, staged, exam_id=exam_id, user_id=user_id).slide.id
    finally:
        db.dispose()


@pytest.fixture
def slide_id(settings: Settings, accounts: Accounts, samples: dict[str, Path]) -> int:
    return ingest_slide(settings, samples["svs"], accounts.exam_a_id, accounts.expert_a_id)


def polygon(points: list[tuple[float, float]]) -> dict[str, Any]:
    ring = [[float(x), float(y)] for x, y in points]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def rectangle(x: float, y: float, w: float, h: float) -> dict[str, Any]:
    return polygon([(x, y), (x + w, y), (x + w, y + h), (x, y + h)])


def ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 64) -> dict[str, Any]:
    return polygon(
        [(cx + rx * math.cos(2 * math.pi * i / n), cy + ry * math.sin(2 * math.pi * i / n)) for i in range(n)]
    )

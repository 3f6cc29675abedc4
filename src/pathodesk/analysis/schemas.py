"""What analysis requests may ask and what their results hold (validated both ways: the
API checks requests, the job checks its own result before it is kept)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from pathodesk.db.models import MAX_ID


class TileAnalysisParams(BaseModel):
    """What a tile analysis may be asked (API.md: analyze)."""

    model_id: Annotated[int, Field(ge=1, le=MAX_ID)] | None = None  # default: the active tile model
    tile_px: Annotated[int, Field(ge=32, le=8192)] | None = None
    outline: Literal["hull", "tiles"] = "hull"
    overlap: Literal[1, 2] = 1  # 2: tiles half a tile apart, finer outlines for 4x the work


class RegionSummary(BaseModel):
    annotation_id: int | None = None  # the AI annotation it became (server runs only)
    label: str
    probability: float
    std: float
    tiles: int  # grid cells (``cell_px`` wide)
    area_um2: float | None


class TileAnalysisResult(BaseModel):
    """The job's result and ``GET /slides/{id}/analysis``; the CLI's ``--json`` without the
    server's fields."""

    slide_id: int | None = None
    model_id: int | None = None
    model: str
    tile_px: int
    tiles: int
    overlap: int
    cell_px: int
    slide_label: str
    seconds: float
    labels: list[str]
    regions: list[RegionSummary]
    heatmaps: dict[str, str] = {}

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


class CascadeAnalysisParams(BaseModel):
    """What a cascade analysis may be asked (API.md: analyze with ``mode: cascade``)."""

    model_id: Annotated[int, Field(ge=1, le=MAX_ID)] | None = None  # default: the active fine model
    tile_px: Annotated[int, Field(ge=32, le=8192)] | None = None
    outline: Literal["hull", "tiles"] = "hull"
    objectness_threshold: Annotated[float, Field(gt=0, lt=1)] | None = None  # default: the card's
    margin_threshold: Annotated[float, Field(ge=0, lt=1)] | None = None  # default: the card's
    margin_tiles: Annotated[int, Field(ge=0, le=4)] = 1
    unsure_below: Annotated[float, Field(ge=0, le=1)] = 0.6
    boost: Annotated[float, Field(ge=0, le=10)] = 1.0


class RegionSummary(BaseModel):
    annotation_id: int | None = None  # the AI annotation it became (server runs only)
    label: str
    probability: float
    std: float
    tiles: int  # grid cells (``cell_px`` wide)
    area_um2: float | None


class ModelParts(BaseModel):
    """The model that analysed, for pages (its disease type by display name)."""

    disease_type: str
    version: int
    arch: str


class TileAnalysisResult(BaseModel):
    """The job's result and ``GET /slides/{id}/analysis``; the CLI's ``--json`` without the
    server's fields."""

    mode: Literal["tiles"] = "tiles"
    slide_id: int | None = None
    model_id: int | None = None
    model: str
    model_parts: ModelParts | None = None  # absent from results saved before it was kept
    tile_px: int
    tiles: int
    overlap: int
    cell_px: int
    slide_label: str
    seconds: float
    labels: list[str]
    regions: list[RegionSummary]
    heatmaps: dict[str, str] = {}
    parts: int = 1  # E7 split: how many parts the tiles were classified in
    part_workers: list[str] = []  # the workers that ran them


class CandidateSummary(BaseModel):
    box: list[int]  # level-0 x0, y0, x1, y1
    coarse_grade: str
    probability: float
    objectness: float
    tiles: int


class GradedRegionSummary(RegionSummary):
    coarse_grade: str
    fine_grade: str


class GradeSummary(BaseModel):
    name: str
    bethesda: str | None = None


class CascadeAnalysisResult(BaseModel):
    """A cascade's result (C1–C4): what ``TileAnalysisResult`` holds, plus the stages' work."""

    mode: Literal["cascade"] = "cascade"
    grades: list[GradeSummary]  # the disease type's coarse scale, least severe first
    slide_id: int | None = None
    model_id: int | None = None
    model: str
    model_parts: ModelParts | None = None
    coarse_model_id: int | None = None
    coarse_model: str
    coarse_model_parts: ModelParts | None = None
    tile_px: int
    cell_px: int
    seconds: float  # analysis wall time, models loaded beforehand
    stage_seconds: dict[str, float]
    tiles_high_res: int  # model windows graded at high power, sub-tile windows included
    tiles_exhaustive: int  # tissue tiles an exhaustive analysis grades
    tiles_read: int  # of those, read at high power
    sub_tiles: int
    high_res_fraction: float  # tiles_read / tiles_exhaustive
    slide_grade: str
    slide_grade_probability: float
    slide_label: str
    labels: list[str]
    candidates: list[CandidateSummary]
    regions: list[GradedRegionSummary]
    heatmaps: dict[str, str] = {}

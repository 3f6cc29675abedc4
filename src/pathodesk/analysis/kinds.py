"""Analysis kinds: one entry per way of analysing a slide, holding all its parts — the job
kind that runs it, the model role it needs, what a request may ask (``params``) and what
its result holds (``result``). The API (``POST /slides/{id}/analyze`` with ``kind``), the
CLI (``pathodesk analyze --kind``) and the worker pool all read this table.

Today: ``tiles`` (SPEC A4–A6). Next: ``cascade`` (C1–C5, roles coarse + fine) and
``multistain`` (D4–D6, role fusion) — each a new entry here with its own job module.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from pathodesk.analysis.job import run_tile_analysis
from pathodesk.analysis.schemas import TileAnalysisParams, TileAnalysisResult
from pathodesk.jobs.kinds import JobKind


@dataclass(frozen=True)
class AnalysisKind:
    name: str
    display_name: str
    model_role: str  # the registry role of the model it runs (``db.models.MODEL_ROLES``)
    job: JobKind
    params: type[BaseModel]
    result: type[BaseModel]


ANALYSIS_KINDS: dict[str, AnalysisKind] = {
    kind.name: kind
    for kind in (
        AnalysisKind(
            "tiles",
            "Tile classification and tumour outlines",
            "tile",
            JobKind("analyze", run_tile_analysis),
            TileAnalysisParams,
            TileAnalysisResult,
        ),
    )
}


def job_kinds() -> list[JobKind]:
    """Every job kind the workers run (analyses today; super-resolution and storage moves
    join here)."""
    return [kind.job for kind in ANALYSIS_KINDS.values()]

"""Analysis kinds: one entry per way of analysing a slide, holding all its parts — the job
kind that runs it, the model role it needs, what a request may ask (``params``) and what
its result holds (``result``). The API (``POST /slides/{id}/analyze`` with ``kind``), the
CLI (``pathodesk analyze --kind``) and the worker pool all read this table.

``tiles`` (SPEC A4–A6) and ``cascade`` (C1–C5, roles fine + coarse). Next: ``multistain``
(D4–D6, role fusion) — a new entry here with its own job module.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from pathodesk.analysis.job_names import CLASSIFY_KIND, IHC_KIND, PART_KIND, PREGENERATE_PART
from pathodesk.analysis.schemas import (
    CascadeAnalysisParams,
    CascadeAnalysisResult,
    TileAnalysisParams,
    TileAnalysisResult,
)
from pathodesk.jobs.kinds import JobKind


@dataclass(frozen=True)
class AnalysisKind:
    name: str
    display_name: str
    model_role: str  # the registry role of the model a request may choose (``db.models.MODEL_ROLES``)
    job: JobKind
    params: type[BaseModel]
    result: type[BaseModel]
    other_roles: tuple[str, ...] = ()  # active models of these roles run too


ANALYSIS_KINDS: dict[str, AnalysisKind] = {
    kind.name: kind
    for kind in (
        AnalysisKind(
            "tiles",
            "Tile classification and tumour outlines",
            "tile",
            JobKind("analyze", "pathodesk.analysis.job:run_tile_analysis"),
            TileAnalysisParams,
            TileAnalysisResult,
        ),
        AnalysisKind(
            "cascade",
            "Cascade grading: low power, then high power where it matters",
            "fine",
            JobKind("cascade", "pathodesk.analysis.cascade_job:run_cascade_analysis"),
            CascadeAnalysisParams,
            CascadeAnalysisResult,
            ("coarse",),
        ),
    )
}


def job_kinds() -> list[JobKind]:
    """Every job kind the workers run: analyses, the registration of section groups and
    nuclear IHC counts (the storage life cycle adds its own in ``lifecycle.kinds``). The
    handlers are named, not imported: they load the model stack when their first job runs."""
    return [
        *(kind.job for kind in ANALYSIS_KINDS.values()),
        JobKind("register", "pathodesk.analysis.section_job:run_section_registration"),
        JobKind(CLASSIFY_KIND, "pathodesk.analysis.section_classify_job:run_section_classification"),
        JobKind(IHC_KIND, "pathodesk.analysis.ihc_job:run_ihc_scoring"),
        JobKind("pregenerate", "pathodesk.analysis.superres_pregenerate:run_pregeneration"),
        JobKind(PART_KIND, "pathodesk.analysis.job:run_analysis_part"),
        JobKind(PREGENERATE_PART, "pathodesk.analysis.superres_pregenerate:run_pregeneration_part"),
    ]

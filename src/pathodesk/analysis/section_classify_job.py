"""Classify a lesion from all its stains (SPEC D4–D6; issue 16, item 5): run as the job behind
``POST /api/v1/section-groups/{id}/classify``.

The exam's active ``fusion`` model names the stains it reads; each is found among the
group's sections by its stain name. Every outline drawn on the reference (or the one asked
for) is cut into patches in every stain (``section_patches``), each stain brought to the
model's reference colours, and the network's class probabilities and squeeze-and-excitation
stain weights averaged over the lesion's patches: the lesion's class, and which stain the
model leaned on.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from sqlalchemy import select

from pathodesk.analysis.section_classify import model_sections
from pathodesk.analysis.section_patches import lesion_stacks
from pathodesk.analysis.sections import REGISTERED
from pathodesk.db.models import Annotation, SectionGroup
from pathodesk.errors import NotFoundError, ValidationFailedError
from pathodesk.i18n import N_
from pathodesk.jobs.context import JobContext
from pathodesk.ml import registry
from pathodesk.ml.fusion_data import centre_patches
from pathodesk.ml.fusion_model import FusionModel, load_fusion_model, stain_weights
from pathodesk.ml.model_folder import MODEL_FILE

CLASSIFYING = N_("classifying the lesion")


@lru_cache(maxsize=2)
def _fusion_model(path: str, sha256: str) -> FusionModel:
    """A version's file never changes: cached by its checksum."""
    del sha256
    return load_fusion_model(Path(path))


def run_section_classification(context: JobContext) -> dict[str, object]:
    group_id = int(context.params["group_id"])
    annotation_id = context.params.get("annotation_id")
    with context.db.session() as session:
        group = session.get(SectionGroup, group_id)
        if group is None:
            raise NotFoundError("section group %(group_id)s does not exist", group_id=group_id)
        row = registry.model_for_slide_type(session, group.exam.disease_type, "fusion")
        fusion = _fusion_model(str(registry.model_path(context.settings, row) / MODEL_FILE), row.sha256)
        sections = model_sections(session, group, fusion.stains)
        for section in sections:
            session.expunge(section.slide)
        query = select(Annotation).where(
            Annotation.slide_id == group.reference_slide_id,
            Annotation.deleted.is_(False),
            Annotation.source != REGISTERED,
        )
        if annotation_id is not None:
            query = query.where(Annotation.id == int(annotation_id))
        lesions = [
            (a.id, a.name, a.geometry)
            for a in session.scalars(query)
            if a.geometry.get("type") in ("Polygon", "MultiPolygon")
        ]
        model_row = {"id": row.id, "version": row.version, "arch": row.arch}
    if not lesions:
        raise ValidationFailedError("Draw the lesion on the reference section first.")
    results: list[dict[str, object]] = []
    for index, (lesion_id, name, geometry) in enumerate(lesions):
        context.report(0.05 + 0.9 * index / len(lesions), CLASSIFYING)
        stacks, _ = lesion_stacks(
            context.settings, sections, geometry, fusion.patch_px, fusion.microns_per_px
        )
        if not stacks:
            results.append({"annotation_id": lesion_id, "name": name, "patches": 0})
            continue
        recoloured = fusion.normalization.recoloured(stacks)
        probabilities, weights = stain_weights(
            fusion.model, fusion.normalization.tensor(centre_patches(recoloured, fusion.patch_px))
        )
        mean = probabilities.mean(axis=0)
        results.append(
            {
                "annotation_id": lesion_id,
                "name": name,
                "patches": len(stacks),
                "label": fusion.labels[int(mean.argmax())],
                "probabilities": {
                    label: round(float(p), 4) for label, p in zip(fusion.labels, mean, strict=True)
                },
                "stain_weights": {
                    stain: round(float(w), 4)
                    for stain, w in zip(fusion.stains, weights.mean(axis=0), strict=True)
                },
            }
        )
    return {"group_id": group_id, "model": model_row, "stains": fusion.stains, "lesions": results}

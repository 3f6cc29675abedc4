"""A lesion classified from all its stains (SPEC D4–D6; issue 16, item 5), as the routes
see it: which section of the group each stain the ``fusion`` model reads comes from, and the
group's last classification. The job itself is ``section_classify_job``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathodesk.analysis.job_names import CLASSIFY_KIND
from pathodesk.analysis.section_patches import Section
from pathodesk.analysis.sections import newest_transform
from pathodesk.db.models import Job, JobState, SectionGroup
from pathodesk.errors import ValidationFailedError
from pathodesk.registration import Transform


def _key(stain: str) -> str:
    return "".join(stain.casefold().split())


def model_sections(session: Session, group: SectionGroup, stains: Sequence[str]) -> list[Section]:
    """The group's section of each stain the model reads, in the model's order, with its
    newest transform onto the reference; a readable error for a stain the group lacks or a
    section not registered yet (said before a job is queued, and again when it runs)."""
    members = {_key(member.stain): member for member in group.members}
    missing = [stain for stain in stains if _key(stain) not in members]
    if missing:
        raise ValidationFailedError(
            "The model reads %(stains)s; this group has no %(missing)s section.",
            stains=", ".join(stains),
            missing=", ".join(missing),
        )
    sections = []
    for stain in stains:
        member = members[_key(stain)]
        transform = None
        if member.slide_id != group.reference_slide_id:
            stored = newest_transform(session, member.slide_id, group.reference_slide_id)
            if stored is None:
                raise ValidationFailedError("Register the sections before classifying the lesion.")
            transform = Transform.from_bytes(stored.data)
        sections.append(Section(member.slide, transform))
    if all(section.transform is not None for section in sections):
        raise ValidationFailedError(
            "The model does not read the group's reference stain, so it cannot place the lesion."
        )
    return sections


def last_classification(session: Session, group_id: int, reference_slide_id: int) -> Job | None:
    """The group's newest finished classification, shown again whenever its page or the
    case report is opened (the result lives on its job)."""
    jobs = session.scalars(
        select(Job)
        .where(
            Job.kind == CLASSIFY_KIND,
            Job.slide_id == reference_slide_id,
            Job.state == JobState.succeeded,
        )
        .order_by(Job.finished_at.desc(), Job.id.desc())
        .limit(100)
    )
    return next((job for job in jobs if (job.result or {}).get("group_id") == group_id), None)

"""The registration job of a section group (SPEC D1, D2; issue 15, item 1): every member
registered onto the reference on whole-slide thumbnails, then again inside the lesion drawn
on the reference at a finer pixel size (``section_lesion``), each transform stored as a new
version in level-0 px, then the reference's annotations carried across (``sections``).

A section that fails to register keeps its earlier transform (if any) and is reported with
the reason; the job fails only if none could be registered.
"""

from __future__ import annotations

from pathodesk.analysis.section_images import read_thumbnail
from pathodesk.analysis.section_lesion import refine_lesion
from pathodesk.analysis.sections import carry_all, lesion_box, newest_transform
from pathodesk.db.models import SectionGroup, Slide, SlideTransform
from pathodesk.errors import NotFoundError, ValidationFailedError
from pathodesk.i18n import N_
from pathodesk.jobs.context import JobContext
from pathodesk.registration import RegistrationFailed, register
from pathodesk.registration.scale import common_sides

THUMBNAIL_SIDE = 2048  # longest side of the largest image registered (all at one µm per px)
REGISTERING = N_("registering sections")


def run_section_registration(context: JobContext) -> dict[str, object]:
    group_id = int(context.params["group_id"])
    with context.db.session() as session:
        group = session.get(SectionGroup, group_id)
        if group is None:
            raise NotFoundError("section group %(group_id)s does not exist", group_id=group_id)
        reference = session.get(Slide, group.reference_slide_id)
        assert reference is not None
        members = [(m.slide_id, m.slide) for m in group.members if m.slide_id != group.reference_slide_id]
        slides = [reference, *(slide for _, slide in members)]
        sides = common_sides(
            [max(s.width, s.height) for s in slides], [s.mpp for s in slides], THUMBNAIL_SIDE
        )
        fixed, fixed_scale = read_thumbnail(context.settings, reference, sides[0])
        images = {
            slide_id: read_thumbnail(context.settings, slide, size)
            for (slide_id, slide), size in zip(members, sides[1:], strict=True)
        }
        reference_mpp = reference.mpp
        lesion = lesion_box(session, reference.id)
    outcomes: dict[str, dict[str, object]] = {}
    for index, (slide_id, _) in enumerate(members):
        context.report(0.05 + 0.85 * index / max(1, len(members)), REGISTERING)
        if context.should_stop():
            break
        moving, moving_scale = images[slide_id]
        try:
            result = register(fixed, moving)
        except RegistrationFailed as failed:
            outcomes[str(slide_id)] = {"registered": False, "reason": failed.detail}
            continue
        transform = result.transform.scaled(1 / fixed_scale, 1 / moving_scale)
        notes, lesion_summary = list(result.notes), None
        if lesion is not None:
            with context.db.session() as session:
                refined = refine_lesion(
                    context.settings,
                    session.get_one(Slide, group.reference_slide_id),
                    session.get_one(Slide, slide_id),
                    transform,
                    lesion,
                    1 / fixed_scale,
                    fixed_scale / moving_scale,
                )
            if refined is not None:
                transform = refined.transform
                notes.append(refined.note)
                lesion_summary = {
                    "error_px": round(refined.error_px, 3),
                    "error_um": round(refined.error_px * reference_mpp, 3) if reference_mpp else None,
                    "registered_at_mpp": refined.downsample * reference_mpp if reference_mpp else None,
                }
        transform = transform.compact()
        error_px = result.error_px / fixed_scale
        with context.db.session() as session:
            previous = newest_transform(session, slide_id, group.reference_slide_id)
            row = SlideTransform(
                group_id=group_id,
                slide_id=slide_id,
                reference_slide_id=group.reference_slide_id,
                version=(previous.version + 1) if previous else 1,
                data=transform.to_bytes(),
                registered_at_mpp=reference_mpp / fixed_scale if reference_mpp else None,
                error_px=round(error_px, 3),
                error_um=round(error_px * reference_mpp, 3) if reference_mpp else None,
                summary={
                    **transform.summary(),
                    "notes": notes,
                    "seconds": result.seconds,
                    "lesion": lesion_summary,
                },
                job_id=context.job_id,
            )
            session.add(row)
            session.commit()
            outcomes[str(slide_id)] = {
                "registered": True,
                "version": row.version,
                "error_px": row.error_px,
                "error_um": row.error_um,
            }
    if members and not any(outcome["registered"] for outcome in outcomes.values()):
        reasons = "; ".join(str(outcome.get("reason")) for outcome in outcomes.values())
        raise ValidationFailedError("No section could be registered: %(reasons)s", reasons=reasons)
    context.report(0.95, N_("carrying annotations"))
    with context.db.session() as session:
        group = session.get(SectionGroup, group_id)
        assert group is not None
        carried = carry_all(session, group, context.user_id)
        session.commit()
    for slide_id, count in carried.items():
        outcomes.setdefault(str(slide_id), {})["annotations_carried"] = count
    return {"group_id": group_id, "slides": outcomes}

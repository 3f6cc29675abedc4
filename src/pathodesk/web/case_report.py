"""A case's pathology report (A11, A13): per slide, the findings an expert signed off, their
sizes, and where they lie on a picture of the slide, ready to print from the browser.

A report states what was signed. An edit saved after a sign-off opens the next round and stays
out of the report until that round is signed too (the page says so). A slide never signed off
is reported from its live outlines and marked preliminary, so a draft is never taken for a
signed report.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from shapely.geometry import shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathodesk.analysis.ihc_job import counts_by_outline
from pathodesk.analysis.results import read_summary
from pathodesk.analysis.section_classify import last_classification
from pathodesk.annotations.geometry import longest_dimension, svg_path
from pathodesk.annotations.query import annotation_rows, feature
from pathodesk.annotations.review import review_rounds
from pathodesk.annotations.store import label_colours
from pathodesk.config import Settings
from pathodesk.db.models import Exam, Patient, ReviewRound, SectionGroup, Slide, SlideStatus, User, Verdict

LISTED_REGIONS = 200  # the largest, one row each; the rest count in the totals and the picture
FIGURE_DETAIL = 1000  # outlines drawn to 1/1000 of the slide's longer side (a printed picture)


@dataclass(frozen=True)
class Finding:
    """One outlined region, numbered as on the picture."""

    number: int
    label: str
    colour: str
    name: str | None
    comment: str | None
    source: str  # ai | expert | registered
    drawn_by: str | None  # display names, not accounts
    edited_by: str | None
    probability: float | None
    grade: str | None  # the cascade's coarse grade (C1); its fine grade is the class itself (C2)
    area_mm2: float | None
    longest_mm: float | None
    path: str  # SVG, level-0 px
    centre: tuple[float, float]
    nuclei: dict[str, Any] | None  # its Ki-67 count, made on this very outline


@dataclass(frozen=True)
class ClassTotal:
    label: str
    colour: str
    regions: int
    area_mm2: float | None
    cells: int  # counted with the point tool
    cell_centres: list[tuple[float, float]]


@dataclass(frozen=True)
class Signature:
    round: int
    verdict: Verdict
    opinion: str
    reviewer: str | None
    reviewer_place: str | None  # hospital · department
    at: datetime


@dataclass(frozen=True)
class SlideReport:
    slide: Slide
    findings: list[Finding]  # largest first, at most LISTED_REGIONS
    unlisted: int
    totals: list[ClassTotal]
    figure: list[Finding]  # every region, for the picture
    signature: Signature | None
    edited_since: bool  # changes after the signed round wait for the next sign-off
    analysis: dict[str, Any] | None  # the AI's model and its call for the slide

    @property
    def label_size(self) -> float:
        """Region numbers' height on the picture, in level-0 px."""
        return max(self.slide.width, self.slide.height) / 28


@dataclass(frozen=True)
class LesionClass:
    """A lesion classified from all its stains (D4–D6): its class and how sure the model was."""

    name: str
    label: str | None  # None: no tissue inside the outline
    probability: float | None


@dataclass(frozen=True)
class SectionClassification:
    group: str
    stains: list[str]
    at: datetime | None
    lesions: list[LesionClass]


@dataclass(frozen=True)
class CaseReport:
    exam: Exam
    patient: Patient
    age: int | None
    slides: list[SlideReport]
    sections: list[SectionClassification]

    @property
    def signed_off(self) -> bool:
        return bool(self.slides) and all(s.signature and not s.edited_since for s in self.slides)


def slides_in_order(exam: Exam) -> list[Slide]:
    """A case's slides as numbered on the glass: "2" before "10", then "A1" before "A2"."""

    def key(slide: Slide) -> tuple[list[tuple[int, int | str]], int]:
        parts = re.findall(r"\d+|\D+", slide.slide_number)
        return [(0, int(p)) if p.isdigit() else (1, p) for p in parts], slide.id

    return sorted(exam.slides, key=key)


def case_report(session: Session, settings: Settings, exam: Exam) -> CaseReport:
    reports = [_slide_report(session, settings, slide) for slide in slides_in_order(exam)]
    patient = exam.patient
    age = _age(patient.birth_date, exam.admitted_on or date.today())
    return CaseReport(exam, patient, age, reports, _sections(session, exam))


def _sections(session: Session, exam: Exam) -> list[SectionClassification]:
    """Each group of serial sections' last classification of its lesions."""
    found = []
    groups = session.scalars(
        select(SectionGroup).where(SectionGroup.exam_id == exam.id).order_by(SectionGroup.id)
    )
    for group in groups:
        job = last_classification(session, group.id, group.reference_slide_id)
        if job is None or job.result is None:
            continue
        result: dict[str, Any] = job.result
        lesions = [
            LesionClass(
                name=str(lesion.get("name") or lesion["annotation_id"]),
                label=lesion.get("label"),
                probability=(lesion.get("probabilities") or {}).get(lesion.get("label")),
            )
            for lesion in result.get("lesions", [])
        ]
        found.append(
            SectionClassification(group.name, list(result.get("stains", [])), job.finished_at, lesions)
        )
    return found


def _age(born: date | None, on: date) -> int | None:
    if born is None:
        return None
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _signed_round(session: Session, slide: Slide) -> ReviewRound | None:
    """The last round that ended in a verdict (approved or rejected), not a request for edits."""
    signed = [r for r in review_rounds(session, slide.id) if r.verdict != Verdict.needs_revision]
    return signed[-1] if signed else None


def _slide_report(session: Session, settings: Settings, slide: Slide) -> SlideReport:
    signed = _signed_round(session, slide)
    features: list[dict[str, Any]]
    if signed is not None:
        features = list(signed.annotations)  # as frozen at the sign-off
    else:
        colours = label_colours(session, slide)
        features = [feature(row, slide, colours) for row in annotation_rows(session, slide.id)]
    people = _people(session, [f.get("author") for f in features] + [f.get("edited_by") for f in features])
    regions = [f for f in features if f["shape"] != "point"]
    cells = [f for f in features if f["shape"] == "point"]
    counts = counts_by_outline(session, slide.id)
    figure = [
        _finding(number, f, slide, people, counts.get((f["id"], f["version"])))
        for number, f in enumerate(sorted(regions, key=lambda f: -float(f["area_px"])), start=1)
    ]
    return SlideReport(
        slide=slide,
        findings=figure[:LISTED_REGIONS],
        unlisted=max(0, len(figure) - LISTED_REGIONS),
        totals=_totals(figure, cells, slide),
        figure=figure,
        signature=_signature(signed) if signed else None,
        edited_since=signed is not None and slide.status != SlideStatus.reviewed,
        analysis=_analysis(settings, slide),
    )


def _people(session: Session, accounts: Iterable[str | None]) -> dict[str, str]:
    wanted = {a for a in accounts if a}
    if not wanted:
        return {}
    rows = session.execute(select(User.account, User.name).where(User.account.in_(wanted)))
    return {account: name for account, name in rows}


def _finding(
    number: int,
    found: dict[str, Any],
    slide: Slide,
    people: dict[str, str],
    nuclei: dict[str, Any] | None = None,
) -> Finding:
    outline = shape(found["geometry"])
    mpp = slide.mpp
    picture = outline.simplify(max(slide.width, slide.height) / FIGURE_DETAIL, preserve_topology=True)
    properties = found.get("properties") or {}
    centre = outline.representative_point()
    author, editor = found.get("author"), found.get("edited_by")
    return Finding(
        number=number,
        label=found["label"],
        colour=found.get("color") or "#808080",
        name=found.get("name"),
        comment=found.get("comment"),
        source=found["source"],
        drawn_by=people.get(author, author) if author else None,
        edited_by=people.get(editor, editor) if editor else None,
        probability=found.get("probability"),
        grade=properties.get("coarse_grade"),
        area_mm2=float(found["area_px"]) * mpp * mpp / 1e6 if mpp else None,
        longest_mm=longest_dimension(outline) * mpp / 1000 if mpp else None,
        path=svg_path(picture),
        centre=(centre.x, centre.y),
        nuclei=nuclei,
    )


def _totals(regions: list[Finding], cells: list[dict[str, Any]], slide: Slide) -> list[ClassTotal]:
    """Per class: its regions, their area and the cells counted; the largest area first."""
    by_label: dict[str, list[Finding]] = defaultdict(list)
    for region in regions:
        by_label[region.label].append(region)
    centres: dict[str, list[tuple[float, float]]] = defaultdict(list)
    colours = {region.label: region.colour for region in regions}
    for cell in cells:
        x0, y0, x1, y1 = cell["bbox"]
        centres[cell["label"]].append(((x0 + x1) / 2, (y0 + y1) / 2))
        colours.setdefault(cell["label"], cell.get("color") or "#808080")
    areas = {label: sum(r.area_mm2 or 0.0 for r in by_label[label]) for label in colours}
    return [
        ClassTotal(
            label=label,
            colour=colours[label],
            regions=len(by_label[label]),
            area_mm2=areas[label] if slide.mpp else None,
            cells=len(centres[label]),
            cell_centres=centres[label],
        )
        for label in sorted(colours, key=lambda name: -areas[name])
    ]


def _signature(signed: ReviewRound) -> Signature:
    reviewer = signed.reviewer
    place = " · ".join(p for p in (reviewer.hospital, reviewer.department) if p) if reviewer else ""
    return Signature(
        round=signed.round,
        verdict=signed.verdict,
        opinion=signed.opinion,
        reviewer=reviewer.name if reviewer else None,
        reviewer_place=place or None,
        at=signed.reviewed_at,
    )


def _analysis(settings: Settings, slide: Slide) -> dict[str, Any] | None:
    summary = read_summary(settings, slide)
    if summary is None:
        return None
    grade = summary.get("slide_grade")
    bethesda = {g["name"]: g.get("bethesda") for g in summary.get("grades", [])}.get(grade)
    return {
        "model": summary.get("model"),
        "model_parts": summary.get("model_parts"),  # for the disease type's display name
        "call": summary.get("slide_label"),
        "grade": grade,
        "bethesda": bethesda,  # the thyroid cascade's grades stand for Bethesda categories (C1)
    }

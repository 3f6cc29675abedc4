"""Annotation files out of the platform (A7, A13): per slide ASAP XML and QuPath GeoJSON, and
the administrator's zip of every reviewed slide."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathodesk.annotations.formats import WRITERS, FileRegion
from pathodesk.annotations.identity import annotation_uid
from pathodesk.annotations.measurements import measurements_csv
from pathodesk.annotations.review import describe_round
from pathodesk.annotations.store import label_colours
from pathodesk.db.models import ReviewRound, Slide


def regions_of(features: Iterable[dict[str, Any]]) -> list[FileRegion]:
    return [
        FileRegion(
            label=f["label"],
            geometry=f["geometry"],
            shape=f["shape"],
            color=f.get("color"),
            source=f.get("source"),
            probability=f.get("probability"),
            uid=annotation_uid(f.get("id")),
            extra=f.get("properties"),
            name=f.get("name"),
            comment=f.get("comment"),
        )
        for f in features
    ]


def render(kind: str, features: Iterable[dict[str, Any]], colours: dict[str, str]) -> bytes:
    return WRITERS[kind](regions_of(features), colours)


def reviewed_zip(session: Session) -> bytes:
    """Each reviewed slide's latest round as XML + GeoJSON + measurements (CSV) + the review
    itself (no patient data)."""
    latest = (
        select(ReviewRound.slide_id, func.max(ReviewRound.round).label("round"))
        .group_by(ReviewRound.slide_id)
        .subquery()
    )
    rounds = session.scalars(
        select(ReviewRound)
        .join(latest, (ReviewRound.slide_id == latest.c.slide_id) & (ReviewRound.round == latest.c.round))
        .order_by(ReviewRound.slide_id)
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for review in rounds:
            slide = session.get(Slide, review.slide_id)
            if slide is None:
                continue
            colours = label_colours(session, slide)
            stem = f"slide-{slide.id}/round-{review.round}"
            for kind in WRITERS:
                archive.writestr(f"{stem}.{kind}", render(kind, review.annotations, colours))
            archive.writestr(f"{stem}.csv", measurements_csv(review.annotations, slide.mpp))
            summary = {
                "slide_id": slide.id,
                "slide_number": slide.slide_number,
                "disease_type": slide.exam.disease_type,
                **describe_round(review),
            }
            archive.writestr(f"{stem}.review.json", json.dumps(summary, indent=2))
    return buffer.getvalue()

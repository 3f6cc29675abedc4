"""Expert sign-off (A11): a verdict and a diagnostic opinion freeze the round's annotations.

approved / rejected: the slide is reviewed; a later edit opens the next round.
needs_revision: the round is recorded and the next one opens at once for the corrections.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pathodesk.annotations.query import annotation_rows, feature
from pathodesk.annotations.store import label_colours, lock_slide
from pathodesk.db.models import ReviewRound, Slide, SlideStatus, Verdict
from pathodesk.errors import ConflictError, NotFoundError


def submit_review(
    session: Session, slide: Slide, verdict: Verdict, opinion: str, reviewer_id: int
) -> ReviewRound:
    """The slide's row is locked first and read again, then its annotations: an edit saved at
    the same moment lands either before the sign-off (and is frozen with it) or after it (and
    opens the next round), never between the look at the annotations and the sign-off."""
    lock_slide(session, slide)
    if slide.status == SlideStatus.reviewed:
        slide.review_round += 1  # a second opinion on a signed round is a round of its own
    colours = label_colours(session, slide)
    review = ReviewRound(
        slide_id=slide.id,
        round=slide.review_round,
        verdict=verdict,
        opinion=opinion,
        reviewer_id=reviewer_id,
        annotations=[feature(a, slide, colours) for a in annotation_rows(session, slide.id)],
    )
    session.add(review)
    if verdict == Verdict.needs_revision:
        slide.review_round += 1
        slide.status = SlideStatus.in_review
    else:
        slide.status = SlideStatus.reviewed
    try:
        session.flush()
    except IntegrityError:
        raise ConflictError("someone else signed this round off at the same moment; reload") from None
    return review


def describe_round(review: ReviewRound) -> dict[str, Any]:
    """A signed round as the API and the reviewed-annotations zip show it (no patient data)."""
    return {
        "round": review.round,
        "verdict": review.verdict.value,
        "opinion": review.opinion,
        "reviewer": review.reviewer.account if review.reviewer else None,
        "reviewer_name": review.reviewer.name if review.reviewer else None,  # what pages show
        "reviewed_at": review.reviewed_at.isoformat(),
        "annotations": len(review.annotations),
    }


def review_rounds(session: Session, slide_id: int) -> list[ReviewRound]:
    query = select(ReviewRound).where(ReviewRound.slide_id == slide_id).order_by(ReviewRound.round)
    return list(session.scalars(query))


def review_round(session: Session, slide_id: int, round_number: int) -> ReviewRound:
    found = session.scalar(
        select(ReviewRound).where(ReviewRound.slide_id == slide_id, ReviewRound.round == round_number)
    )
    if found is None:
        raise NotFoundError(
            "slide %(slide_id)s has no reviewed round %(round_number)s",
            slide_id=slide_id,
            round_number=round_number,
        )
    return found

"""A sign-off (A11) and an annotation edit (A10) by two experts at the same moment, on SQLite
and on PostgreSQL. Whatever the order, a signed round holds exactly the annotations that were
signed, and a slide marked reviewed shows what was signed; an edit after the sign-off opens
the next round, which can be signed in turn."""

from __future__ import annotations

import pytest

from pathodesk.accounts import create_user
from pathodesk.annotations import store
from pathodesk.annotations.query import annotation_rows
from pathodesk.annotations.review import review_rounds, submit_review
from pathodesk.db.models import Annotation, Role, Slide, SlideStatus, Verdict
from tests.storage.library import Library
from tests.support.races import meanwhile
from tests.support.shapes import rectangle


@pytest.fixture
def library(library_on_each_database: Library) -> Library:
    return library_on_each_database


def expert(library: Library, account: str) -> int:
    with library.db.session() as session:
        return create_user(
            session, account=account, name=account, password="a long passphrase", role=Role.expert
        ).id


def outlined_slide(library: Library, author: int) -> tuple[int, int]:
    """A slide in review with one expert outline; (slide id, annotation id)."""
    slide_id = library.slide(library.exam())
    with library.db.session() as session:
        slide = session.get(Slide, slide_id)
        assert slide is not None
        (annotation,) = store.create_many(
            session, slide, [store.Draft("lung_aca", rectangle(10, 10, 80, 60))], author
        )
        session.commit()
        return slide_id, annotation.id


def sign(library: Library, slide_id: int, reviewer: int) -> None:
    with library.db.session() as session:
        slide = session.get(Slide, slide_id)
        assert slide is not None
        submit_review(session, slide, Verdict.approved, "Adenocarcinoma.", reviewer)


def widen(library: Library, slide_id: int, annotation_id: int, author: int) -> None:
    with library.db.session() as session:
        slide, annotation = session.get(Slide, slide_id), session.get(Annotation, annotation_id)
        assert slide is not None and annotation is not None
        store.update(
            session, slide, annotation, annotation.version, {"geometry": rectangle(10, 10, 120, 60)}, author
        )


def _width(feature: dict[str, object]) -> float:
    ring = feature["geometry"]["coordinates"][0]  # type: ignore[index]
    xs = [point[0] for point in ring]
    return float(max(xs) - min(xs))


def state(library: Library, slide_id: int) -> tuple[SlideStatus, int, list[float]]:
    """The slide's status and round, and the widths of its live outlines."""
    with library.db.session() as session:
        slide = session.get(Slide, slide_id)
        assert slide is not None
        widths = [_width({"geometry": row.geometry}) for row in annotation_rows(session, slide_id)]
        return slide.status, slide.review_round, widths


def test_an_edit_based_on_what_was_read_before_a_sign_off_opens_the_next_round(library: Library) -> None:
    """The editor read the slide in review; another expert signs the round off; then the edit
    is saved. It must open round 2: reopening round 1 would leave a slide whose next sign-off
    always collides with the round already signed."""
    first, second = expert(library, "first"), expert(library, "second")
    slide_id, annotation_id = outlined_slide(library, first)
    with library.db.session() as session:
        slide, annotation = session.get(Slide, slide_id), session.get(Annotation, annotation_id)
        assert slide is not None and annotation is not None and slide.status == SlideStatus.in_review
        sign(library, slide_id, second)  # meanwhile, on another server
        store.update(
            session, slide, annotation, annotation.version, {"geometry": rectangle(10, 10, 120, 60)}, first
        )
        session.commit()
    assert state(library, slide_id) == (SlideStatus.in_review, 2, [120.0])
    sign(library, slide_id, second)  # the next round can be signed
    assert state(library, slide_id)[:2] == (SlideStatus.reviewed, 2)
    assert [_widths(library, slide_id, n) for n in (1, 2)] == [[80.0], [120.0]]


def _widths(library: Library, slide_id: int, round_number: int) -> list[float]:
    with library.db.session() as session:
        (review,) = [r for r in review_rounds(session, slide_id) if r.round == round_number]
        return [_width(feature) for feature in review.annotations]


def test_an_edit_saved_while_a_round_is_signed_is_frozen_with_it_or_opens_the_next(library: Library) -> None:
    """The sign-off has read the annotations it freezes when the other expert's edit is saved.
    Without a lock the edit commits in between and the sign-off then marks the slide reviewed
    with a round that lacks the edit: the slide shows an outline nobody signed."""
    first, second = expert(library, "first"), expert(library, "second")
    slide_id, annotation_id = outlined_slide(library, first)
    with meanwhile(  # the sign-off has read what it freezes
        library.db.engine,
        lambda sql: "FROM annotations" in sql,
        lambda: widen(library, slide_id, annotation_id, first),
    ):
        sign(library, slide_id, second)
    status, round_number, widths = state(library, slide_id)
    assert widths == [120.0], "the edit was saved"
    if status == SlideStatus.reviewed:  # the edit came first: it is what was signed
        assert (round_number, _widths(library, slide_id, 1)) == (1, [120.0])
    else:  # the sign-off came first: round 1 as it was, the edit in round 2
        assert (status, round_number, _widths(library, slide_id, 1)) == (SlideStatus.in_review, 2, [80.0])

"""A new analysis of a slide (issue 7) replaces the AI outlines nobody touched and keeps those
an expert corrected (A10), also when the correction is saved at the very moment the analysis
saves, on SQLite and on PostgreSQL: the analysis succeeds, and the expert either sees the
correction kept or is told to reload (409), never loses it silently."""

from __future__ import annotations

import numpy as np
import pytest

from pathodesk.accounts import create_user
from pathodesk.analysis.inference import TileResults
from pathodesk.analysis.results import replace_outlines
from pathodesk.annotations import store
from pathodesk.db.models import Annotation, Role, Slide
from pathodesk.errors import ConflictError, NotFoundError
from tests.storage.library import Library
from tests.support.races import meanwhile
from tests.support.shapes import rectangle

NO_TILES = TileResults([], np.zeros((0, 2), np.float32), ["lung_n", "lung_aca"], 224)


@pytest.fixture
def library(library_on_each_database: Library) -> Library:
    return library_on_each_database


def analysed_slide(library: Library, outlines: int = 2) -> tuple[int, list[int], int]:
    """A slide an analysis outlined; (slide id, its AI outlines' ids, an expert's id)."""
    slide_id = library.slide(library.exam())
    with library.db.session() as session:
        expert = create_user(
            session, account="expert", name="Expert", password="a long passphrase", role=Role.expert
        )
        slide = session.get(Slide, slide_id)
        assert slide is not None
        drafts = [
            store.Draft("lung_aca", rectangle(10 + 80 * i, 10, 60, 40), source="ai") for i in range(outlines)
        ]
        created = store.create_many(session, slide, drafts, None)
        session.commit()
        return slide_id, [a.id for a in created], expert.id


def analyse_again(library: Library, slide_id: int) -> list[int]:
    """What a re-run saves: one new outline; the ids of the outlines it saved."""
    with library.db.session() as session:
        slide = session.get(Slide, slide_id)
        assert slide is not None
        draft = store.Draft("lung_aca", rectangle(30, 100, 50, 50), source="ai", probability=0.9)
        summary = replace_outlines(session, library.settings, slide, [(draft, {})], NO_TILES, {})
        return [region["annotation_id"] for region in summary["regions"]]


def widen(library: Library, annotation_id: int, expert: int) -> str:
    """The expert's correction as the route saves it; "saved" or "conflict" (a 409)."""
    with library.db.session() as session:
        annotation = session.get(Annotation, annotation_id)
        assert annotation is not None
        slide = session.get(Slide, annotation.slide_id)
        assert slide is not None
        try:
            store.update(
                session,
                slide,
                annotation,
                annotation.version,
                {"geometry": rectangle(10, 10, 120, 60)},
                expert,
            )
        except ConflictError:
            return "conflict"
    return "saved"


def live_outlines(library: Library, slide_id: int) -> dict[int, tuple[str, int | None, float]]:
    """Each live outline: source, who edited it, and its width."""
    with library.db.session() as session:
        rows = session.query(Annotation).filter_by(slide_id=slide_id, deleted=False).all()
        return {
            a.id: (a.source, a.edited_by_id, float(np.ptp([p[0] for p in a.geometry["coordinates"][0]])))
            for a in rows
        }


def test_a_new_analysis_replaces_untouched_ai_outlines_and_keeps_corrected_and_restored_ones(
    library: Library,
) -> None:
    slide_id, (corrected, untouched, restored), expert = analysed_slide(library, outlines=3)
    assert widen(library, corrected, expert) == "saved"
    with library.db.session() as session:  # the expert deletes one, then brings it back
        annotation, slide = session.get(Annotation, restored), session.get(Slide, slide_id)
        assert annotation is not None and slide is not None
        store.delete(session, slide, annotation, annotation.version, expert)
        store.restore(session, slide, annotation, 1, expert)
    (new,) = analyse_again(library, slide_id)
    live = live_outlines(library, slide_id)
    assert untouched not in live, "the untouched AI outline was replaced"
    assert live[corrected] == ("ai", expert, 120.0), "the correction is kept, still marked as the AI's"
    assert live[restored] == ("ai", expert, 60.0)
    assert live[new] == ("ai", None, 50.0)


def test_a_correction_saved_while_an_analysis_saves_is_kept(library: Library) -> None:
    """The expert's edit is written, not yet committed, when the re-run starts saving. Without
    the slide's lock the re-run decided on the outline as it was and then failed on its new
    version (the job failed with a conflict; on PostgreSQL the two could deadlock)."""
    slide_id, (outline, _), expert = analysed_slide(library)
    with meanwhile(
        library.db.engine,
        lambda sql: sql.startswith("UPDATE annotations"),
        lambda: analyse_again(library, slide_id),
    ) as rerun:
        assert widen(library, outline, expert) == "saved"
    (new,) = rerun[0]
    assert live_outlines(library, slide_id) == {outline: ("ai", expert, 120.0), new: ("ai", None, 50.0)}


def test_an_edit_of_an_outline_a_saving_analysis_replaces_is_refused_with_a_conflict(
    library: Library,
) -> None:
    """The re-run has chosen the outlines it replaces when the expert saves a correction of one:
    the correction waits, finds the outline replaced and is refused (409, reload), and the
    re-run succeeds. Without the lock the re-run failed instead."""
    slide_id, (outline, other), expert = analysed_slide(library)
    with meanwhile(
        library.db.engine,
        lambda sql: "annotations.edited_by_id IS NULL" in sql,
        lambda: widen(library, outline, expert),
    ) as edit:
        (new,) = analyse_again(library, slide_id)
    assert edit == ["conflict"]
    assert live_outlines(library, slide_id) == {new: ("ai", None, 50.0)}
    assert other != new


def test_an_edit_on_a_slide_deleted_meanwhile_is_not_found(library: Library) -> None:
    """The editor read the outline; the slide is deleted before the edit is saved: a clear 404,
    not a server error from reading a row that is gone."""
    slide_id, (outline, _), expert = analysed_slide(library)
    with library.db.session() as session:
        annotation, slide = session.get(Annotation, outline), session.get(Slide, slide_id)
        assert annotation is not None and slide is not None
        with library.db.session() as other:  # another administrator deletes the slide
            other.delete(other.get(Slide, slide_id))
        with pytest.raises(NotFoundError, match="deleted meanwhile"):
            store.update(session, slide, annotation, annotation.version, {"label": "lung_n"}, expert)

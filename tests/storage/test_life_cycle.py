"""Storage tiers and the slide life cycle (SPEC E3–E5; issue 18, items 1–3): new images saved
to the tier the records give them, the policy moving them as patients leave hospital and age,
discharged patients' generated images dropped, and reading a slide while it moves."""

from __future__ import annotations

import threading
from contextlib import closing
from pathlib import Path

import pytest

from pathodesk.config import Settings
from pathodesk.db.models import MoveState, StorageMove, StorageTier
from pathodesk.lifecycle.schedule import apply_policy, run_moves
from pathodesk.slides import open_slide
from pathodesk.storage import file_sha256, slide_file
from pathodesk.storage.temporary import TemporaryStore, generated_tiles_dir
from tests.storage.library import Library, days_ago

RECENT, MIDDLE, LONG = StorageTier.recent, StorageTier.middle, StorageTier.long_term


@pytest.fixture
def library(settings: Settings) -> Library:
    settings.move_grace_seconds = 0.0
    return Library.open(settings)


def test_new_images_are_saved_on_the_tier_their_patient_belongs_to(library: Library) -> None:
    in_hospital = library.slide(library.exam(admitted=days_ago(3)))
    discharged_lately = library.slide(library.exam(admitted=days_ago(120), discharged=days_ago(100)))
    examined_long_ago = library.slide(library.exam(admitted=days_ago(800), discharged=days_ago(790)))
    outpatient_today = library.slide(library.exam())  # no admission: read in the next days
    outpatient_last_month = library.slide(library.exam(registered=days_ago(30)))
    slides = [in_hospital, discharged_lately, examined_long_ago, outpatient_today, outpatient_last_month]
    assert library.tiers_of(slides) == [RECENT, MIDDLE, LONG, RECENT, MIDDLE]
    for slide_id in slides:
        library.assert_one_good_copy(slide_id)
    # the long-term tier is a folder of its own, not the recent tier's
    long_path = slide_file(library.settings, library.row(examined_long_ago))
    assert long_path.is_relative_to(library.settings.data_dir / "tiers" / "long-term")


def test_the_policy_moves_a_patient_after_discharge_and_a_year_later(library: Library) -> None:
    exam = library.exam(admitted=days_ago(2))
    first, second = library.slide(exam), library.slide(exam)
    staying = library.slide(library.exam(admitted=days_ago(1)))
    assert apply_policy(library.db, library.settings)["misplaced_files"] == 0

    library.discharge(exam, days_ago(1))
    preview = apply_policy(library.db, library.settings, dry_run=True)
    assert preview["misplaced_files"] == 2 and preview["routes"] == {"recent->middle": 2}
    with library.db.session() as session:
        assert session.query(StorageMove).count() == 0, "a dry run plans nothing"
    assert apply_policy(library.db, library.settings)["planned_moves"] == 2
    assert apply_policy(library.db, library.settings)["planned_moves"] == 0, "a move is planned once"
    assert run_moves(library.db, library.settings)["done"] == 2
    assert library.tiers_of([first, second, staying]) == [MIDDLE, MIDDLE, RECENT]
    for slide_id in (first, second, staying):
        library.assert_one_good_copy(slide_id)
    with closing(open_slide(slide_file(library.settings, library.row(first)))) as reader:
        assert reader.read_region((0, 0), 0, (16, 16)).shape == (16, 16, 3)

    library.discharge(exam, days_ago(400), admitted=days_ago(410))  # a year on
    apply_policy(library.db, library.settings)
    run_moves(library.db, library.settings)
    assert library.tiers_of([first, second]) == [LONG, LONG]

    readmitted = library.exam(admitted=days_ago(0), patient=library.patient_code(exam))
    library.slide(readmitted)
    apply_policy(library.db, library.settings)
    run_moves(library.db, library.settings)
    assert library.tiers_of([first, second]) == [RECENT, RECENT], "earlier slides come back to compare"


def test_ages_are_settings(library: Library) -> None:
    exam = library.exam(admitted=days_ago(30), discharged=days_ago(20))
    slide = library.slide(exam)
    assert library.tiers_of([slide]) == [MIDDLE]
    library.settings.recent_days_after_discharge = 30
    apply_policy(library.db, library.settings)
    run_moves(library.db, library.settings)
    assert library.tiers_of([slide]) == [RECENT]
    library.settings.long_term_after_days = 10
    library.settings.recent_days_after_discharge = 0
    apply_policy(library.db, library.settings)
    run_moves(library.db, library.settings)
    assert library.tiers_of([slide]) == [LONG]


def test_discharge_drops_the_patients_generated_images(library: Library) -> None:
    leaving_exam, staying_exam = library.exam(admitted=days_ago(5)), library.exam(admitted=days_ago(5))
    leaving, staying = library.row(library.slide(leaving_exam)), library.row(library.slide(staying_exam))
    store = TemporaryStore(generated_tiles_dir(library.settings), 10**8)
    for slide in (leaving, staying):
        for col in range(3):
            store.put((slide.sha256, 254, 1, 80, 12, col, 0, "gen"), b"jpeg" * 100)
    whole = library.settings.temporary_dir / "slides" / f"{leaving.sha256}-gen.tif"
    whole.parent.mkdir(parents=True)
    whole.write_bytes(b"pyramid" * 100)

    library.discharge(leaving_exam, days_ago(0))
    outcome = apply_policy(library.db, library.settings)
    assert outcome["generated_bytes_dropped"] == 3 * 400 + 700
    assert not whole.exists()
    assert store.get((leaving.sha256, 254, 1, 80, 12, 0, 0, "gen")) is None
    assert store.get((staying.sha256, 254, 1, 80, 12, 0, 0, "gen")) == b"jpeg" * 100


def test_reading_a_slide_while_it_moves_back_and_forth_never_fails(library: Library) -> None:
    """Readers look the slide up and open it again and again, as tiles do, while the file moves
    recent → middle → recent; the old copy outlives the switch by the grace period."""
    library.settings.move_grace_seconds = 0.3
    exam = library.exam(admitted=days_ago(2))
    slide_id = library.slide(exam, side=512)
    reads, failures, moving = [0], [], threading.Event()
    moving.set()

    def read_continuously() -> None:
        while moving.is_set():
            try:
                with closing(open_slide(slide_file(library.settings, library.row(slide_id)))) as reader:
                    reader.read_region((100, 100), 0, (64, 64))
                reads[0] += 1
            except Exception as exc:
                failures.append(repr(exc))

    reader = threading.Thread(target=read_continuously)
    reader.start()
    try:
        for _ in range(3):
            library.discharge(exam, days_ago(1))
            apply_policy(library.db, library.settings)
            assert run_moves(library.db, library.settings)["done"] == 1
            library.discharge(exam, None)
            apply_policy(library.db, library.settings)
            assert run_moves(library.db, library.settings)["done"] == 1
    finally:
        moving.clear()
        reader.join()
    assert failures == [] and reads[0] > 20
    assert library.assert_one_good_copy(slide_id) == RECENT
    with library.db.session() as session:
        assert {m.state for m in session.query(StorageMove)} == {MoveState.done}


def test_a_tier_on_another_disk_is_copied_not_renamed(library: Library, tmp_path: Path) -> None:
    """Tiers are configured places: here the middle tier is a directory outside the data
    directory, as a NAS mount would be."""
    from pathodesk.config import MediumSettings

    nas = tmp_path / "nas"
    library.settings.tiers = {"middle": MediumSettings(url=str(nas))}
    slide_id = library.slide(library.exam(admitted=days_ago(50), discharged=days_ago(40)))
    assert library.assert_one_good_copy(slide_id) == MIDDLE
    kept = nas / library.row(slide_id).path
    assert kept.is_file() and file_sha256(kept) == library.row(slide_id).stored_sha256
    assert library.settings.tier_medium("middle").read_mb_per_s == 150.0  # figures default per tier


def test_the_night_plans_the_moves_and_a_mirror_check_when_due(library: Library, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta, timezone

    from pathodesk.config import MediumSettings
    from pathodesk.db.models import Job
    from pathodesk.lifecycle.nightly import run_night, seconds_until
    from pathodesk.storage.mirror import scrub

    beijing = timezone(timedelta(hours=8))
    assert seconds_until(datetime(2026, 11, 26, 1, 30, tzinfo=beijing), 2) == 30 * 60
    assert seconds_until(datetime(2026, 11, 26, 2, 0, tzinfo=beijing), 2) == 24 * 3600  # just ran: tomorrow

    library.settings.mirror = MediumSettings(url=str(tmp_path / "mirror"))
    exam = library.exam(admitted=days_ago(3))
    library.slide(exam)
    library.discharge(exam, days_ago(1))
    night = run_night(library.db, library.settings)
    assert night["planned_moves"] == 1 and "scrub_job_id" in night, "never checked: due"
    again = run_night(library.db, library.settings)
    assert (again["job_id"], again["scrub_job_id"]) == (night["job_id"], night["scrub_job_id"]), "queued once"
    with library.db.session() as session:
        assert {job.kind for job in session.query(Job)} == {"storage", "mirror-scrub"}
        for job in session.query(Job):
            session.delete(job)
        session.commit()
    scrub(library.db, library.settings)
    assert "scrub_job_id" not in run_night(library.db, library.settings), "checked today: not due"
    later = datetime.now(UTC) + timedelta(days=8)
    assert "scrub_job_id" in run_night(library.db, library.settings, now=later)

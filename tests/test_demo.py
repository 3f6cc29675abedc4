"""What ``make demo`` loads (issue 21, item 2): AI examples that were analysed and signed off
when ../shared/data is there, fitting disease types for the samples, and a clear word when
it is not; loading twice adds nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from pathodesk.accounts import create_user
from pathodesk.analysis.ihc_job import last_ihc_score
from pathodesk.analysis.job_names import IHC_KIND
from pathodesk.cli.common import open_database
from pathodesk.cli.demo import LOW_RESOLUTION_NOTE, MOSAIC_NOTE, load_demo
from pathodesk.config import Settings
from pathodesk.db.models import Annotation, Exam, Job, ResolutionState, ReviewRound, Role, Slide, SlideStatus
from tests.support.paths import SAMPLE_DIR


def demo_settings(tmp_path: Path, shared: Path) -> Settings:
    settings = Settings(data_dir=tmp_path / "data", sample_dir=SAMPLE_DIR, shared_data_dir=shared)
    settings.ensure_dirs()
    with open_database(settings).session() as session:
        create_user(session, account="expert", name="Demo", password="pathodesk-demo-1", role=Role.expert)
    return settings


def slides_by_name(settings: Settings) -> dict[str, tuple[Slide, str]]:
    with open_database(settings).session() as session:
        rows = session.execute(select(Slide, Exam.disease_type).join(Slide.exam)).all()
        session.expunge_all()
        return {slide.original_filename: (slide, disease) for slide, disease in rows}


def test_without_shared_data_it_loads_the_samples_and_says_how_to_add_more(
    tmp_path: Path, samples: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    settings = demo_settings(tmp_path, tmp_path / "no-shared-data")
    load_demo(settings, "expert")
    loaded = slides_by_name(settings)
    assert {name: disease for name, (_, disease) in loaded.items()} == {
        "CMU-1-Small-Region.svs": "skin",
        "CMU-1-Small-Region-2x-pyramid.tiff": "skin",
    }
    said = capsys.readouterr().out
    assert "2 slides loaded" in said and "../shared/data" in said and "pathodesk ingest" in said


@pytest.mark.shared
@pytest.mark.slow
def test_with_shared_data_the_ai_has_found_and_an_expert_signed(
    tmp_path: Path, shared_data: Path, samples: dict[str, Path]
) -> None:
    settings = demo_settings(tmp_path, shared_data)
    load_demo(settings, "expert")
    loaded = slides_by_name(settings)
    lung, lung_type = loaded["lung-demo-mosaic.tiff"]
    thyroid, thyroid_type = loaded["thyroid-demo-mosaic.tiff"]
    assert (lung_type, thyroid_type) == ("lung", "thyroid")
    assert lung.description == thyroid.description == MOSAIC_NOTE  # never mistaken for a patient
    assert lung.status == SlideStatus.reviewed and thyroid.status == SlideStatus.analyzed
    assert loaded["TCGA-XK-AAJU-01A-01-TS1_small_wsi.dcm"][1] == "prostate"
    assert loaded["TCGA-CR-7395-01A-01-TS1.svs"][1] == "head_neck"
    low, low_type = loaded["low-resolution-demo.tiff"]  # E1: the models' held-out patients, kept at 1/8
    assert low_type == "various" and low.description == LOW_RESOLUTION_NOTE
    assert low.resolution_state == ResolutionState.low and low.store_downsample == 8
    assert (low.width, low.height, low.mpp) == (2000, 2000, 0.25)  # the scan's size and pixel
    assert low.stored_bytes is not None and low.stored_bytes < low.byte_size / 20
    with open_database(settings).session() as session:
        found = session.scalars(select(Annotation).where(Annotation.slide_id == lung.id)).all()
        assert [a.label for a in found if a.source == "ai"] == ["lung_aca"]  # the tumour, outlined
        rounds = session.scalars(select(ReviewRound).where(ReviewRound.slide_id == lung.id)).all()
        assert [(r.round, r.verdict.value) for r in rounds] == [(1, "approved")]
        ki67, ki67_type = loaded["OS-2-ndpi.ome.tif"]
        (hot_spot,) = session.scalars(select(Annotation).where(Annotation.slide_id == ki67.id)).all()
        counted = last_ihc_score(session, hot_spot)  # QuPath gives 12 to 21 % on this whole crop
        assert ki67_type == "ki67" and counted is not None and counted["current"]
        assert counted["nuclei"] > 500 and 8 < counted["index_percent"] < 30
    count = len(loaded)
    load_demo(settings, "expert")  # again: nothing doubled, nothing analysed or signed twice
    assert len(slides_by_name(settings)) == count
    with open_database(settings).session() as session:
        assert len(session.scalars(select(ReviewRound)).all()) == 1
        assert len(session.scalars(select(Job).where(Job.kind == IHC_KIND)).all()) == 1

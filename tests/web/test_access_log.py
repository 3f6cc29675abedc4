"""Who opened which patient's records (the access trail beside the trail of changes): pages
and single-record API reads, once per person and record within a quarter of an hour, ids only;
an administrator finds a record's trail from its page."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from pathodesk.config import Settings
from tests.support.accounts import Accounts
from tests.support.http import login
from tests.support.slides import ingest_slide


def trail(client: TestClient, **filters: str) -> list[tuple[str, str, str, str]]:
    events = client.get("/api/v1/audit", params={"action": "open", **filters}).json()
    report = client.get("/api/v1/audit", params={"action": "open-report", **filters}).json()
    return sorted(
        (e["actor_account"], e["action"], e["record_type"], e["record_id"]) for e in events + report
    )


def test_opening_a_patients_records_is_recorded_once_per_person(
    app_client: TestClient, accounts: Accounts, settings: Settings, samples: dict[str, Path]
) -> None:
    slide_id = ingest_slide(settings, samples["svs"], accounts.exam_a_id, accounts.expert_a_id)
    login(app_client, "expert-a")
    exam = app_client.get(f"/api/v1/exams/{accounts.exam_a_id}").json()
    patient_id = exam["patient_id"]
    for _ in range(3):  # reloads, and going back and forth, add no rows
        for path in (
            f"/patients/{patient_id}",
            f"/exams/{accounts.exam_a_id}",
            f"/slides/{slide_id}",
            f"/exams/{accounts.exam_a_id}/report",
            f"/api/v1/patients/{patient_id}",
            f"/api/v1/slides/{slide_id}",
        ):
            assert app_client.get(path).status_code == 200, path
    login(app_client, "expert-b")
    assert app_client.get(f"/patients/{patient_id}").status_code == 404  # not theirs: nothing shown

    login(app_client, "admin")
    a = str(accounts.exam_a_id)
    assert trail(app_client, actor="expert-a") == [
        ("expert-a", "open", "exam", a),
        ("expert-a", "open", "patient", str(patient_id)),
        ("expert-a", "open", "slide", str(slide_id)),
        ("expert-a", "open-report", "exam", a),
    ]
    assert trail(app_client, actor="expert-b") == []
    every = app_client.get("/api/v1/audit", params={"actor": "expert-a", "action": "open"}).json()
    assert all(e["detail"] == {} for e in every)  # ids only: no name, no code

    # the administrator's way in: the patient page links to that record's trail
    page = app_client.get(f"/patients/{patient_id}").text
    link = re.search(r'href="(/admin/audit\?record_type=patient&amp;record_id=\d+)" id="record-trail"', page)
    assert link
    listed = app_client.get(link.group(1).replace("&amp;", "&")).text
    rows = re.findall(r"<tr><td><time.*?</tr>", listed, re.S)
    accounts_listed = {re.findall(r"<td>(.*?)</td>", row)[1] for row in rows}
    assert accounts_listed == {"expert-a", "admin"}  # A and this look; not B, who was refused
    assert all(f'<a href="/patients/{patient_id}">' in row for row in rows)  # each row opens the record

"""The people and cases most tests start from: an administrator, experts A and B, and one
case (patient + exam) owned by each expert."""

from __future__ import annotations

from dataclasses import dataclass

from pathodesk.accounts import create_user
from pathodesk.cases import get_or_create_exam
from pathodesk.config import Settings
from pathodesk.db.models import Role
from pathodesk.db.session import Database, migrate
from tests.support.http import PASSWORD


@dataclass
class Accounts:
    admin_id: int
    expert_a_id: int
    expert_b_id: int
    exam_a_id: int
    exam_b_id: int


def make_accounts(settings: Settings) -> Accounts:
    """An admin, experts A and B, and one case (patient + exam) owned by each expert."""
    url = settings.resolved_database_url()
    migrate(url)
    db = Database(url)
    with db.session() as session:
        admin = create_user(session, account="admin", name="Admin", password=PASSWORD, role=Role.admin)
        a = create_user(session, account="expert-a", name="Expert A", password=PASSWORD, role=Role.expert)
        b = create_user(session, account="expert-b", name="Expert B", password=PASSWORD, role=Role.expert)
        exam_a = get_or_create_exam(
            session, patient_code="P-A", pathology_id="E-A", disease_type="lung", owner_id=a.id
        )
        exam_b = get_or_create_exam(
            session, patient_code="P-B", pathology_id="E-B", disease_type="lung", owner_id=b.id
        )
        ids = Accounts(admin.id, a.id, b.id, exam_a.id, exam_b.id)
    db.dispose()
    return ids

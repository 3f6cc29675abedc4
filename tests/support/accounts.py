"""The people and cases most tests start from: an administrator, experts A and B, and one
case (patient + exam) owned by each expert."""

from __future__ import annotations

import atexit
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pathodesk.accounts import create_user
from pathodesk.cases import get_or_create_exam
from pathodesk.config import Settings
from pathodesk.db.dump import is_sqlite, sqlite_path
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
    """An admin, experts A and B, and one case (patient + exam) owned by each expert.

    A new SQLite database starts as a copy of one made this way once per test process: the
    schema's migrations and three argon2 hashes cost over a second, and 200 tests start here.
    """
    url = settings.resolved_database_url()
    if not is_sqlite(url) or sqlite_path(url).exists():
        return _create_accounts(url)
    template, accounts = _sqlite_template()
    source, copy = sqlite3.connect(sqlite_path(template)), sqlite3.connect(sqlite_path(url))
    try:
        source.backup(copy)
    finally:
        source.close()
        copy.close()
    return accounts


@cache
def _sqlite_template() -> tuple[str, Accounts]:
    folder = Path(tempfile.mkdtemp(prefix="pathodesk-accounts-"))
    atexit.register(shutil.rmtree, folder, True)
    url = Settings(data_dir=folder, database_url=None).resolved_database_url()
    return url, _create_accounts(url)


def _create_accounts(url: str) -> Accounts:
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

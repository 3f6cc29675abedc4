"""Registering models from several processes at once (issue 6, issue 19): servers and workers
started together on one database register each shipped model once, and training runs
registered at the same moment get versions of their own. On SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from sqlalchemy import func, select

from pathodesk.db.models import TrainedModel
from pathodesk.ml.registry import SHIPPED_DIR, register
from tests.storage.library import Library
from tests.support.paths import ROOT


@pytest.fixture
def library(library_on_each_database: Library) -> Library:
    return library_on_each_database


def test_servers_started_together_register_each_shipped_model_once(library: Library) -> None:
    code = (
        "import sys; from pathodesk.config import Settings; from pathodesk.db.session import Database;"
        " from pathodesk.ml.shipped import install_shipped_models;"
        " settings = Settings(data_dir=sys.argv[1], database_url=sys.argv[2] or None);"
        " install_shipped_models(Database(settings.resolved_database_url()), settings)"
    )
    arguments = [str(library.settings.data_dir), library.settings.database_url or ""]
    starts = [
        subprocess.Popen(
            [sys.executable, "-c", code, *arguments], stderr=subprocess.PIPE, cwd=ROOT, env=os.environ
        )
        for _ in range(4)
    ]
    for process in starts:
        _, errors = process.communicate(timeout=180)
        assert process.returncode == 0, errors.decode()[-2000:]
    shipped = [folder for folder in SHIPPED_DIR.glob("*") if (folder / "model.pt").is_file()]
    with library.db.session() as session:
        rows = session.execute(select(TrainedModel.disease_type, TrainedModel.version)).all()
    assert len(rows) == len(shipped), sorted(rows)


def test_two_runs_registered_at_once_get_a_version_each(library: Library) -> None:
    errors: list[BaseException] = []

    def register_lung() -> None:
        try:
            with library.db.session() as session:
                register(session, library.settings, SHIPPED_DIR / "lung", "lung")
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=register_lung) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    with library.db.session() as session:
        versions = sorted(
            session.scalars(select(TrainedModel.version).where(TrainedModel.disease_type == "lung"))
        )
        assert versions == [1, 2, 3]
        assert session.scalar(select(func.count()).select_from(TrainedModel).where(TrainedModel.active)) == 1

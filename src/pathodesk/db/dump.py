"""A consistent copy of the whole database in one file, and that copy put back, with each
engine's own tools: SQLite's online backup API (a snapshot of one moment, taken while servers
keep writing) and PostgreSQL's ``pg_dump`` / ``pg_restore``.

The database holds what people made and cannot scan again: outlines and their revisions,
sign-offs, accounts, the audit trail. The slides' files have their mirror (SPEC E4); this is
the same safety for the rows.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import make_url

from pathodesk.db.session import alembic_config, make_engine, migrate
from pathodesk.errors import StorageUnavailableError, ValidationFailedError

# the line of a pg_restore script after which the schema revision stands alone on a line
ALEMBIC_COPY = re.compile(r"^COPY \S*alembic_version \(version_num\) FROM stdin;$")
# a counter's name as the platform's tables make them (slides, slides_id_seq): nothing to quote
COUNTER_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
SQLITE_SUFFIX = ".sqlite3.gz"
POSTGRES_SUFFIX = ".pgdump"
# every table in PostgreSQL's current schema, dropped before a dump is loaded: a table that a
# later migration made is not in an older dump, and would stop the migrations run after it
DROP_TABLES = """DO $$ DECLARE name text; BEGIN
  FOR name IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema() LOOP
    EXECUTE format('DROP TABLE %I CASCADE', name);
  END LOOP;
END $$;
"""


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def dump_suffix(url: str) -> str:
    return SQLITE_SUFFIX if is_sqlite(url) else POSTGRES_SUFFIX


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise ValidationFailedError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def dump(url: str, target: Path) -> None:
    """Write the database at ``url`` to ``target`` as it is at one moment."""
    if is_sqlite(url):
        _dump_sqlite(sqlite_path(url), target)
    else:
        _run_postgres_tool("pg_dump", url, "--format=custom", f"--file={target}", connect=True)


def _dump_sqlite(database: Path, target: Path) -> None:
    """SQLite's backup API copies a consistent snapshot while other connections write; the copy
    is checked, made a single file (no write-ahead log beside it) and compressed."""
    copy = target.with_name(f"{target.name}.plain")
    source = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    snapshot = sqlite3.connect(copy)
    try:
        source.backup(snapshot)
        snapshot.execute("PRAGMA journal_mode=DELETE")
        _check_sqlite(snapshot)
    finally:
        snapshot.close()
        source.close()
    try:
        with copy.open("rb") as plain, gzip.open(target, "wb", compresslevel=6) as packed:
            shutil.copyfileobj(plain, packed, 4 << 20)
    finally:
        copy.unlink()


def _check_sqlite(connection: sqlite3.Connection) -> None:
    verdict = connection.execute("PRAGMA integrity_check").fetchone()
    if verdict is None or verdict[0] != "ok":
        raise ValidationFailedError("the database copy is damaged (%(verdict)s)", verdict=verdict)


@dataclass(frozen=True)
class Prepared:
    """A backup checked whole and made ready to load: the SQLite file unpacked, or the
    PostgreSQL dump written out as SQL."""

    path: Path
    revision: str


def prepare(url: str, source: Path) -> Prepared:
    """Read the whole backup ``source`` into a loadable file beside it. Refuses a file that is
    not a backup of a PathoDesk database of this engine, is damaged or cut short, or comes
    from a newer PathoDesk than this one; all before anything is changed."""
    prepared = _prepare_sqlite(source) if is_sqlite(url) else _prepare_postgres(url, source)
    known = {script.revision for script in ScriptDirectory.from_config(alembic_config(url)).walk_revisions()}
    if prepared.revision not in known:
        raise ValidationFailedError(
            "the backup is of schema revision %(revision)s, which this PathoDesk does not know:"
            " restore it with the PathoDesk that made it, or a newer one",
            revision=prepared.revision,
        )
    return prepared


def _prepare_sqlite(source: Path) -> Prepared:
    plain = source.with_name(f"{source.name}.sqlite3")
    try:
        with gzip.open(source, "rb") as packed, plain.open("wb") as out:
            shutil.copyfileobj(packed, out, 4 << 20)
    except (gzip.BadGzipFile, EOFError) as exc:  # not gzip, or cut short
        raise ValidationFailedError("not a PathoDesk database backup (%(exc)s)", exc=exc) from None
    except OSError as exc:  # a full disk: the backup may be good
        raise StorageUnavailableError(
            "the backup could not be unpacked: %(reason)s", reason=str(exc)
        ) from exc
    connection = sqlite3.connect(f"file:{plain}?mode=ro", uri=True)
    try:
        _check_sqlite(connection)
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as exc:
        raise ValidationFailedError("not a PathoDesk database backup (%(exc)s)", exc=exc) from None
    finally:
        connection.close()
    if row is None:
        raise ValidationFailedError("not a PathoDesk database backup (no schema revision)")
    return Prepared(plain, str(row[0]))


def _prepare_postgres(url: str, source: Path) -> Prepared:
    """``pg_restore`` writes the whole dump as SQL: a dump cut short fails here, not half-way
    through loading it."""
    script = source.with_name(f"{source.name}.sql")
    _run_postgres_tool(
        "pg_restore",
        url,
        "--clean",
        "--if-exists",
        "--no-owner",
        "--no-privileges",
        f"--file={script}",
        str(source),
    )
    with script.open(encoding="utf-8") as lines:
        for line in lines:
            if ALEMBIC_COPY.match(line):
                return Prepared(script, next(lines).strip())
    raise ValidationFailedError("not a PathoDesk database backup (no schema revision)")


def load(url: str, prepared: Prepared, then: Sequence[str] = ()) -> None:
    """Replace the whole database at ``url`` by a prepared backup, and run the statements
    ``then`` on the restored rows, in one step: readers see the old rows or the restored ones,
    never a mix, and a crash leaves one or the other. Then bring the schema to this
    PathoDesk's newest revision."""
    if is_sqlite(url):
        try:
            _load_sqlite(sqlite_path(url), prepared.path, then)
        except (OSError, sqlite3.Error) as exc:  # rolled back: the database is as it was
            raise StorageUnavailableError(
                "the database was not restored, and is as it was: %(reason)s", reason=str(exc)
            ) from exc
    else:
        with prepared.path.open("a", encoding="utf-8") as script:
            # the script empties search_path; the statements name tables as the platform does
            script.write("\nRESET search_path;\n" + "".join(f"{statement};\n" for statement in then))
        _run_postgres_tool(
            "psql",
            url,
            "--quiet",
            "--no-psqlrc",
            "--single-transaction",
            "--set=ON_ERROR_STOP=1",
            f"--command={DROP_TABLES}",
            f"--file={prepared.path}",
            connect=True,
        )
    migrate(url)


def _load_sqlite(database: Path, plain: Path, then: Sequence[str]) -> None:
    """The statements run on the private copy first; then SQLite's backup API the other way:
    the live file takes the copy's pages in one step, under its write lock, so a server still
    connected waits and then reads the restored rows."""
    with sqlite3.connect(plain) as copy:
        for statement in then:
            copy.execute(statement)
    copy.close()
    backup = sqlite3.connect(f"file:{plain}?mode=ro", uri=True)
    live = sqlite3.connect(database, timeout=30)
    try:
        backup.backup(live)
    finally:
        live.close()
        backup.close()


def id_counters(url: str) -> dict[str, int]:
    """The highest id each counter has handed out: SQLite's AUTOINCREMENT counters, PostgreSQL's
    sequences. Read before a restore, carried past it (``keep_counting``)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT name, seq FROM sqlite_sequence")
                if is_sqlite(url)
                else text(
                    "SELECT sequencename, last_value FROM pg_sequences"
                    " WHERE schemaname = current_schema() AND last_value IS NOT NULL"
                )
            ).all()
    finally:
        engine.dispose()
    return {str(name): int(value) for name, value in rows if COUNTER_NAME.match(str(name))}


def keep_counting(url: str, counters: dict[str, int]) -> list[str]:
    """Statements that move each counter of a restored database up to where ``counters`` had
    it: ids handed out after the backup (a slide, its analysis folder, a link someone kept)
    are never handed out again to something else."""
    statements = []
    for name, value in counters.items():
        if not COUNTER_NAME.match(name):
            continue
        number = int(value)
        if is_sqlite(url):
            statements += [
                f"UPDATE sqlite_sequence SET seq = MAX(seq, {number}) WHERE name = '{name}'",  # noqa: S608 (a checked name, an int)
                f"INSERT INTO sqlite_sequence (name, seq) SELECT '{name}', {number}"  # noqa: S608
                f" WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = '{name}')",
            ]
        else:
            statements.append(f"SELECT setval('{name}', GREATEST({number}, last_value)) FROM {name}")  # noqa: S608
    return statements


def _run_postgres_tool(tool: str, url: str, *arguments: str, connect: bool = False) -> str:
    """Run one of PostgreSQL's client programs, connected to ``url`` when ``connect`` (else it
    only reads or writes a dump file); the password goes by the environment, never on a
    command line other users can list."""
    if shutil.which(tool) is None:
        raise ValidationFailedError(
            "%(tool)s is not installed: install PostgreSQL's client programs (Debian: postgresql-client)",
            tool=tool,
        )
    address = make_url(url)
    conninfo = address.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    environment = {**os.environ, "PGPASSWORD": address.password or os.environ.get("PGPASSWORD", "")}
    command = [tool, *arguments, *([f"--dbname={conninfo}"] if connect else [])]
    finished = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    if finished.returncode != 0:
        lines = finished.stderr.strip().splitlines()
        message = lines[-1] if lines else str(finished.returncode)
        raise ValidationFailedError("%(tool)s failed: %(message)s", tool=tool, message=message)
    return finished.stdout
